"""Where the tablet keeps its files: the home folder, its database and its keys.

`--home DIR`, else `TOWLINE_FIELD_HOME`, else `$XDG_DATA_HOME/towline-field` (by default
`~/.local/share/towline-field`). The folder and the key file are owner-only (0700 and
0600): the device's private key signs every journal entry, and the approval secret checks
managers' codes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DB_NAME = "towline-field.db"
KEYS_NAME = "device-keys.json"


def default_home() -> Path:
    explicit = os.environ.get("TOWLINE_FIELD_HOME")
    if explicit:
        return Path(explicit)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "towline-field"


@dataclass(frozen=True, slots=True)
class Home:
    path: Path

    @property
    def database(self) -> Path:
        return self.path / DB_NAME

    @property
    def keys(self) -> Path:
        return self.path / KEYS_NAME

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)

    def write_keys(self, keys: dict[str, Any]) -> None:
        """Write the key file owner-only from the first byte (no window where it is
        world-readable), durably, and atomically (a crash leaves the old file or the new)."""
        self.create()
        temporary = self.keys.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.keys)
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def read_keys(self) -> dict[str, Any] | None:
        try:
            text = self.keys.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        data = json.loads(text)
        return data if isinstance(data, dict) else None

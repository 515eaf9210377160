"""The archive format: a manifest that lists every file with its hash and size, signed
with the server's Ed25519 key, and the findings a verifier reports about an archive.

An archive (docs/archives.md) is one zip file:

    manifest.json          canonical JSON of `Manifest.payload()`
    manifest.sig           hex Ed25519 signature of SIGNATURE_PREFIX + manifest.json
    keys.json              the public keys that verify the journals
    journals/<chain>.jsonl one line per entry (wire form + `received_at`)
    closings.jsonl         the closings the server journal holds
    documents/…            invoices and credit notes issued in the period

Pure: reading, building and checking bytes; the server writes and opens the zip. The
signature covers a prefix plus the manifest so it can never be mistaken for anything
else the server key signs (journal hashes are bare 32-byte values; docs/journal.md,
"Notes for implementers").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared import signing
from shared.canonical import canonical_json
from shared.closings import Period
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.journal import Head

FORMAT = "towline-archive/1"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
KEYS_FILE = "keys.json"
CLOSINGS_FILE = "closings.jsonl"
JOURNALS_DIR = "journals/"
DOCUMENTS_DIR = "documents/"
SIGNATURE_PREFIX = b"towline:archive:manifest:"

_MANIFEST = Text("Manifeste de l'archive", "Archive manifest")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SAFE = re.compile(r"[A-Za-z0-9._-]")
_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z")
_FIELDS = (
    "format",
    "tenant",
    "period",
    "level",
    "timezone",
    "starts_at",
    "ends_at",
    "created_at",
    "server_public_key",
    "heads",
    "files",
)


# --- file names -----------------------------------------------------------------------------


def safe_name(name: str) -> str:
    """A chain id or document number as a portable file name: every character outside
    A-Z a-z 0-9 . _ - becomes %XX (its UTF-8 bytes), so `server:acme` is `server%3Aacme`
    (a colon cannot appear in a file name on Windows)."""
    out = []
    for char in name:
        if _SAFE.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    text = "".join(out)
    return text if text not in ("", ".", "..") else text.replace(".", "%2E") or "%"


def journal_path(chain: str) -> str:
    return f"{JOURNALS_DIR}{safe_name(chain)}.jsonl"


# --- time -----------------------------------------------------------------------------------


def utc_text(moment: datetime) -> str:
    """An instant as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds: the database's precision)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime: the offset is required")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: object) -> datetime:
    if not isinstance(text, str) or not _AT.fullmatch(text):
        raise ValueError(f"{text!r} is not a UTC instant such as 2026-03-10T09:00:00.000000Z")
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- JSON -----------------------------------------------------------------------------------


def _refuse_float(text: str) -> Any:
    raise ValueError(f"binary float {text} refused")


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def load_json(raw: bytes) -> Any:
    """Bytes of a JSON document, floats and NaN refused (amounts are decimal text)."""
    return json.loads(
        raw.decode("utf-8"), parse_float=_refuse_float, parse_constant=_refuse_constant
    )


# --- the manifest ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    sha256: str
    size: int

    def payload(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


def describe(path: str, data: bytes) -> FileRecord:
    return FileRecord(path, hashlib.sha256(data).hexdigest(), len(data))


@dataclass(frozen=True, slots=True)
class Manifest:
    tenant_id: str
    period: Period
    timezone: str
    created_at: datetime
    server_public_key: str  # hex
    heads: tuple[Head, ...]  # the last entry of every chain in the archive, by chain
    files: tuple[FileRecord, ...]  # every file but the manifest and its signature, by path

    @property
    def starts_at(self) -> datetime:
        return self.period.starts_at(self.timezone)

    @property
    def ends_at(self) -> datetime:
        return self.period.ends_at(self.timezone)

    def payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tenant": self.tenant_id,
            "period": self.period.key,
            "level": self.period.level.value,
            "timezone": self.timezone,
            "starts_at": utc_text(self.starts_at),
            "ends_at": utc_text(self.ends_at),
            "created_at": utc_text(self.created_at),
            "server_public_key": self.server_public_key,
            "heads": [
                {"device_id": h.device_id, "seq": h.seq, "hash": h.hash}
                for h in sorted(self.heads, key=lambda h: h.device_id)
            ],
            "files": [f.payload() for f in sorted(self.files, key=lambda f: f.path)],
        }


def _problem(path: str, fr: str, en: str) -> Problem:
    return Problem(path, Text(fr, en))


def manifest_from_payload(data: object) -> Manifest:
    """Read a manifest, listing every problem at once (InvalidDocument)."""
    if not isinstance(data, Mapping):
        raise InvalidDocument(_MANIFEST, [_problem("", "objet JSON attendu", "object expected")])
    problems: list[Problem] = []
    for name in sorted(str(k) for k in data if k not in _FIELDS):
        problems.append(_problem(name, "champ inconnu", "unknown field"))
    for name in _FIELDS:
        if name not in data:
            problems.append(_problem(name, "champ manquant", "missing field"))
    if problems:
        raise InvalidDocument(_MANIFEST, problems)
    if data["format"] != FORMAT:
        problems.append(
            _problem("format", f"format inconnu, {FORMAT} attendu", f"unknown, {FORMAT} expected")
        )
    for name in ("tenant", "timezone"):
        if not isinstance(data[name], str) or not data[name]:
            problems.append(_problem(name, "texte attendu", "text expected"))
    period: Period | None = None
    try:
        period = Period.parse(str(data["period"]))
        if period.level.value != data["level"]:
            problems.append(_problem("level", "ne correspond pas à la période", "not the period's"))
    except ValueError:
        problems.append(_problem("period", "période illisible", "unreadable period"))
    created: datetime | None = None
    try:
        created = parse_utc(data["created_at"])
    except ValueError:
        problems.append(_problem("created_at", "instant UTC attendu", "UTC instant expected"))
    key = data["server_public_key"]
    if not isinstance(key, str) or not _HEX64.fullmatch(key):
        problems.append(_problem("server_public_key", "64 chiffres hex attendus", "64 hex digits"))
    heads = _heads(data["heads"], problems)
    files = _files(data["files"], problems)
    if problems or period is None or created is None:
        raise InvalidDocument(_MANIFEST, problems)
    manifest = Manifest(
        tenant_id=str(data["tenant"]),
        period=period,
        timezone=str(data["timezone"]),
        created_at=created,
        server_public_key=str(key),
        heads=heads,
        files=files,
    )
    try:
        bounds_ok = (data["starts_at"], data["ends_at"]) == (
            utc_text(manifest.starts_at),
            utc_text(manifest.ends_at),
        )
    except (KeyError, ValueError):  # zoneinfo: an unknown time zone
        raise InvalidDocument(
            _MANIFEST, [_problem("timezone", "fuseau horaire inconnu", "unknown time zone")]
        ) from None
    if not bounds_ok:
        raise InvalidDocument(
            _MANIFEST,
            [_problem("starts_at", "bornes fausses pour la période", "wrong bounds for period")],
        )
    return manifest


def _heads(value: object, problems: list[Problem]) -> tuple[Head, ...]:
    if not isinstance(value, list):
        problems.append(_problem("heads", "liste attendue", "list expected"))
        return ()
    heads = []
    for number, item in enumerate(value):
        ok = (
            isinstance(item, Mapping)
            and set(item) == {"device_id", "seq", "hash"}
            and isinstance(item["device_id"], str)
            and type(item["seq"]) is int
            and isinstance(item["hash"], str)
            and _HEX64.fullmatch(item["hash"]) is not None
        )
        if not ok or not isinstance(item, Mapping):
            problems.append(_problem(f"heads[{number}]", "tête illisible", "unreadable head"))
            continue
        heads.append(Head(item["device_id"], item["seq"], item["hash"]))
    return tuple(heads)


def _files(value: object, problems: list[Problem]) -> tuple[FileRecord, ...]:
    if not isinstance(value, list):
        problems.append(_problem("files", "liste attendue", "list expected"))
        return ()
    files = []
    seen: set[str] = set()
    for number, item in enumerate(value):
        ok = (
            isinstance(item, Mapping)
            and set(item) == {"path", "sha256", "size"}
            and isinstance(item["path"], str)
            and isinstance(item["sha256"], str)
            and _HEX64.fullmatch(item["sha256"]) is not None
            and type(item["size"]) is int
            and item["size"] >= 0
        )
        if not ok or not isinstance(item, Mapping):
            problems.append(_problem(f"files[{number}]", "fichier illisible", "unreadable file"))
            continue
        if item["path"] in seen:
            problems.append(_problem(f"files[{number}]", "fichier en double", "file listed twice"))
        seen.add(item["path"])
        files.append(FileRecord(item["path"], item["sha256"], item["size"]))
    return tuple(files)


def manifest_bytes(manifest: Manifest) -> bytes:
    """What `manifest.json` holds: the manifest's canonical JSON."""
    return canonical_json(manifest.payload())


def signed_message(manifest_data: Mapping[str, Any]) -> bytes:
    """The bytes the server signs: the prefix, then the manifest's canonical JSON."""
    return SIGNATURE_PREFIX + canonical_json(manifest_data)


def sign(manifest: Manifest, key: signing.PrivateKey) -> str:
    """The signature written to `manifest.sig`: 128 lowercase hex digits."""
    return signing.sign(key, signed_message(manifest.payload())).hex()


def signature_valid(
    manifest_data: Mapping[str, Any], signature_hex: str, public_key: signing.PublicKey
) -> bool:
    try:
        signature = bytes.fromhex(signature_hex.strip())
    except ValueError:
        return False
    return signing.verify(public_key, signature, signed_message(manifest_data))


# --- findings -------------------------------------------------------------------------------


_CLOSING_WORDS = {
    "day": ("clôture journalière", "day closing"),
    "month": ("clôture mensuelle", "month closing"),
    "year": ("clôture annuelle", "year closing"),
}


class Kind(StrEnum):
    """What a verifier can find wrong. The chain kinds are those of shared.chain_verifier."""

    ARCHIVE_UNREADABLE = "archive_unreadable"
    MANIFEST_MISSING = "manifest_missing"
    MANIFEST_INVALID = "manifest_invalid"
    SIGNATURE_MISSING = "signature_missing"
    MANIFEST_SIGNATURE = "manifest_signature"  # the manifest is not what the server signed
    UNTRUSTED_KEY = "untrusted_key"  # signed by another key than the one trusted
    FILE_MISSING = "file_missing"
    FILE_EXTRA = "file_extra"
    FILE_HASH = "file_hash"
    FILE_SIZE = "file_size"
    KEYS_INVALID = "keys_invalid"
    UNKNOWN_KEY = "unknown_key"  # a chain whose public key is not known
    LINE_UNREADABLE = "line_unreadable"
    ROW_MISMATCH = "row_mismatch"  # a database row's columns disagree with its signed body
    HEAD_MISMATCH = "head_mismatch"  # a chain does not end where the manifest says
    GAP = "gap"
    FORK = "fork"
    DUPLICATE = "duplicate"
    ALTERED = "altered"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad_signature"
    BROKEN_LINK = "broken_link"
    WRONG_DEVICE = "wrong_device"
    TRUNCATED = "truncated"
    CLOSING_MISSING = "closing_missing"
    CLOSING_UNREADABLE = "closing_unreadable"
    CLOSING_DIFFERS = "closing_differs"  # recomputed from the journals, it is not what is stored
    CLOSING_CHAIN = "closing_chain"  # does not chain to the closing before it
    CLOSINGS_FILE = "closings_file"  # closings.jsonl disagrees with the server journal
    DOCUMENT_MISSING = "document_missing"
    DOCUMENT_DIFFERS = "document_differs"


@dataclass(frozen=True, slots=True)
class Where:
    """Exactly where: a file and line, a chain and entry number, a period, a document."""

    file: str | None = None
    line: int | None = None
    chain: str | None = None
    seq: int | None = None
    period: str | None = None  # a closing's period key, e.g. 2026-03-31
    level: str | None = None  # and its level: day, month, year
    document: str | None = None

    def describe(self, lang: str = "fr") -> str:
        fr = lang != "en"
        parts = []
        if self.file is not None:
            line = ""
            if self.line is not None:
                line = f", ligne {self.line}" if fr else f", line {self.line}"
            parts.append(self.file + line)
        if self.chain is not None:
            seq = ""
            if self.seq is not None:
                seq = f" n° {self.seq}" if fr else f" no. {self.seq}"
            parts.append(("chaîne " if fr else "chain ") + self.chain + seq)
        if self.period is not None:
            fr_word, en_word = _CLOSING_WORDS.get(self.level or "", ("clôture", "closing"))
            parts.append(f"{fr_word if fr else en_word} {self.period}")
        if self.document is not None:
            parts.append("document " + self.document)
        return " — ".join(parts) or "archive"

    def to_wire(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in (
                ("file", self.file),
                ("line", self.line),
                ("chain", self.chain),
                ("seq", self.seq),
                ("period", self.period),
                ("level", self.level),
                ("document", self.document),
            )
            if value is not None
        }


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    where: Where
    text: Text

    def message(self, lang: str = "fr") -> str:
        colon = " :" if lang != "en" else ":"  # French puts a space before the colon
        return f"{self.where.describe(lang)}{colon} {self.text(lang)}"

    def to_wire(self, lang: str = "fr") -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "where": self.where.to_wire(),
            "message": self.text(lang),
        }


def check_files(manifest: Manifest, present: Mapping[str, bytes]) -> list[Finding]:
    """Every file the manifest lists against the archive's files: missing, extra, size, hash."""
    findings = []
    listed = {f.path: f for f in manifest.files}
    for record in sorted(listed.values(), key=lambda f: f.path):
        data = present.get(record.path)
        where = Where(file=record.path)
        if data is None:
            findings.append(
                Finding(
                    Kind.FILE_MISSING,
                    where,
                    Text(
                        "fichier manquant : le manifeste signé le liste, l'archive ne le "
                        "contient pas.",
                        "file missing: the signed manifest lists it, the archive lacks it.",
                    ),
                )
            )
            continue
        if len(data) != record.size:
            findings.append(
                Finding(
                    Kind.FILE_SIZE,
                    where,
                    Text(
                        f"taille {len(data)} octets, le manifeste signé dit {record.size}.",
                        f"size {len(data)} bytes, the signed manifest says {record.size}.",
                    ),
                )
            )
        actual = hashlib.sha256(data).hexdigest()
        if actual != record.sha256:
            findings.append(
                Finding(
                    Kind.FILE_HASH,
                    where,
                    Text(
                        f"contenu modifié : empreinte SHA-256 {actual[:16]}…, le manifeste "
                        f"signé dit {record.sha256[:16]}….",
                        f"content changed: SHA-256 {actual[:16]}…, the signed manifest says "
                        f"{record.sha256[:16]}….",
                    ),
                )
            )
    for path in sorted(set(present) - set(listed) - {MANIFEST_FILE, SIGNATURE_FILE}):
        findings.append(
            Finding(
                Kind.FILE_EXTRA,
                Where(file=path),
                Text(
                    "fichier en trop : le manifeste signé ne le liste pas.",
                    "extra file: the signed manifest does not list it.",
                ),
            )
        )
    return findings

"""What someone holding a tablet's files can do to them, for the tests of the tablet's own
verifier (no tests here): drop the append-only triggers, wipe a table, sign the journal
again with a key of their own, replace the key file or the records kept in `meta`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fieldclient.home import Home
from shared import signing
from sync.protocol import enrolment_message


def sql(home: Path, *statements: str) -> None:
    """Run statements on the tablet's database as a tamperer with the sqlite3 shell would."""
    with sqlite3.connect(Home(home).database) as raw:
        for statement in statements:
            raw.execute(statement)


def set_meta(home: Path, key: str, value: str) -> None:
    with sqlite3.connect(Home(home).database) as raw:
        raw.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE"
            " SET value = excluded.value",
            [key, value],
        )


def swap_key_and_resign(home: Path, seed: bytes) -> signing.PrivateKey:
    """A new key in `device-keys.json`, and every journal signature made again with it
    (hashes and links do not change: a signature is over the hash)."""
    new = signing.private_key_from_bytes(seed)
    with sqlite3.connect(Home(home).database) as raw:
        raw.execute("DROP TRIGGER IF EXISTS journal_no_update")
        for seq, digest in raw.execute("SELECT seq, hash FROM journal").fetchall():
            raw.execute(
                "UPDATE journal SET sig = ? WHERE seq = ?", [signing.sign(new, bytes(digest)), seq]
            )
    keys_path = Home(home).keys
    keys = json.loads(keys_path.read_text("utf-8"))
    keys["private_key"] = signing.private_key_to_bytes(new).hex()
    keys_path.write_text(json.dumps(keys), "utf-8")
    return new


def forge_enrolment(
    home: Path, tenant_id: str, device_id: str, device_key: signing.PrivateKey, seed: bytes
) -> None:
    """Replace the server's key kept on the tablet by one of the tamperer's, and sign an
    enrolment record of their own with it."""
    fake_server = signing.private_key_from_bytes(seed)
    device_hex = signing.public_key_to_bytes(device_key.public_key()).hex()
    signature = signing.sign(fake_server, enrolment_message(tenant_id, device_id, device_hex))
    set_meta(home, "server_public_key", signing.public_key_to_bytes(fake_server.public_key()).hex())
    set_meta(home, "device_public_key", device_hex)
    set_meta(home, "enrolment_signature", signature.hex())

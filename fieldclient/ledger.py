"""The tablet's journal in its database: append a signed entry with its derived rows and
its outbox row, and read entries back.

`append` must run inside `store.write()`: the entry, the rows derived from it (`money`,
`mission_state`) and the outbox row then commit together, so after a crash the database
holds either all of them or none. The derived rows only ever follow the journal; they
can be rebuilt from it (`rebuild_derived`).
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fieldclient.payload_dictionary import PAYLOAD_DICTIONARY_V1
from shared import journal, signing
from shared.canonical import canonical_json, plain
from shared.money import cents, parse_amount

_COLUMNS = "seq, type, at, driver_id, payload, prev_hash, hash, sig"
# Payloads from this size on are stored zlib-compressed with a preset dictionary (a
# valuation is ~3 KB of JSON and shrinks to ~300 bytes): a year of one truck stays small.
# Smaller ones stay readable text.
COMPRESS_FROM = 256


def pack(payload: Mapping[str, Any]) -> str | bytes:
    text = canonical_json(payload)
    if len(text) < COMPRESS_FROM:
        return text.decode("utf-8")
    packer = zlib.compressobj(6, zdict=PAYLOAD_DICTIONARY_V1)
    return packer.compress(text) + packer.flush()


def unpack(stored: str | bytes) -> dict[str, Any]:
    if isinstance(stored, bytes):
        unpacker = zlib.decompressobj(zdict=PAYLOAD_DICTIONARY_V1)
        stored = unpacker.decompress(stored) + unpacker.flush()
    data = json.loads(stored)
    if not isinstance(data, dict):
        raise ValueError("a journal payload is a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class Row:
    """A stored entry, read back: the envelope's fields with the payload parsed."""

    seq: int
    type: str
    at: str
    driver_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    sig: str

    def wire(self, device_id: str) -> dict[str, Any]:
        """The entry as `shared.journal.to_wire` makes it (what the server receives)."""
        return {
            "device_id": device_id,
            "seq": self.seq,
            "type": self.type,
            "at": self.at,
            "driver_id": self.driver_id,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "sig": self.sig,
        }


def _row(values: tuple[Any, ...]) -> Row:
    seq, type_, at, driver_id, payload, prev_hash, hash_, sig = values
    return Row(
        int(seq),
        str(type_),
        str(at),
        driver_id,
        unpack(payload),
        bytes(prev_hash).hex(),
        bytes(hash_).hex(),
        bytes(sig).hex(),
    )


class Ledger:
    """One device's chain in one database."""

    def __init__(
        self, db: sqlite3.Connection, device_id: str, private_key: signing.PrivateKey
    ) -> None:
        self.db = db
        self.device_id = device_id
        self.private_key = private_key

    def head(self) -> journal.Head:
        last = self.db.execute("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:
            return journal.genesis(self.device_id)
        return journal.Head(self.device_id, int(last[0]), bytes(last[1]).hex())

    def append(
        self, type_: str, payload: Mapping[str, Any], *, driver_id: str | None, at: str
    ) -> journal.SignedEntry:
        """Sign the next entry and store it with its derived rows and its outbox row.
        Call inside `store.write(db)`."""
        if not self.db.in_transaction:
            raise RuntimeError("Ledger.append must run inside store.write()")
        signed = journal.append(
            self.head(),
            type=journal.EntryType(type_),
            at=at,
            driver_id=driver_id,
            payload=payload,
            private_key=self.private_key,
        )
        entry = signed.entry
        body = plain(entry.payload)
        mission_id = body.get("mission_id") if isinstance(body.get("mission_id"), str) else None
        self.db.execute(
            f"INSERT INTO journal ({_COLUMNS}, mission_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                entry.seq,
                str(entry.type),
                entry.at,
                entry.driver_id,
                pack(body),
                bytes.fromhex(entry.prev_hash),
                bytes.fromhex(signed.hash),
                bytes.fromhex(signed.sig),
                mission_id,
            ],
        )
        self.db.execute("INSERT INTO outbox (seq) VALUES (?)", [entry.seq])
        derive(self.db, entry.seq, str(entry.type), body, entry.driver_id)
        return signed

    # --- reading ---------------------------------------------------------------------------

    def rows(self, *, after: int = 0, mission_id: str | None = None) -> Iterator[Row]:
        if mission_id is None:
            cursor = self.db.execute(
                f"SELECT {_COLUMNS} FROM journal WHERE seq > ? ORDER BY seq", [after]
            )
        else:
            cursor = self.db.execute(
                f"SELECT {_COLUMNS} FROM journal WHERE mission_id = ? AND seq > ? ORDER BY seq",
                [mission_id, after],
            )
        for values in cursor:
            yield _row(values)

    def rows_of_driver(
        self, driver_id: str, types: tuple[str, ...], *, after: int = 0
    ) -> Iterator[Row]:
        marks = ", ".join("?" for _ in types)
        cursor = self.db.execute(
            f"SELECT {_COLUMNS} FROM journal WHERE driver_id = ? AND type IN ({marks}) "
            "AND seq > ? ORDER BY seq",
            [driver_id, *types, after],
        )
        for values in cursor:
            yield _row(values)

    def money_rows(self, kinds: tuple[str, ...]) -> Iterator[Row]:
        """Entries that move money, of these types, found through the small `money` table."""
        marks = ", ".join("?" for _ in kinds)
        columns = ", ".join("j." + c.strip() for c in _COLUMNS.split(","))
        cursor = self.db.execute(
            f"SELECT {columns} FROM money m JOIN journal j ON j.seq = m.seq"
            f" WHERE m.kind IN ({marks}) ORDER BY m.seq",
            [*kinds],
        )
        for values in cursor:
            yield _row(values)

    def signed(self) -> Iterator[journal.SignedEntry]:
        """Every entry as a `SignedEntry`, for the verifier (shape-checked, not trusted)."""
        for row in self.rows():
            yield journal.from_wire(row.wire(self.device_id))


# --- derived rows ---------------------------------------------------------------------------

MONEY_TYPES = ("collection", "reversal", "discount", "deferral")


def _cents(amount: object) -> int:
    return int(cents(parse_amount(amount)) * 100)


def derive(
    db: sqlite3.Connection,
    seq: int,
    type_: str,
    payload: Mapping[str, Any],
    driver_id: str | None,
) -> None:
    """The rows an entry implies: money movements and the mission's step and valuation."""
    mission_id = payload.get("mission_id")
    if type_ in MONEY_TYPES:
        db.execute(
            "INSERT INTO money (seq, mission_id, kind, method, amount_cents, driver_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [seq, mission_id, type_, payload.get("method"), _cents(payload["amount"]), driver_id],
        )
    elif type_ == "valuation_recorded":
        valuation = payload["valuation"]
        cap = valuation.get("file_cap") or {}
        consumed = cap.get("consumed_by_mission")
        db.execute(
            "INSERT INTO mission_state (mission_id, step, valuation_seq, digest, contract_id,"
            " due_cents, file_cap_consumed_cents) VALUES (?, 'assigned', ?, ?, ?, ?, ?) "
            "ON CONFLICT (mission_id) DO UPDATE SET valuation_seq = excluded.valuation_seq,"
            " digest = excluded.digest, contract_id = excluded.contract_id,"
            " due_cents = excluded.due_cents,"
            " file_cap_consumed_cents = excluded.file_cap_consumed_cents",
            [
                mission_id,
                seq,
                valuation["digest"],
                valuation["contract"]["id"],
                _cents(valuation["payers"]["beneficiary"]["incl_vat"]),
                None if consumed is None else _cents(consumed),
            ],
        )
    elif type_ == "mission_step":
        db.execute(
            "INSERT INTO mission_state (mission_id, step) VALUES (?, ?) "
            "ON CONFLICT (mission_id) DO UPDATE SET step = excluded.step",
            [mission_id, payload["to"]],
        )


def rebuild_derived(db: sqlite3.Connection) -> None:
    """Recompute the derived rows from the journal (after a restore, or to check them)."""
    db.execute("DELETE FROM money")
    db.execute("DELETE FROM mission_state")
    for seq, type_, driver_id, payload in db.execute(
        "SELECT seq, type, driver_id, payload FROM journal ORDER BY seq"
    ).fetchall():
        derive(db, int(seq), str(type_), unpack(payload), driver_id)

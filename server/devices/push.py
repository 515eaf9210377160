"""Receiving a push: one batch of a device's journal, in one transaction (ARCHITECTURE "Push").

`receive` never raises for what a device sent: it returns a `PushResult` and the caller
commits, whatever the status. That is what lets a refused batch leave its trace: a fork
or a broken chain is refused (no entry stored) *and* raised as an anomaly that must
survive the refusal; a revoked device's batch is kept whole in quarantine. An exception
out of `receive` is a bug or a database failure: roll back.

Order of checks: revoked → quarantine; size; every entry's shape (`from_wire`); every
entry of this device, in consecutive device order; starts beyond head + 1 → gap; the
part already stored must match hash for hash (else fork); the new part is verified as a
chain continuing the stored head (every hash and link, the signature of the last entry
and of any entry no authentic successor vouches for), then stored with every signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any, cast

import sqlalchemy as sa

from server.devices import ingest
from server.office.anomalies import open_anomaly
from server.platform.tables import devices, journal_entries, quarantine
from shared import signing
from shared.canonical import canonical_json
from shared.chain_verifier import Finding, FindingKind, SignatureCheck, verify_chain
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.journal import (
    ENTRY_FIELDS,
    Head,
    SignedEntry,
    entry_hash,
    from_wire,
    genesis_hash,
)
from shared.signing import PrivateKey
from sync.protocol import MAX_PUSH_ENTRIES, ErrorCode, PushStatus

_MAX_LISTED = 20  # problems spelled out in a refusal; the anomaly keeps them all
_COLUMN_ID = 64  # driver_id and mission_id columns


@dataclass(frozen=True, slots=True)
class PushResult:
    """What to answer. `status` is None for a refusal, then `code` says why.

    Commit the transaction in every case: a refusal has stored no entry, only what must
    be kept (an anomaly, a quarantined batch).
    """

    status: PushStatus | None
    acknowledged: Head  # the device's head after this batch
    expected_seq: int | None = None  # with a gap
    code: ErrorCode | None = None  # with a refusal
    text: Text | None = None  # for a person; None when all went well
    stored: int = 0  # entries newly stored

    @property
    def http_status(self) -> int:
        if self.status is PushStatus.OK:
            return 200
        if self.status is PushStatus.QUARANTINED:
            return 202
        if self.status in (PushStatus.GAP, PushStatus.FORK):
            return 409
        return _HTTP[self.code] if self.code else 422

    def to_wire(self, lang: str = "fr") -> dict[str, Any]:
        """The response body: a `PushResponse`, or an `Error` for a refusal."""
        message = self.text(lang) if self.text else None
        if self.status is None:
            return {"code": str(self.code), "message": message or ""}
        body: dict[str, Any] = {
            "status": str(self.status),
            "acknowledged": {"seq": self.acknowledged.seq, "hash": self.acknowledged.hash},
        }
        if self.expected_seq is not None:
            body["expected_seq"] = self.expected_seq
        if message:
            body["message"] = message
        return body


_HTTP = {
    ErrorCode.BATCH_TOO_LARGE: 413,
    ErrorCode.WRONG_DEVICE: 403,
    ErrorCode.INVALID_ENTRY: 422,
    ErrorCode.JOURNAL_INVALID: 422,
}


def receive(
    conn: sa.Connection,
    *,
    tenant_id: str,
    device_id: str,
    public_key: bytes,
    entries: Sequence[Mapping[str, Any]],
    revoked: bool,
    now: datetime,
    key: PrivateKey | None = None,
) -> PushResult:
    """Apply one push batch from an authenticated device; see the module docstring.
    `key`, the server's signing key, lets a completed mission be invoiced at once.

    The device's row is locked first (SELECT … FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE
    on SQLite), so a batch sent twice at once is stored once and acknowledged twice.
    """
    head = _lock_head(conn, tenant_id, device_id)
    if revoked:
        return _quarantine(conn, tenant_id, device_id, head, entries, now)
    if len(entries) > MAX_PUSH_ENTRIES:
        return _refusal(
            head,
            ErrorCode.BATCH_TOO_LARGE,
            Text(
                f"Lot trop grand : {len(entries)} entrées, {MAX_PUSH_ENTRIES} au plus.",
                f"Batch too large: {len(entries)} entries, at most {MAX_PUSH_ENTRIES}.",
            ),
        )
    signed, refusal = _read(entries, device_id, head)
    if refusal is not None:
        return refusal
    if not signed:
        return PushResult(PushStatus.OK, head)
    first = signed[0].seq
    if first > head.seq + 1:
        expected = head.seq + 1
        return PushResult(
            PushStatus.GAP,
            head,
            expected_seq=expected,
            text=Text(
                f"Entrées manquantes : le serveur attend le n° {expected}, le lot commence "
                f"au n° {first}. Renvoyez à partir du n° {expected}.",
                f"Entries missing: the server expects no. {expected}, the batch starts at "
                f"no. {first}. Send again from no. {expected}.",
            ),
        )
    known = [s for s in signed if s.seq <= head.seq]
    new = [s for s in signed if s.seq > head.seq]
    outcome = _check_known(conn, tenant_id, device_id, head, known, public_key, now)
    if outcome is not None:
        return outcome
    if not new:
        return PushResult(PushStatus.OK, head)  # a retry: acknowledged again
    device_key = signing.public_key_from_bytes(public_key)
    findings = verify_chain(
        new,
        device_id=device_id,
        public_key=device_key,
        after=head,
        signatures=SignatureCheck.RUN_ENDS,
    )
    if findings:
        return _invalid_chain(conn, tenant_id, device_id, head, new, findings, now)
    _store(conn, tenant_id, new, entries[len(known) :], now)
    new_head = new[-1].head
    conn.execute(
        sa.update(devices)
        .where(devices.c.id == device_id, devices.c.tenant_id == tenant_id)
        .values(head_seq=new_head.seq, head_hash=new_head.hash, last_seen_at=now)
    )
    ingest.entries_stored(
        conn, tenant_id=tenant_id, device_id=device_id, entries=new, now=now, key=key
    )
    return PushResult(PushStatus.OK, new_head, stored=len(new))


def _lock_head(conn: sa.Connection, tenant_id: str, device_id: str) -> Head:
    row = conn.execute(
        sa.select(devices.c.head_seq, devices.c.head_hash)
        .where(devices.c.id == device_id, devices.c.tenant_id == tenant_id)
        .with_for_update()
    ).one_or_none()
    if row is None:  # the caller authenticated this device: not the device's fault
        raise LookupError(f"device {device_id!r} of tenant {tenant_id!r} is not enrolled")
    seq = int(row.head_seq)
    return Head(device_id, seq, row.head_hash if seq else genesis_hash(device_id))


def _refusal(head: Head, code: ErrorCode, text: Text) -> PushResult:
    return PushResult(None, head, code=code, text=text)


def _listed(head: Text, fr: Sequence[str], en: Sequence[str]) -> Text:
    """A heading and the first problems, one a line, in both languages."""

    def lines(title: str, items: Sequence[str]) -> str:
        shown = list(items[:_MAX_LISTED])
        if len(items) > _MAX_LISTED:
            shown.append(f"… (+{len(items) - _MAX_LISTED})")
        return "\n".join([title, *("  " + item for item in shown)])

    return Text(lines(head.fr, fr), lines(head.en, en))


def _read(
    entries: Sequence[Mapping[str, Any]], device_id: str, head: Head
) -> tuple[list[SignedEntry], PushResult | None]:
    """Every entry's shape, owner and place; all shape problems listed at once."""
    signed: list[SignedEntry] = []
    fr: list[str] = []
    en: list[str] = []
    for index, data in enumerate(entries):
        try:
            item = from_wire(data)
        except InvalidDocument as exc:
            for p in exc.problems:
                fr.append(f"[{index}] {p.message('fr')}")
                en.append(f"[{index}] {p.message('en')}")
            continue
        driver = item.entry.driver_id
        if driver is not None and len(driver) > _COLUMN_ID:
            problem = Problem(
                "driver_id",
                Text(
                    f"identifiant de chauffeur trop long ({_COLUMN_ID} au plus)",
                    f"driver id too long (at most {_COLUMN_ID})",
                ),
            )
            fr.append(f"[{index}] {problem.message('fr')}")
            en.append(f"[{index}] {problem.message('en')}")
        signed.append(item)
    if fr:
        text = _listed(Text("Entrées de journal invalides :", "Invalid journal entries:"), fr, en)
        return [], _refusal(head, ErrorCode.INVALID_ENTRY, text)
    others = sorted({s.entry.device_id for s in signed if s.entry.device_id != device_id})
    if others:
        return [], _refusal(
            head,
            ErrorCode.WRONG_DEVICE,
            Text(
                f"Ce lot contient des entrées d'un autre appareil ({', '.join(others)}) : "
                "un appareil n'envoie que son propre journal.",
                f"This batch holds entries of another device ({', '.join(others)}): a "
                "device sends only its own journal.",
            ),
        )
    for before, after in pairwise(signed):
        if after.seq != before.seq + 1:
            return [], _refusal(
                head,
                ErrorCode.INVALID_ENTRY,
                Text(
                    f"Les entrées doivent se suivre dans l'ordre de l'appareil : le n° "
                    f"{after.seq} vient après le n° {before.seq}.",
                    f"Entries must follow each other in device order: no. {after.seq} "
                    f"comes after no. {before.seq}.",
                ),
            )
    return signed, None


def _check_known(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    head: Head,
    known: list[SignedEntry],
    public_key: bytes,
    now: datetime,
) -> PushResult | None:
    """Entries the server already holds: the same hash is a harmless retry, another is a fork."""
    if not known:
        return None
    rows = conn.execute(
        sa.select(journal_entries.c.seq, journal_entries.c.hash).where(
            journal_entries.c.device_id == device_id,
            journal_entries.c.seq.between(known[0].seq, known[-1].seq),
        )
    )
    stored = {int(row.seq): row.hash for row in rows}
    for index, item in enumerate(known):
        computed = entry_hash(item.entry)
        if computed == stored.get(item.seq) and item.hash == computed:
            continue
        if item.hash != computed:  # altered in transit or on the tablet: not even a fork
            finding = Finding(
                FindingKind.ALTERED,
                item.seq,
                index,
                Text(
                    f"L'entrée n° {item.seq} ne correspond pas à son empreinte.",
                    f"Entry no. {item.seq} does not match its hash.",
                ),
            )
            return _invalid_chain(conn, tenant_id, device_id, head, known, (finding,), now)
        return _fork(conn, tenant_id, device_id, head, item, stored.get(item.seq), public_key, now)
    return None


def _fork(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    head: Head,
    item: SignedEntry,
    stored_hash: str | None,
    public_key: bytes,
    now: datetime,
) -> PushResult:
    key = signing.public_key_from_bytes(public_key)
    signed_by_device = signing.verify(key, bytes.fromhex(item.sig), bytes.fromhex(item.hash))
    open_anomaly(
        conn,
        tenant_id=tenant_id,
        kind="journal_fork",
        device_id=device_id,
        driver_id=item.entry.driver_id,
        mission_id=ingest.mission_of(item),
        detail={
            "seq": item.seq,
            "stored_hash": stored_hash,
            "received_hash": item.hash,
            "received_signature_valid": signed_by_device,
            "received_body": item.entry.as_dict(),
            "received_sig": item.sig,
        },
        now=now,
    )
    return PushResult(
        PushStatus.FORK,
        head,
        text=Text(
            f"Refusé : le serveur a déjà reçu une autre entrée n° {item.seq} de cette "
            "tablette. Le journal a été réécrit ou la tablette copiée. Alerte de sécurité "
            "transmise au bureau ; n'effacez rien et appelez le bureau.",
            f"Refused: the server already holds another entry no. {item.seq} from this "
            "tablet. The journal was rewritten or the tablet copied. Security alert sent to "
            "the office; erase nothing and call the office.",
        ),
    )


def _invalid_chain(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    head: Head,
    batch: list[SignedEntry],
    findings: Sequence[Finding],
    now: datetime,
) -> PushResult:
    """Altered entries, bad signatures, broken links: refused, and kept as an anomaly."""
    kinds = sorted({str(f.kind) for f in findings})
    open_anomaly(
        conn,
        tenant_id=tenant_id,
        kind="journal_fork" if "fork" in kinds else "journal_invalid",
        device_id=device_id,
        detail={
            "head": {"seq": head.seq, "hash": head.hash},
            "batch": [batch[0].seq, batch[-1].seq],
            "findings": [
                {"kind": str(f.kind), "seq": f.seq, "fr": f.text.fr, "en": f.text.en}
                for f in findings
            ],
        },
        now=now,
    )
    return _refusal(
        head,
        ErrorCode.JOURNAL_INVALID,
        _listed(
            Text("Lot refusé, rien n'est enregistré :", "Batch refused, nothing stored:"),
            [f.text.fr for f in findings],
            [f.text.en for f in findings],
        ),
    )


def _quarantine(
    conn: sa.Connection,
    tenant_id: str,
    device_id: str,
    head: Head,
    entries: Sequence[Mapping[str, Any]],
    now: datetime,
) -> PushResult:
    """A revoked device's batch: kept whole and unverified, visible as an anomaly."""
    body = json.dumps(list(entries), sort_keys=True, ensure_ascii=False, default=str)
    quarantine_id = conn.execute(
        sa.insert(quarantine)
        .values(
            tenant_id=tenant_id,
            device_id=device_id,
            reason="device_revoked",
            body=body,
            received_at=now,
        )
        .returning(quarantine.c.id)
    ).scalar_one()
    seqs = [e.get("seq") for e in entries if isinstance(e, Mapping)]
    open_anomaly(
        conn,
        tenant_id=tenant_id,
        kind="quarantined_push",
        device_id=device_id,
        detail={
            "quarantine_id": int(quarantine_id),
            "entries": len(entries),
            "seqs": [s for s in seqs if isinstance(s, int) and not isinstance(s, bool)][:1000],
        },
        now=now,
    )
    return PushResult(
        PushStatus.QUARANTINED,
        head,
        text=Text(
            "Cette tablette a été retirée du service : ses envois sont mis de côté au bureau, "
            "rien n'est perdu. Appelez le bureau.",
            "This tablet was taken out of service: what it sends is set aside at the office, "
            "nothing is lost. Call the office.",
        ),
    )


def _store(
    conn: sa.Connection,
    tenant_id: str,
    new: list[SignedEntry],
    wire: Sequence[Mapping[str, Any]],
    now: datetime,
) -> None:
    """Every new entry with its canonical body (the hashed bytes), hash and signature.
    `wire` holds the entries as received, in the same order as `new`."""
    rows = [
        {
            "device_id": s.entry.device_id,
            "seq": s.seq,
            "tenant_id": tenant_id,
            "type": str(s.entry.type),
            "at": s.entry.at,
            "driver_id": s.entry.driver_id,
            "mission_id": ingest.mission_of(s),
            "hash": s.hash,
            "prev_hash": s.entry.prev_hash,
            "sig": s.sig,
            "body": _body(s, data),
            "received_at": now,
        }
        for s, data in zip(new, wire, strict=True)
    ]
    if conn.dialect.name == "postgresql":
        _copy(conn, rows)
    else:
        conn.execute(sa.insert(journal_entries), rows)  # one executemany


def _copy(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows in one COPY, in the connection's open transaction (a batch
    of INSERTs costs about three times as much). COPY bypasses SQLAlchemy's types, so
    each value goes through its column's bind processing first (UTC instants)."""
    columns = list(journal_entries.c.keys())
    processors = [journal_entries.c[name].type.bind_processor(conn.dialect) for name in columns]
    values = [
        [
            row[name] if process is None else process(row[name])
            for name, process in zip(columns, processors, strict=True)
        ]
        for row in rows
    ]
    names = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in columns)
    table = conn.dialect.identifier_preparer.format_table(journal_entries)
    cursor = cast(Any, conn.connection.dbapi_connection).cursor()
    try:
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
    finally:
        cursor.close()


def _body(signed: SignedEntry, data: Mapping[str, Any]) -> str:
    """The canonical JSON of a verified entry: written straight from the received data
    (plain JSON, already checked by `from_wire`) and kept only if it hashes to the entry's
    verified hash, i.e. it is the hashed bytes; otherwise built by `canonical_json`."""
    try:
        text = json.dumps(
            {name: data[name] for name in ENTRY_FIELDS},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
    except (TypeError, ValueError, KeyError):  # not plain JSON data: the general way
        text = None
    if text is not None and hashlib.sha256(text.encode("utf-8")).hexdigest() == signed.hash:
        return text
    return canonical_json(signed.entry.as_dict()).decode("utf-8")

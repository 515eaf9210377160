"""Receiving a push: one batch of a device's journal, in one transaction (ARCHITECTURE "Push").

`receive` never raises for what a device sent: it returns a `PushResult` and the caller
commits, whatever the status. That is what lets a refused batch leave its trace: a fork
or a broken chain is refused (no entry stored) *and* raised as an anomaly that must
survive the refusal; a revoked device's batch is kept in quarantine (`quarantine`). An
exception out of `receive` is a bug or a database failure: roll back.

Order of checks: revoked → quarantine, within bounds; size; every entry's shape
(`from_wire`; a money entry's payload, `shared.money_payloads`); every entry of this
device, in consecutive device order; starts beyond head + 1 → gap; the part already
stored must match hash for hash (else fork) and carry a signature that verifies; the new
part is verified as a chain continuing the stored head, every hash and link and the last
entry's signature (which vouches for the run), then stored, with a job that verifies
every entry's own signature after the commit (`signature_checks`). Then, on what is
stored: who recorded each entry and with what right (`entry_rights`: an unauthorised
entry is held, not derived), its date (`entry_dates`: flagged), and what the office
derives (`ingest`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from server.devices import (
    entry_dates,
    entry_rights,
    ingest,
    journal_store,
    quarantine,
    signature_checks,
)
from server.office.anomalies import open_anomaly
from server.platform.tables import devices, journal_entries
from shared import money_payloads, signing
from shared.chain_verifier import Finding, FindingKind, SignatureCheck, verify_chain
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.journal import Head, SignedEntry, entry_hash, from_wire, genesis_hash
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
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.DEVICE_REVOKED: 403,
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
    head, tablet = _lock_head(conn, tenant_id, device_id)
    if revoked:
        kept = quarantine.keep(
            conn,
            tenant_id=tenant_id,
            device_id=device_id,
            label=tablet.label,
            head=head,
            entries=entries,
            now=now,
        )
        if kept.refused is not None:
            return _refusal(head, kept.refused, kept.text)
        return PushResult(PushStatus.QUARANTINED, head, text=kept.text)
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
    # Every hash and link, and the last signature, which the chain makes vouch for every
    # entry's content: nothing is acknowledged unless the tablet's key signed the run. Each
    # entry's own signature is verified soon after by a job (`signature_checks`), asked for
    # in this transaction (measured costs: docs/sync-protocol.md "Signatures").
    findings = verify_chain(
        new,
        device_id=device_id,
        public_key=device_key,
        after=head,
        signatures=SignatureCheck.RUN_ENDS,
    )
    if findings:
        return _invalid_chain(conn, tenant_id, device_id, head, new, findings, now)
    known_time = entry_dates.known_before(conn, tenant_id, head, tablet.enrolled_at)
    journal_store.store(conn, tenant_id, new, entries[len(known) :], now)
    signature_checks.ask(conn, tenant_id, device_id, new[0].seq, new[-1].seq, now)
    new_head = new[-1].head
    conn.execute(
        sa.update(devices)
        .where(devices.c.id == device_id, devices.c.tenant_id == tenant_id)
        .values(head_seq=new_head.seq, head_hash=new_head.hash, last_seen_at=now)
    )
    held = entry_rights.hold_unauthorised(
        conn, tenant_id=tenant_id, device_id=device_id, label=tablet.label, entries=new, now=now
    )
    entry_dates.flag_dates(
        conn,
        tenant_id=tenant_id,
        device_id=device_id,
        label=tablet.label,
        known=known_time,
        entries=new,
        now=now,
    )
    business = [s for s in new if s.seq not in held]
    if business:
        ingest.entries_stored(
            conn,
            tenant_id=tenant_id,
            device_id=device_id,
            entries=business,
            now=now,
            key=key,
            stored=new,
        )
    return PushResult(PushStatus.OK, new_head, stored=len(new))


@dataclass(frozen=True, slots=True)
class _Tablet:
    label: str
    enrolled_at: datetime


def _lock_head(conn: sa.Connection, tenant_id: str, device_id: str) -> tuple[Head, _Tablet]:
    row = conn.execute(
        sa.select(devices.c.head_seq, devices.c.head_hash, devices.c.label, devices.c.enrolled_at)
        .where(devices.c.id == device_id, devices.c.tenant_id == tenant_id)
        .with_for_update()
    ).one_or_none()
    if row is None:  # the caller authenticated this device: not the device's fault
        raise LookupError(f"device {device_id!r} of tenant {tenant_id!r} is not enrolled")
    seq = int(row.head_seq)
    head = Head(device_id, seq, row.head_hash if seq else genesis_hash(device_id))
    return head, _Tablet(row.label, row.enrolled_at)


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
        # A money entry's payload, for the entries not stored yet: one already stored
        # (sent again after a lost answer) is compared hash for hash below instead.
        found = money_payloads.problems(item.entry) if item.seq > head.seq else []
        driver = item.entry.driver_id
        if driver is not None and len(driver) > _COLUMN_ID:
            found.append(
                Problem(
                    "driver_id",
                    Text(
                        f"identifiant de chauffeur trop long ({_COLUMN_ID} au plus)",
                        f"driver id too long (at most {_COLUMN_ID})",
                    ),
                )
            )
        for problem in found:
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
    """Entries the server already holds: the same hash is a harmless retry, another is a
    fork. A retry whose signature is not the stored one must verify on its own too: the
    stored copy verified, but the answer acknowledges what was sent."""
    if not known:
        return None
    rows = conn.execute(
        sa.select(journal_entries.c.seq, journal_entries.c.hash, journal_entries.c.sig).where(
            journal_entries.c.device_id == device_id,
            journal_entries.c.seq.between(known[0].seq, known[-1].seq),
        )
    )
    stored = {int(row.seq): (row.hash, row.sig) for row in rows}
    device_key = signing.public_key_from_bytes(public_key)
    for index, item in enumerate(known):
        computed = entry_hash(item.entry)
        stored_hash, stored_sig = stored.get(item.seq, (None, None))
        if computed == stored_hash and item.hash == computed:
            if item.sig == stored_sig or _signed(device_key, item):
                continue
            finding = Finding(
                FindingKind.BAD_SIGNATURE,
                item.seq,
                index,
                Text(
                    f"La signature renvoyée pour l'entrée n° {item.seq} est invalide.",
                    f"The signature sent again for entry no. {item.seq} is invalid.",
                ),
            )
            return _invalid_chain(conn, tenant_id, device_id, head, known, (finding,), now)
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
        return _fork(conn, tenant_id, device_id, head, item, stored_hash, public_key, now)
    return None


def _signed(key: signing.PublicKey, item: SignedEntry) -> bool:
    try:
        return signing.verify(key, bytes.fromhex(item.sig), bytes.fromhex(item.hash))
    except ValueError:
        return False


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

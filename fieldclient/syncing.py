"""Enrolment and sync: the only parts of the tablet that need the network.

`sync` opens a session, pushes the outbox (in batches; each acknowledgement empties the
outbox up to it in its own transaction), then pulls: each page of changes is applied and
its cursor stored in one local transaction, so a dropped link resumes exactly where it
stopped, with no loss and no duplicate. Applying office decisions records entries (a
void becomes a `reversal`), so those are pushed straight after the pull.

Before anything is sent, `fieldclient.sync_checks` checks the journal and the enrolment,
opens the session, tells the office what it found (the push's integrity report) and asks
the server's head: entries are pushed from the journal after that head, so a wiped
outbox or a forged acknowledgement hides nothing; a journal that does not verify stops
the sync (exit 4).

Last come the attachments (photos, signatures): after the journal, so that money and
decisions never wait behind megabytes on a weak link, and so that the server already
knows a mission met on the road when its photos arrive. Each one not yet checked by the
server is sent in chunks from what the server holds (`upload`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from itertools import islice
from typing import Any

from fieldclient import (
    attachments,
    cash_limits,
    checked_documents,
    debtors,
    elsewhere,
    holiday_table,
    office_terms,
    receipts,
    site_facts,
    store,
    sync_checks,
)
from fieldclient.ledger import Ledger
from fieldclient.tablet import IntegrityFailure, Tablet, reversal_for
from shared import signing
from shared.balance import fold
from shared.contract_schema import load_contract
from shared.errors import Refused, TowlineError
from shared.i18n import Text
from shared.journal import utc_timestamp
from shared.payments import deferral_payload, discount_payload, event_from_entry
from sync.client import Acknowledged, SyncClient, UploadStatus
from sync.errors import DeviceRevoked, UpdateRequired
from sync.errors import Refused as ServerRefused
from sync.protocol import enrolment_message

Progress = Callable[[str], None]
PUSH_CHUNK = 2000  # entries read from the journal at a time (the client batches by 500)


@dataclass(slots=True)
class SyncReport:
    pushed: int = 0
    acknowledged_seq: int = 0
    changes: int = 0
    decisions: int = 0
    cursor: int = 0
    attachments: int = 0  # attachments the server checked during this sync
    warnings: list[str] = field(default_factory=list)


def new_client(tablet: Tablet, *, lang: str = "fr", **options: Any) -> SyncClient:
    url = tablet.meta("server_url")
    assert url is not None
    return SyncClient(url, device_id=tablet.device_id, lang=lang, **options)


def enroll(
    tablet: Tablet,
    server_url: str,
    code: str,
    *,
    label: str = "",
    client: SyncClient | None = None,
) -> dict[str, Any]:
    """Enrol this tablet with a one-time code from the office."""
    if tablet.enrolled:
        raise Refused(
            f"Cette tablette est déjà enrôlée ({tablet.device_id}). Pour la réenrôler,"
            " utilisez un nouveau dossier (--home).",
            f"This tablet is already enrolled ({tablet.device_id}). To enrol it again,"
            " use a new folder (--home).",
        )
    code = code.strip()
    # The key is kept before the request: if the answer is lost, enrolling again with the
    # same code sends the same key, and the server answers with the same enrolment.
    pending = tablet.home.read_keys() or {}
    if pending.get("pending_code") == code and pending.get("pending_private_key"):
        key = signing.private_key_from_bytes(bytes.fromhex(pending["pending_private_key"]))
    else:
        key = signing.private_key_from_bytes(os.urandom(signing.KEY_SIZE))
        tablet.home.write_keys(
            {
                "pending_code": code,
                "pending_private_key": signing.private_key_to_bytes(key).hex(),
            }
        )
    public_hex = signing.public_key_to_bytes(signing.public_key_of(key)).hex()
    client = client or SyncClient(server_url)
    answer = client.enrol(server_url, code, public_hex, label)
    server_key = signing.public_key_from_bytes(answer.server_public_key)
    message = enrolment_message(answer.tenant_id, answer.device_id, public_hex)
    if not signing.verify(server_key, answer.signature, message):
        raise IntegrityFailure(_UNSIGNED_ENROLMENT.fr, _UNSIGNED_ENROLMENT.en)
    tablet.save_enrolment(
        server_url=server_url.rstrip("/"),
        device_id=answer.device_id,
        tenant_id=answer.tenant_id,
        server_public_key=answer.server_public_key,
        private_key=key,
        approval_key=answer.approval_key,
        drivers=list(answer.drivers),
        label=label,
        enrolment_signature=answer.signature,
    )
    return {
        "device_id": answer.device_id,
        "tenant_id": answer.tenant_id,
        "drivers": [d.get("id") for d in answer.drivers],
    }


def sync(
    tablet: Tablet,
    client: SyncClient,
    *,
    progress: Progress | None = None,
    batch_size: int | None = None,
    page_size: int | None = None,
) -> SyncReport:
    """Push, pull, and push what applying the pulled decisions recorded."""
    say = progress or (lambda _text: None)
    report = SyncReport()
    head = sync_checks.before_push(tablet, client)  # IntegrityFailure: exit 4, nothing sent
    if head is None:  # revoked: what it pushes is quarantined, its pull refused
        push(tablet, client, report, say, batch_size)
        pull(tablet, client, report, say, page_size)
        return report
    push(tablet, client, report, say, batch_size, after=head.seq)
    pull(tablet, client, report, say, page_size)
    if tablet.pending_count():
        push(tablet, client, report, say, batch_size)
    _keep_clock_offset(tablet, client)
    upload(tablet, client, report, say)
    with store.write(tablet.db):  # the driver's screen shows it
        store.set_meta(tablet.db, store.LAST_SYNC_AT, utc_timestamp(tablet.now()))
        holiday_table.refresh(tablet.db)  # the years an updated library names otherwise
    return report


def push(
    tablet: Tablet,
    client: SyncClient,
    report: SyncReport,
    say: Progress,
    batch_size: int | None = None,
    *,
    after: int | None = None,
) -> None:
    """Push the journal's entries after `after` (the server's head; by default the head
    it last acknowledged), read from the journal itself rather than the outbox."""
    ledger = tablet.ledger()
    acked = int(tablet.meta(store.ACKNOWLEDGED_SEQ) or 0)
    done = acked if after is None else after
    if done < acked:
        report.warnings.append(_SERVER_BEHIND(done, acked)(client.lang))
    while True:
        rows = list(islice(ledger.rows(after=done), PUSH_CHUNK))
        if not rows:
            return
        wire = [r.wire(tablet.device_id) for r in rows]

        def acknowledged(
            ack: Acknowledged, first: int = rows[0].seq, size: int = len(rows)
        ) -> None:
            nonlocal done
            with store.write(tablet.db):
                tablet.db.execute("DELETE FROM outbox WHERE seq <= ?", [ack.seq])
                store.set_meta(tablet.db, store.ACKNOWLEDGED_SEQ, str(ack.seq))
                store.set_meta(tablet.db, store.ACKNOWLEDGED_HASH, ack.hash)
            report.pushed += max(ack.seq - done, 0)
            done = max(done, ack.seq)
            report.acknowledged_seq = ack.seq
            say(f"push {min(ack.seq - first + 1, size)}/{size}")

        if batch_size:
            client.push(wire, on_acknowledged=acknowledged, batch_size=batch_size)
        else:
            client.push(wire, on_acknowledged=acknowledged)


def pull(
    tablet: Tablet,
    client: SyncClient,
    report: SyncReport,
    say: Progress,
    page_size: int | None = None,
) -> None:
    cursor = int(tablet.meta("pull_cursor") or 0)

    def on_page(changes: list[dict[str, Any]], next_cursor: int) -> None:
        ledger = tablet.ledger()
        with store.write(tablet.db):
            for change in changes:
                apply_change(tablet, ledger, change, report)
            store.set_meta(tablet.db, "pull_cursor", str(next_cursor))
        report.changes += len(changes)
        report.cursor = next_cursor
        say(f"pull {report.changes} (cursor {next_cursor})")

    report.cursor = client.pull(cursor, on_page, limit=page_size)


def upload(
    tablet: Tablet,
    client: SyncClient,
    report: SyncReport,
    say: Progress,
    *,
    chunk_size: int | None = None,
) -> None:
    """Send every attachment the server has not checked yet, resuming each from the bytes
    the server holds. A refusal about one attachment (its mission unknown to the server,
    too large for it…) becomes a warning and the next one goes; it is tried again at the
    next sync. A link that drops stops the sync (`ServerUnreachable`): what the server
    confirmed is kept, the next sync goes on from there."""
    for item in attachments.pending(tablet.db):
        if not attachments.intact(tablet.db, item):
            report.warnings.append(_NOT_INTACT(item)(client.lang))
            continue
        try:
            _upload_one(tablet, client, item, say, chunk_size)
        except (UpdateRequired, DeviceRevoked):
            raise
        except ServerRefused as refused:
            report.warnings.append(_NOT_SENT(item, refused.message(client.lang))(client.lang))
            continue
        report.attachments += 1


def _upload_one(
    tablet: Tablet,
    client: SyncClient,
    item: attachments.Attachment,
    say: Progress,
    chunk_size: int | None,
) -> None:
    held = item.uploaded

    def progress(state: UploadStatus) -> None:
        nonlocal held
        if state.received != held:  # each count the server confirms is kept at once
            held = state.received
            attachments.record_uploaded(tablet.db, item.id, state.received)
            say(f"upload {item.id} {state.received}/{item.size}")

    def read(offset: int, length: int) -> bytes:
        return attachments.read(tablet.db, item.id, offset, length)

    options = {"chunk_size": chunk_size} if chunk_size else {}
    client.upload_attachment(item.wire(), read, on_progress=progress, **options)


def _NOT_SENT(item: attachments.Attachment, why: str) -> Text:
    return Text(
        f"Pièce jointe {item.id} ({item.kind}, mission {item.mission_id}) non envoyée : {why}"
        " Elle reste sur la tablette.",
        f"Attachment {item.id} ({item.kind}, mission {item.mission_id}) not sent: {why}"
        " It stays on the tablet.",
    )


_UNSIGNED_ENROLMENT = Text(
    "La réponse d'enrôlement ne porte pas une signature valide de la clé du serveur qu'elle"
    " donne : la tablette n'est pas enrôlée. Appelez le bureau.",
    "The enrolment answer does not carry a valid signature of the server key it gives:"
    " the tablet is not enrolled. Call the office.",
)


def _SERVER_BEHIND(held: int, acknowledged: int) -> Text:
    return Text(
        f"Le serveur ne détient les entrées de cette tablette que jusqu'au n° {held} alors"
        f" qu'il avait confirmé jusqu'au n° {acknowledged} : elles sont envoyées de nouveau."
        " Prévenez le bureau.",
        f"The server holds this tablet's entries only up to no. {held} although it had"
        f" confirmed up to no. {acknowledged}: they are sent again. Tell the office.",
    )


def _NOT_INTACT(item: attachments.Attachment) -> Text:
    return Text(
        f"Pièce jointe {item.id} (mission {item.mission_id}) altérée sur la tablette : elle"
        " n'est pas envoyée. Appelez le bureau.",
        f"Attachment {item.id} (mission {item.mission_id}) altered on the tablet: it is not"
        " sent. Call the office.",
    )


def _keep_clock_offset(tablet: Tablet, client: SyncClient) -> None:
    if client.server_date is None:
        return
    offset = (client.server_date.astimezone(UTC) - tablet._clock()).total_seconds()
    with store.write(tablet.db):
        store.set_meta(tablet.db, "clock_offset_seconds", f"{offset:.0f}")


# --- applying the feed -------------------------------------------------------------------------


def apply_change(
    tablet: Tablet, ledger: Ledger, change: Mapping[str, Any], report: SyncReport
) -> None:
    """One change of the pull feed, inside the page's transaction. Kinds this version does
    not know are skipped (a newer server may send more)."""
    kind, entity_id, data = change.get("kind"), str(change.get("id")), change.get("data")
    if kind == "contract":
        _contract(tablet, entity_id, data, report)
    elif kind == "mission":
        _mission(tablet, entity_id, data, report)
    elif kind == "driver":
        if data is None:
            tablet.db.execute("UPDATE drivers SET active = 0 WHERE id = ?", [entity_id])
        else:
            tablet.upsert_driver(data)
    elif kind == "decision" and isinstance(data, Mapping) and apply_decision(tablet, ledger, data):
        report.decisions += 1
    elif kind == "seller":  # the company's identity, printed on receipts
        receipts.keep_seller(tablet.db, data)
    elif kind == elsewhere.KIND:  # money other tablets recorded on a mission
        elsewhere.keep(tablet.db, change, tablet.device_id)
    elif kind == office_terms.KIND:  # a deposit or payment moment set by the office
        office_terms.keep(tablet.db, change)
    elif kind == debtors.KIND:  # what the mission's customer owes; "bill later" or not
        debtors.keep(tablet.db, change)
    elif kind == debtors.SETTING_KIND:  # the tenant's new choice for "bill later"
        debtors.keep_setting(tablet.db, change)
    elif kind == cash_limits.KIND:  # the company's limits on cash collected on site
        cash_limits.keep(tablet.db, data)


def _contract(tablet: Tablet, change_id: str, data: Any, report: SyncReport) -> None:
    contract_id, _, version = change_id.rpartition(":")
    if data is None:
        tablet.db.execute(
            "DELETE FROM contracts WHERE id = ? AND version = ?", [contract_id, int(version)]
        )
        return
    try:
        terms = load_contract(data["document"])
    except (TowlineError, KeyError, TypeError) as exc:
        report.warnings.append(f"contract {change_id} unreadable, skipped: {exc}")
        return
    tablet.db.execute(
        "INSERT INTO contracts (id, version, ordering_party_id, valid_from, valid_until,"
        " document) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id, version) DO UPDATE SET"
        " ordering_party_id = excluded.ordering_party_id, valid_from = excluded.valid_from,"
        " valid_until = excluded.valid_until, document = excluded.document",
        [
            terms.id,
            terms.version,
            terms.ordering_party.id if terms.ordering_party else None,
            terms.valid_from.isoformat(),
            terms.valid_until.isoformat() if terms.valid_until else None,
            json.dumps(data["document"], sort_keys=True, ensure_ascii=False),
        ],
    )
    # What a reading command would otherwise record on its first read, in this transaction:
    # the document passed its schema, and the public holidays of the years around today.
    checked_documents.passed(tablet.db, checked_documents.CONTRACT, data["document"])
    holiday_table.fill(tablet.db, terms, tablet.today())


def _mission(tablet: Tablet, mission_id: str, data: Any, report: SyncReport) -> None:
    if data is None:
        # Reassigned to another driver: gone from this tablet, unless it already holds
        # entries for it (they stay, and so does the mission they are about).
        held = tablet.db.execute(
            "SELECT 1 FROM journal WHERE mission_id = ? LIMIT 1", [mission_id]
        ).fetchone()
        if held:
            tablet.db.execute(
                "UPDATE missions SET office_status = 'reassigned' WHERE id = ?", [mission_id]
            )
        else:
            tablet.db.execute("DELETE FROM missions WHERE id = ?", [mission_id])
        return
    try:
        tablet.store_mission(data, source="office", document=data["document"])
    except (TowlineError, KeyError, TypeError) as exc:
        report.warnings.append(f"mission {mission_id} unreadable, skipped: {exc}")


def apply_decision(tablet: Tablet, ledger: Ledger, data: Mapping[str, Any]) -> bool:
    """Apply one office decision once; returns whether it recorded something new."""
    decision_id = str(data.get("id"))
    if tablet.db.execute("SELECT 1 FROM decisions WHERE id = ?", [decision_id]).fetchone():
        return False
    kind = str(data.get("type"))
    at = tablet._at()
    signed = None
    if kind == "void_collection":
        signed = _void(tablet, ledger, data, at)
    elif kind in ("discount", "deferral"):
        signed = _office_approval(tablet, ledger, data, at)
    elif kind == "site_facts_approval":  # facts kept for the office, approved by it
        signed = site_facts.apply_office_approval(tablet, ledger, data, at, tablet._valued)
    elif kind == "unlock_approvals":
        mission_id = data.get("mission_id")
        if data.get("device_id") == tablet.device_id:
            if mission_id:
                tablet.db.execute(
                    "UPDATE approval_failures SET cleared = 1 WHERE mission_id = ?", [mission_id]
                )
            else:
                tablet.db.execute("UPDATE approval_failures SET cleared = 1")
            signed = ledger.append(
                "office_decision_applied",
                {"decision": decision_id, "type": kind, "mission_id": mission_id},
                driver_id=None,
                at=at,
            )
    tablet.db.execute(
        "INSERT INTO decisions (id, type, seq) VALUES (?, ?, ?)",
        [decision_id, kind, signed.seq if signed else None],
    )
    return signed is not None


def _void(tablet: Tablet, ledger: Ledger, data: Mapping[str, Any], at: str) -> Any:
    collection = data.get("collection") or {}
    if collection.get("device_id") != tablet.device_id:
        return None  # another tablet's collection: that tablet applies it
    row = tablet.db.execute(
        "SELECT mission_id, driver_id, hash FROM journal WHERE seq = ? AND type = 'collection'",
        [int(collection.get("seq", 0))],
    ).fetchone()
    if row is None or bytes(row[2]).hex() != collection.get("hash"):
        return None
    mission_id, driver_id = row[0], row[1]
    money = _money_of(tablet, ledger, mission_id)
    try:
        payload = reversal_for(
            money,
            dict(collection),
            str(data.get("reason") or "annulé par le bureau"),
            str(data["id"]),
        )
    except Refused:
        return None  # already reversed
    return ledger.append("reversal", payload, driver_id=driver_id, at=at)


def _office_approval(tablet: Tablet, ledger: Ledger, data: Mapping[str, Any], at: str) -> Any:
    mission_id = str(data.get("mission_id"))
    money = _money_of(tablet, ledger, mission_id)
    build = discount_payload if data.get("type") == "discount" else deferral_payload
    try:
        payload = build(money, data.get("amount"), f"office:{data['id']}")
    except Refused as refused:
        return ledger.append(
            "office_decision_applied",
            {
                "decision": str(data["id"]),
                "type": str(data.get("type")),
                "mission_id": mission_id,
                "applied": False,
                "reason": refused.message("en"),
            },
            driver_id=data.get("driver_id"),
            at=at,
        )
    return ledger.append(str(data.get("type")), payload, driver_id=data.get("driver_id"), at=at)


def _money_of(tablet: Tablet, ledger: Ledger, mission_id: str) -> Any:
    """The mission's money from the journal, with what was due per its last recorded
    valuation (zero if the tablet never valued it)."""
    due = tablet.db.execute(
        "SELECT due_cents FROM mission_state WHERE mission_id = ?", [mission_id]
    ).fetchone()
    rows = ledger.rows(mission_id=mission_id)
    events = [e for e in (event_from_entry(r.type, r.hash, r.payload) for r in rows) if e]
    return fold(mission_id, Decimal(int(due[0] or 0) if due else 0) / 100, events)

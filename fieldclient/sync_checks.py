"""What a sync checks before it sends anything, and how it tells the office.

1. Before the network: the database, the enrolment the server signed and the chain
   (`fieldclient.integrity.check_before_sync`, the same sentences as `journal verify`).
2. The session: a key the server did not enrol is refused there (`signature_invalid`),
   which means the key file was replaced; the session answer's server key and
   enrolment signature are compared with what the tablet keeps.
3. A push of no entry (`SyncClient.probe`) asks the server's head for this tablet and
   carries every integrity report not yet confirmed: the office is told at the first
   sync that reaches the server, even while the journal stays broken.
4. The server's head must be an entry of this journal, with the same hash.

Anything found: the sync stops with exit 4 and the sentences, after telling the office
when it can. Nothing is pushed or pulled from a journal that does not verify.
"""

from __future__ import annotations

from collections.abc import Sequence

from fieldclient import enrolment_record, integrity_report, store
from fieldclient.integrity import check_before_sync
from fieldclient.integrity_report import Finding
from fieldclient.tablet import IntegrityFailure, Tablet
from shared import signing
from shared.journal import utc_timestamp
from sync.client import Acknowledged, SyncClient
from sync.errors import Refused as ServerRefused
from sync.errors import SyncError, ahead
from sync.protocol import ErrorCode


def before_push(tablet: Tablet, client: SyncClient) -> Acknowledged | None:
    """Steps 1 to 4. Returns the server's head for this tablet (None for a revoked
    tablet: it is not asked); raises IntegrityFailure when anything is wrong, after
    telling the office if the server can be reached."""
    findings = check_before_sync(tablet).items  # no network involved
    if any(f.kind != enrolment_record.MISSING for f in findings):
        remember(tablet, findings)  # kept first: told at the first sync that gets through
        told, refused = False, list[Finding]()
        try:
            refused = open_session(tablet, client)
            if not refused and not client.revoked:  # a revoked tablet's push is quarantined
                _, told = tell_office(tablet, client)
        except SyncError:  # unreachable, refused…: the journal is what the driver must hear
            pass
        raise failure([*findings, *refused], told=told)
    refused = open_session(tablet, client)
    if refused:
        remember(tablet, refused)  # told should the enrolled key come back
        raise failure(refused, told=False)
    findings = against_server(tablet, client, findings)
    remember(tablet, findings)
    if client.revoked:
        if findings:
            raise failure(findings, told=False)
        return None
    head, told = tell_office(tablet, client)
    if not findings:
        findings = against_head(tablet, head)
        if findings:
            remember(tablet, findings)
            _, told = tell_office(tablet, client)
    if findings:
        raise failure(findings, told=told)
    return head


def open_session(tablet: Tablet, client: SyncClient) -> list[Finding]:
    """Step 2a: the session, or the finding that the server did not enrol this key."""
    try:
        client.open_session(tablet.private_key())
    except ServerRefused as refused:
        if refused.code != ErrorCode.SIGNATURE_INVALID:
            raise
        return [Finding("key_not_enrolled", enrolment_record.KEY_NOT_ENROLLED)]
    return []


def against_server(
    tablet: Tablet, client: SyncClient, findings: Sequence[Finding]
) -> list[Finding]:
    """Step 2b: what the session answer said. A missing enrolment record the server has
    just vouched for (a tablet enrolled before signed enrolments) is no longer a problem."""
    said = enrolment_record.against_session(
        tablet.db,
        tablet.tenant_id,
        tablet.device_id,
        signing.public_key_of(tablet.private_key()),
        client.server_public_key,
        client.enrolment_signature,
    )
    healed = tablet.meta(enrolment_record.SIGNATURE) is not None
    kept = [f for f in findings if not (f.kind == enrolment_record.MISSING and healed)]
    return [*kept, *said]


def remember(tablet: Tablet, findings: Sequence[Finding]) -> None:
    if findings:
        with store.write(tablet.db):
            integrity_report.keep(tablet.db, findings, utc_timestamp(tablet.now()))


def tell_office(tablet: Tablet, client: SyncClient) -> tuple[Acknowledged, bool]:
    """Step 3: the server's head, and every report not yet confirmed sent with it.
    Returns the head and whether the server confirmed every report."""
    head: Acknowledged | None = None
    confirmed = True
    for body in integrity_report.pending(tablet.db):
        head, recorded = client.probe(body)
        if recorded is not None and recorded == body["id"]:
            with store.write(tablet.db):
                integrity_report.told(tablet.db, recorded, utc_timestamp(tablet.now()))
        else:
            confirmed = False  # a server that does not record reports yet: sent again
    if head is None:
        head, _ = client.probe()
    return head, confirmed


def against_head(tablet: Tablet, head: Acknowledged) -> list[Finding]:
    """Step 4: the server holds this tablet's entries up to `head`; so must the tablet."""
    if head.seq == 0:
        return []
    row = tablet.db.execute("SELECT hash FROM journal WHERE seq = ?", [head.seq]).fetchone()
    if row is None:
        return [Finding("server_ahead", ahead(head.seq), head.seq)]
    if bytes(row[0]).hex() != head.hash:
        return [Finding("ack_mismatch", ahead(head.seq), head.seq)]
    return []


LISTED = 20  # sentences printed by a sync; `journal verify` prints them all


def failure(findings: Sequence[Finding], *, told: bool) -> IntegrityFailure:
    """Exit 4, with the sentences `journal verify` would print."""
    fr = ["Journal NON vérifié, rien n'est envoyé :", *(f.text.fr for f in findings[:LISTED])]
    en = ["Journal does NOT verify, nothing is sent:", *(f.text.en for f in findings[:LISTED])]
    if len(findings) > LISTED:
        more = len(findings) - LISTED
        fr.append(f"… et {more} autre(s) : towline-field journal verify les liste tous.")
        en.append(f"… and {more} more: towline-field journal verify lists them all.")
    if told:
        fr.append("Le bureau en est informé.")
        en.append("The office has been told.")
    else:
        fr.append(
            "Le bureau en sera informé à la prochaine synchronisation qui atteint le serveur."
        )
        en.append("The office will be told at the next sync that reaches the server.")
    return IntegrityFailure("\n".join(fr), "\n".join(en))

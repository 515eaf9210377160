"""`journal verify`: is what the tablet holds exactly what it recorded?

Five checks, each naming what is wrong and where:
- the SQLite file (`PRAGMA integrity_check`);
- the enrolment the server signed (`fieldclient.enrolment_record`): the key the journal
  is checked against is the one the server enrolled, not whatever the key file holds;
- the chain (`shared.chain_verifier`, every signature): gaps, forks, altered entries, bad
  signatures, and truncation against the head the server last acknowledged;
- the derived rows (`money`, `mission_state`) against a rebuild from the journal;
- the outbox: every entry the server has not acknowledged is waiting to be sent, and
  nothing it acknowledged still is.

A sync runs the first three before it sends anything (`check_before_sync`), with the
chain's fast path (every hash and link, the signatures no authentic successor vouches
for): what it finds is worded exactly as `journal verify` words it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldclient import enrolment_record, store
from fieldclient.integrity_report import Finding
from fieldclient.ledger import rebuild_derived
from fieldclient.tablet import Tablet
from shared import signing
from shared.chain_verifier import SignatureCheck, verify_chain
from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.journal import Head


@dataclass(slots=True)
class Report:
    entries: int = 0
    items: list[Finding] = field(default_factory=list)

    @property
    def findings(self) -> list[Text]:
        return [item.text for item in self.items]

    @property
    def ok(self) -> bool:
        return not self.items

    def problems(self, lang: str) -> list[str]:
        return [f(lang) for f in self.findings]


def _derived(tablet: Tablet) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    money = tablet.db.execute("SELECT * FROM money ORDER BY seq").fetchall()
    state = tablet.db.execute("SELECT * FROM mission_state ORDER BY mission_id").fetchall()
    return money, state


def acknowledged_head(tablet: Tablet) -> Head | None:
    seq = tablet.meta(store.ACKNOWLEDGED_SEQ)
    digest = tablet.meta(store.ACKNOWLEDGED_HASH)
    return Head(tablet.device_id, int(seq), digest) if seq and digest else None


def check_chain(tablet: Tablet, report: Report, signatures: SignatureCheck) -> None:
    """The database file, the enrolment record and the signed chain."""
    for problem in tablet.integrity_problems():
        report.items.append(
            Finding(
                "database",
                Text(f"Base de données abîmée : {problem}", f"Database damaged: {problem}"),
            )
        )
    key_file = signing.public_key_of(tablet.private_key())
    enrolled = enrolment_record.check(tablet.db, tablet.tenant_id, tablet.device_id, key_file)
    report.items.extend(enrolled.findings)
    try:
        entries = list(tablet.ledger().signed())
    except InvalidDocument as exc:
        report.items.append(Finding("unreadable", Text(exc.message("fr"), exc.message("en"))))
        return
    report.entries = len(entries)
    for finding in verify_chain(
        entries,
        device_id=tablet.device_id,
        public_key=enrolled.key,
        acknowledged=acknowledged_head(tablet),
        signatures=signatures,
    ):
        report.items.append(Finding(str(finding.kind), finding.text, finding.seq))


def check_before_sync(tablet: Tablet) -> Report:
    """What a sync checks before it sends anything (the fast path of the chain)."""
    report = Report()
    check_chain(tablet, report, SignatureCheck.RUN_ENDS)
    return report


def verify(tablet: Tablet) -> Report:
    report = Report()
    check_chain(tablet, report, SignatureCheck.EVERY)
    if any(item.kind == "unreadable" for item in report.items):
        return report

    # Rebuild the derived rows inside a transaction that is rolled back: compare, touch nothing.
    before = _derived(tablet)
    tablet.db.execute("BEGIN IMMEDIATE")
    try:
        rebuild_derived(tablet.db)
        after = _derived(tablet)
    finally:
        tablet.db.execute("ROLLBACK")
    for name, held, rebuilt in zip(("money", "mission_state"), before, after, strict=True):
        if held != rebuilt:
            report.items.append(
                Finding(
                    "derived_rows",
                    Text(
                        f"Les lignes dérivées « {name} » ne correspondent plus au journal.",
                        f"The derived rows “{name}” no longer match the journal.",
                    ),
                )
            )
    _check_outbox(tablet, report)
    return report


def _check_outbox(tablet: Tablet, report: Report) -> None:
    acked = int(tablet.meta(store.ACKNOWLEDGED_SEQ) or 0)
    stale = tablet.db.execute("SELECT COUNT(*) FROM outbox WHERE seq <= ?", [acked]).fetchone()[0]
    if stale:
        report.items.append(
            Finding(
                "outbox_stale",
                Text(
                    f"{stale} entrée(s) déjà reçue(s) par le serveur encore en attente d'envoi.",
                    f"{stale} entr(y/ies) the server already acknowledged still waiting to be"
                    " sent.",
                ),
            )
        )
    missing = [
        int(seq)
        for (seq,) in tablet.db.execute(
            "SELECT seq FROM journal WHERE seq > ? AND seq NOT IN (SELECT seq FROM outbox)"
            " ORDER BY seq",
            [acked],
        )
    ]
    if missing:
        first, last = missing[0], missing[-1]
        report.items.append(
            Finding(
                "outbox_missing",
                Text(
                    f"{len(missing)} entrée(s) (n° {first} à {last}) que le serveur n'a pas"
                    " reçues ne sont plus en attente d'envoi (table outbox) : la synchronisation"
                    " les envoie quand même, depuis le journal.",
                    f"{len(missing)} entr(y/ies) (no. {first} to {last}) the server has not"
                    " received are no longer waiting to be sent (table outbox): sync sends"
                    " them anyway, from the journal.",
                ),
                first,
            )
        )


__all__ = ["Report", "acknowledged_head", "check_before_sync", "verify"]

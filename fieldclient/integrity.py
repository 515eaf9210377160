"""`journal verify`: is what the tablet holds exactly what it recorded?

Four checks, each naming what is wrong and where:
- the SQLite file (`PRAGMA integrity_check`);
- the chain (`shared.chain_verifier`, every signature): gaps, forks, altered entries, bad
  signatures, and truncation against the head the server last acknowledged;
- the derived rows (`money`, `mission_state`) against a rebuild from the journal;
- the outbox: only entries the server has not acknowledged yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fieldclient.ledger import rebuild_derived
from fieldclient.tablet import Tablet
from shared import signing
from shared.chain_verifier import verify_chain
from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.journal import Head


@dataclass(slots=True)
class Report:
    entries: int = 0
    findings: list[Text] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def problems(self, lang: str) -> list[str]:
        return [f(lang) for f in self.findings]


def _derived(tablet: Tablet) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    money = tablet.db.execute("SELECT * FROM money ORDER BY seq").fetchall()
    state = tablet.db.execute("SELECT * FROM mission_state ORDER BY mission_id").fetchall()
    return money, state


def verify(tablet: Tablet) -> Report:
    report = Report()
    for problem in tablet.integrity_problems():
        report.findings.append(
            Text(f"Base de données abîmée : {problem}", f"Database damaged: {problem}")
        )
    ledger = tablet.ledger()
    try:
        entries = list(ledger.signed())
    except InvalidDocument as exc:
        report.findings.append(Text(exc.message("fr"), exc.message("en")))
        return report
    report.entries = len(entries)
    public = signing.public_key_of(tablet.private_key())
    acked_seq = tablet.meta("acknowledged_seq")
    acked_hash = tablet.meta("acknowledged_hash")
    acknowledged = (
        Head(tablet.device_id, int(acked_seq), acked_hash) if acked_seq and acked_hash else None
    )
    for finding in verify_chain(
        entries, device_id=tablet.device_id, public_key=public, acknowledged=acknowledged
    ):
        report.findings.append(finding.text)

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
            report.findings.append(
                Text(
                    f"Les lignes dérivées « {name} » ne correspondent plus au journal.",
                    f"The derived rows “{name}” no longer match the journal.",
                )
            )
    stale = tablet.db.execute(
        "SELECT COUNT(*) FROM outbox WHERE seq <= ?", [int(acked_seq or 0)]
    ).fetchone()[0]
    if stale:
        report.findings.append(
            Text(
                f"{stale} entrée(s) déjà reçue(s) par le serveur encore en attente d'envoi.",
                f"{stale} entr(y/ies) the server already acknowledged still waiting to be sent.",
            )
        )
    return report


__all__ = ["Report", "verify"]

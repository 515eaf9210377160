"""The facts a driver finds on site, on the tablet: recorded as one signed `site_facts`
entry, and the mission valued again at once, offline, with the same contract.

What the driver may change alone is the ordering party's rule (its contract's
`site_facts` block). Beyond it, the manager's approval code (kind `site_facts`, for the
mission's total after the facts) lets the facts change the price; without a code the
driver may still record them for the office, and they change nothing until it decides.
The core decides (`shared.site_facts`); this module reads the tablet's entries, keeps
the receipts' photos and records. `Tablet.view` and `Tablet.record_site_facts` call it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fieldclient import checked_documents, store
from fieldclient.ledger import Ledger, unpack
from shared.canonical import plain
from shared.contract import Contract
from shared.errors import Refused, TowlineError
from shared.i18n import Text
from shared.journal import utc_timestamp
from shared.mission import Mission
from shared.money import format_amount, wire
from shared.site_fact_rules import Verdict
from shared.site_facts import (
    Fact,
    OnSite,
    Record,
    fact_wire,
    judge,
    revalue,
    text,
)
from shared.site_facts import on_site as replay
from shared.site_facts_words import figure, name
from shared.valuation import Valuation, ValuationContext
from shared.vehicle_class import conflict

# Recording (approval codes, what the driver typed) is imported when facts are recorded:
# valuing a mission (`show`, `step`) does not need it.
if TYPE_CHECKING:
    from fieldclient.tablet import MissionView, Tablet
    from shared.approvals import Kind
    from shared.site_facts_found import Found, Receipt

    # The tablet's own approval check and its "value and record if changed" step, handed
    # in by `Tablet` (they are its own business: counters, the journal's valuation entries).
    CheckApproval = Callable[[str, Kind, Decimal, str, Decimal], str]
    Revalue = Callable[[Ledger, str, str | None], MissionView]


def records(db: sqlite3.Connection, mission_id: str) -> list[Record]:
    """The mission's `site_facts` entries on this tablet, in journal order."""
    rows = db.execute(
        "SELECT payload, hash FROM journal WHERE mission_id = ? AND type = 'site_facts'"
        " ORDER BY seq",
        [mission_id],
    ).fetchall()
    # Without the schema when the payload passed it before (fieldclient.checked_documents).
    return [checked_documents.site_facts(db, unpack(p), bytes(h).hex()) for p, h in rows]


def valued_on_site(
    db: sqlite3.Connection, order: Mission, contract: Contract, context: ValuationContext
) -> tuple[Mission, Valuation]:
    """The mission as found on site and its valuation (explanation: order against site)."""
    site, valuation = revalue(order, records(db, order.id), contract, context)
    return site.mission, valuation


def receipt(data: bytes) -> Receipt:
    """A receipt's photo as the entry cites it; refused (`BadAttachment`) before anything
    is kept when it is not a picture or a PDF, or too large."""
    from fieldclient import attachments  # only when receipts are kept
    from shared.site_facts_found import Receipt

    return Receipt(hashlib.sha256(data).hexdigest(), attachments.check(data, "receipt"))


class ApprovalNeeded(Refused):
    """Facts beyond what the driver may change alone, with neither a code nor the choice
    to leave them to the office: nothing recorded."""

    code = "approval_needed"

    def __init__(self, party: str, beyond: list[tuple[Fact, Any, Verdict]], total: Decimal):
        self.total = total

        def say(lang: str) -> str:
            listed = [_beyond(fact, said, verdict, lang) for fact, said, verdict in beyond]
            amount = format_amount(total, lang)
            if lang == "fr":
                return (
                    f"Au-delà de ce que {party} vous laisse changer seul : "
                    + " ; ".join(listed)
                    + f". Appelez le gérant : code d'accord « constats sur place » pour {amount}"
                    " (total de la mission après ces constats), puis saisissez-le. Ou"
                    " enregistrez-les pour le bureau : ils ne changeront pas le prix tant que"
                    " le bureau n'a pas décidé."
                )
            return (
                f"Beyond what {party} lets you change alone: "
                + "; ".join(listed)
                + f". Call the manager: an approval code for “site facts” of {amount} (the"
                " mission's total after these facts), then enter it. Or record them for the"
                " office: they will not change the price until the office decides."
            )

        super().__init__(say("fr"), say("en"))


def _beyond(fact: Fact, said: Any, verdict: Verdict, lang: str) -> str:
    """« distance en charge 120 km (ordre : 80 km ; seul : 88 km au plus) »."""
    what = name(fact.fact, fact.key, lang)
    found, order = figure(fact.fact, fact.found, lang), figure(fact.fact, said, lang)
    if verdict.limit is not None:
        limit = figure(fact.fact, text(verdict.limit), lang)
        alone = f"seul : {limit} au plus" if lang == "fr" else f"alone: {limit} at most"
    else:
        alone = "accord du gérant nécessaire" if lang == "fr" else "needs the manager's approval"
    if lang == "fr":
        return f"{what} {found} (ordre : {order} ; {alone})"
    return f"{what} {found} (order: {order}; {alone})"


@dataclass(frozen=True, slots=True)
class FactsRecorded:
    """What `record` did: the entry, the mission on site after it and its new view."""

    seq: int
    hash: str
    payload: Mapping[str, Any]
    site: OnSite
    view: MissionView
    due_before: Decimal | None
    held: tuple[Fact, ...]  # facts of this entry kept for the office, not applied
    warnings: tuple[Text, ...]


def record(
    tablet: Tablet,
    mission_id: str,
    found: Found,
    photos: Mapping[str, bytes],
    *,
    code: str | None,
    for_office: bool,
    check_approval: CheckApproval,
    revalue_and_record: Revalue,
) -> FactsRecorded:
    """Record what the driver found (`photos`: the receipts' bytes by SHA-256)."""
    from shared.approvals import Kind
    from shared.site_facts_found import changes

    driver = tablet.signed_in()
    order = tablet.mission(mission_id)[0]
    contract = tablet.contract_for(order)
    before = tablet.view(mission_id)
    context = ValuationContext(file_consumed=tablet.file_consumed(order, contract.id))
    known = records(tablet.db, mission_id)
    current = revalue(order, known, contract, context)[0].mission
    facts = changes(order, current, found, contract)
    judged = [(fact, *judge(fact, order, contract)) for fact in facts]
    beyond = [(fact, said, verdict) for fact, said, verdict in judged if not verdict.within]
    # Valued as if every fact applied: the price refused is refused now (nothing is
    # recorded), and the amount a manager's code must be given for.
    whole = Record(tuple(facts), "pending" if beyond else None)
    site, valuation = revalue(order, [*known, whole], contract, context)
    approval_ref = None
    if beyond:
        total = valuation.total.incl
        if code:
            approval_ref = check_approval(mission_id, Kind.SITE_FACTS, total, code, total)
            if approval_ref in {r.approval_ref for r in known}:
                raise Refused(
                    "Ce code d'accord a déjà servi : un code ne sert qu'une fois.",
                    "This approval code was already used: a code works once.",
                )
        elif not for_office:
            party = contract.ordering_party.name if contract.ordering_party else contract.id
            raise ApprovalNeeded(party, beyond, total)
    taken = Record(tuple(facts), approval_ref)
    site, valuation = revalue(order, [*known, taken], contract, context)
    warnings = _warnings(site.mission, contract)
    payload = {
        "mission_id": mission_id,
        "contract": {"id": contract.id, "version": contract.version},
        "facts": [fact_wire(fact, verdict) for fact, _, verdict in judged],
        "approval_ref": approval_ref,
        "total": wire(valuation.total.incl),
        "warnings": [{"fr": w.fr, "en": w.en} for w in warnings],
    }
    _keep_receipts(tablet, mission_id, facts, photos)
    ledger = tablet.ledger()
    with store.write(tablet.db):
        if len(records(tablet.db, mission_id)) != len(known):  # another command, meanwhile
            raise Refused(
                "D'autres constats viennent d'être enregistrés sur cette mission : recommencez.",
                "Other facts were just recorded on this mission: try again.",
            )
        signed = ledger.append(
            "site_facts", payload, driver_id=driver.id, at=utc_timestamp(tablet.now())
        )
        # Built here from values already checked (the driver's input parsed, each fact
        # judged against the contract): read back without the schema, which the server
        # applies in full to every entry it receives (docs/field-client.md "Speed").
        checked_documents.passed(tablet.db, checked_documents.SITE_FACTS, signed.entry.payload)
        view = revalue_and_record(ledger, mission_id, driver.id)
    held = tuple(f for f, _, v in beyond if approval_ref is None)
    due_before = before.money.due if before.money is not None else None
    return FactsRecorded(
        signed.seq, signed.hash, plain(payload), site, view, due_before, held, warnings
    )


def _warnings(mission: Mission, contract: Contract) -> tuple[Text, ...]:
    """A class that contradicts the weight, said before the valuation is recorded."""
    found = conflict(mission.vehicle, contract)
    return () if found is None else (found.warning(contract),)


def _keep_receipts(
    tablet: Tablet, mission_id: str, facts: list[Fact], photos: Mapping[str, bytes]
) -> None:
    """The receipts' photos, kept as attachments before the entry that cites them."""
    from fieldclient import attachments  # only when receipts are kept

    for fact in facts:
        for cited in fact.evidence.get("receipts", ()):
            data = photos.get(cited["sha256"])
            if data is None:
                raise Refused(
                    "Photo du justificatif introuvable : reprenez-la.",
                    "The receipt's photo is missing: take it again.",
                )
            attachments.attach(tablet, mission_id, "receipt", data)


def on_site(tablet: Tablet, mission_id: str) -> OnSite | None:
    """The mission's facts, order against site (None: no contract to judge them by)."""
    order = tablet.mission(mission_id)[0]
    try:
        contract = tablet.contract_for(order)
    except TowlineError:
        return None
    return replay(order, records(tablet.db, mission_id), contract)


def apply_office_approval(
    tablet: Tablet, ledger: Ledger, data: Mapping[str, Any], at: str, revalue_and_record: Revalue
) -> Any:
    """The office approved, after the fact, facts this tablet kept for it (decision
    `site_facts_approval`, server.office.fact_approvals): the same facts recorded again,
    approved ("office:<decision id>"), and the mission valued again, inside the caller's
    transaction. None when the entry is not this tablet's, or already approved here."""
    cited = data.get("entry") or {}
    if not isinstance(cited, Mapping) or cited.get("device_id") != tablet.device_id:
        return None
    mission_id = str(data.get("mission_id"))
    approval_ref = f"office:{data['id']}"
    known = records(tablet.db, mission_id)
    held = next((r for r in known if r.ref == cited.get("hash")), None)
    if held is None or approval_ref in {r.approval_ref for r in known}:
        return None
    driver_id = data.get("driver_id")
    try:
        order = tablet.mission(mission_id)[0]
        contract = tablet.contract_for(order)
    except TowlineError as refused:  # said in the journal; the office sees it
        applied: dict[str, Any] = {"decision": str(data["id"]), "type": str(data.get("type"))}
        applied.update(mission_id=mission_id, applied=False, reason=refused.message("en"))
        return ledger.append("office_decision_applied", applied, driver_id=None, at=at)
    context = ValuationContext(file_consumed=tablet.file_consumed(order, contract.id))
    taken = Record(held.facts, approval_ref)
    _, valuation = revalue(order, [*known, taken], contract, context)
    payload = {
        "mission_id": mission_id,
        "contract": {"id": contract.id, "version": contract.version},
        "facts": [fact_wire(fact, judge(fact, order, contract)[1]) for fact in held.facts],
        "approval_ref": approval_ref,
        "total": wire(valuation.total.incl),
        "warnings": [],
    }
    signed = ledger.append("site_facts", payload, driver_id=driver_id, at=at)
    revalue_and_record(ledger, mission_id, driver_id if isinstance(driver_id, str) else None)
    return signed

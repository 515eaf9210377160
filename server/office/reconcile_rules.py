"""What does not add up, mission by mission and register by register: pure rules.

`server.office.reconcile` gathers the facts from the database (the tablets' entries, the
server's own valuation, the office's decisions and issued approval codes, imported card
settlements) and stores what these rules find as anomalies. The rules read no database
and no clock, so each is tested on plain values. Amounts are integer cents.

The catalogue (docs/anomalies.md):

| kind | found when |
|---|---|
| fictitious_collection | money nobody asked for collected where the beneficiary owed nothing |
| over_collection | collected + discounts + deferrals exceed what the server says is due, or |
|  | money the tablet asked for (or taken before an accepted dispute) where nothing is now due |
| under_collection | a completed mission where less than what is due was settled |
| gate_bypassed | a step crossed the collection gate while money remained |
| discount_without_approval | a discount or deferral citing no code the office issued for it |
| approval_reused | one approval code cited by more than one discount or deferral |
| file_cap_exceeded | a file's cap consumed twice by missions valued offline at once |
| register_variance | a register closed with counted cash different from the expected |
| card_unmatched | a card collection no imported terminal settlement line matches |
| card_unsettled | a card collection no settlement file covers, days after it was due |
| dispute_raised | a driver disputed the price (accept and re-value, or refuse) |
| owed_at_end | a mission ended cancelled or gone on arrival with money still owed |
| deferral_to_debtor | a driver's bill-later for a customer who owed, the tenant blocking it |

`collection_method_invalid` (a collection by a method or with evidence the contract or
the rules refuse) is `server.office.reconcile_methods`'; `cash_over_limit` (cash on site
above the tenant's limit) is `server.office.reconcile_cash`'.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.debtor_rule import DebtorFlag, check_deferral
from shared.gate import payment_gated
from shared.i18n import Text
from shared.money import amount_cents, format_amount
from shared.payment_terms import PayWhen
from shared.steps import Step

COMPLETED = frozenset({Step.DELIVERED.value, Step.CLOSED.value})
# Steps that end a mission without the service: nobody to collect from, so never held by
# the gate (docs/collection.md "The gate", rule 3); what remained owed is checked here.
ENDED_UNSERVED = frozenset({Step.CANCELLED.value, Step.GONE_ON_ARRIVAL.value})
# How long a card payment may wait for the terminal's settlement file of its day before
# it is an anomaly of its own (files usually come the next working day).
CARD_SETTLEMENT_DELAY = timedelta(days=3)


# What a void gives the customer, exactly as `server.office.resolutions` does it.
REFUND_FR = (
    "Si aucune facture ne facture le client, un reçu de remboursement est émis ; si une"
    " facture le facture, un avoir est émis pour ce qu'elle facture au-delà du dû, et aucun"
    " document si elle ne facture pas plus (elle redevient à payer pour ce qui est annulé)."
)
REFUND_EN = (
    "If no invoice bills the customer, a refund receipt is issued; if an invoice bills"
    " them, a credit note is issued for what it bills beyond what is due, and no document if"
    " it bills no more (it is due again for what is voided)."
)


@dataclass(frozen=True, slots=True)
class Item:
    """One tablet entry about a mission (or a register), as stored."""

    device_id: str
    seq: int
    type: str
    at: str
    driver_id: str | None
    payload: Mapping[str, Any]
    hash: str
    received_at: datetime | None = None  # the server's receipt; None: being received now

    @property
    def ref(self) -> dict[str, Any]:
        return {"device_id": self.device_id, "seq": self.seq, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    subject: str  # what the anomaly is about, unique per kind: a mission, an entry, a code
    amount_cents: int | None
    text: Text
    mission_id: str | None = None
    device_id: str | None = None
    driver_id: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def detail(self) -> dict[str, Any]:
        return {"fr": self.text.fr, "en": self.text.en, **self.evidence}


@dataclass(frozen=True, slots=True)
class MissionFacts:
    mission_id: str
    office_status: str | None
    due_cents: int | None  # the server's own valuation: what the beneficiary owes incl. VAT
    device_due_cents: int | None  # what the tablet's own (latest) valuation said
    pays: PayWhen | None  # the contract's payment preference (which step the gate guards)
    items: tuple[Item, ...]  # the mission's entries from every tablet, in device order
    voided: frozenset[str] = frozenset()  # collections (entry hashes) the office voided
    # Approvals the office gave: (device_id, approval_ref, kind, amount_cents); office
    # decisions are cited as ("*", "office:<id>", kind, amount_cents).
    approvals: frozenset[tuple[str, str, str, int]] = frozenset()
    file_cap_gap_cents: int = 0  # what the server's due exceeds the tablet's by, per file cap
    # The payment methods the contract version of the server's valuation accepts (None:
    # not known), and that version as "id v<version>", for the method check.
    methods: frozenset[str] | None = None
    contract: str | None = None
    # Per driver's deferral ("device:seq"): what the customer owed then on other invoices
    # and the tenant's "bill later" choice then (server.office.debtor_deferral).
    debtors: Mapping[str, tuple[DebtorFlag, str]] = field(default_factory=dict)
    # The tenant's limit on cash collected on site per mission, in cents (None: not
    # checked), for `server.office.reconcile_cash`.
    cash_limit_cents: int | None = None


cents = amount_cents  # an amount of the wire, in integer cents


def _euros(value: int, lang: str) -> str:
    return format_amount(Decimal(value) / 100, lang)


def _t(fr: str, en: str, *amounts: int) -> Text:
    """A sentence with `{0}`, `{1}`… for amounts, formatted in each language."""
    return Text(
        fr.format(*(_euros(a, "fr") for a in amounts)),
        en.format(*(_euros(a, "en") for a in amounts)),
    )


@dataclass
class _Money:
    collected: int = 0
    discounted: int = 0
    deferred: int = 0
    collections: list[Item] = field(default_factory=list)

    @property
    def settled(self) -> int:
        return self.collected + self.discounted + self.deferred


def _money(facts: MissionFacts) -> _Money:
    """Net of reversals: a collection counts unless a reversal entry or an office void
    names it (the two are the same decision, counted once)."""
    reversed_refs = set(facts.voided)
    for item in facts.items:
        if item.type == "reversal":
            reverses = item.payload.get("reverses")
            if isinstance(reverses, Mapping) and isinstance(reverses.get("hash"), str):
                reversed_refs.add(reverses["hash"])
    money = _Money()
    for item in facts.items:
        if item.type == "collection" and item.hash not in reversed_refs:
            money.collected += cents(item.payload["amount"])
            money.collections.append(item)
        elif item.type == "discount":
            money.discounted += cents(item.payload["amount"])
        elif item.type == "deferral":
            money.deferred += cents(item.payload["amount"])
    return money


def standing_collections(facts: MissionFacts) -> list[Item]:
    """The mission's collections that no reversal or office void takes back."""
    return _money(facts).collections


def mission_findings(facts: MissionFacts) -> list[Finding]:
    """Every anomaly of one mission, given the server's own figures."""
    found: list[Finding] = []
    mid = facts.mission_id
    money = _money(facts)
    first_driver = next((i.driver_id for i in facts.items if i.driver_id), None)
    first_device = next((i.device_id for i in facts.items), None)

    def add(kind: str, subject: str, amount: int | None, text: Text, **evidence: Any) -> None:
        found.append(
            Finding(kind, subject, amount, text, mid, first_device, first_driver, evidence)
        )

    found.extend(_approval_findings(facts))
    found.extend(_debtor_findings(facts))
    due = facts.due_cents
    if due is not None:
        collections = [i.ref for i in money.collections]
        disputed = any(i.type == "dispute" for i in facts.items)
        # Money the tablet asked for (its own valuation said something was due) or taken
        # before a dispute lowered the price is a real payment to give back, not a
        # fictitious one: only a collection nobody asked for is fictitious.
        asked = disputed or (facts.device_due_cents or 0) > 0
        if due == 0 and money.collected > 0 and not asked:
            add(
                "fictitious_collection",
                mid,
                money.collected,
                _t(
                    "Encaissement fictif : {0} encaissé alors que le bénéficiaire ne devait rien."
                    " Annulez l'encaissement. " + REFUND_FR,
                    "Fictitious collection: {0} collected although the beneficiary owed"
                    " nothing. Void the collection. " + REFUND_EN,
                    money.collected,
                ),
                collections=collections,
            )
        elif money.settled > due and (due > 0 or (asked and money.collected > 0)):
            excess = money.settled - due
            text = _t(
                "Trop-perçu à rembourser : {0} réglés pour {1} dus, soit {2} de trop.",
                "Over-collection to refund: {0} settled for {1} due, {2} too much.",
                money.settled,
                due,
                excess,
            )
            if disputed:
                text = _t(
                    "Trop-perçu à rembourser : la contestation a été acceptée et le prix est"
                    " passé à {1} ; {0} avaient déjà été réglés, soit {2} à rendre au client.",
                    "Over-collection to refund: the dispute was accepted and the price fell to"
                    " {1}; {0} had already been settled, {2} to give back to the customer.",
                    money.settled,
                    due,
                    excess,
                )
            add(
                "over_collection",
                mid,
                excess,
                Text(
                    text.fr + " Remboursez en annulant le dernier encaissement. " + REFUND_FR,
                    text.en + " Refund it by voiding the last collection. " + REFUND_EN,
                ),
                collections=collections,
                due=due,
            )
        bypass = _gate_bypass(facts)
        if bypass is not None:
            step, remaining = bypass
            add(
                "gate_bypassed",
                mid,
                remaining,
                _t(
                    "Mission passée à l'étape « "
                    + step.payload["to"]
                    + " » alors qu'il restait {0} à encaisser.",
                    "Mission moved to step “"
                    + step.payload["to"]
                    + "” while {0} remained to collect.",
                    remaining,
                ),
                step=step.ref,
            )
        elif (ended := _ended_unserved(facts)) is not None:
            owed = due - money.settled
            if owed > 0:
                add("owed_at_end", mid, owed, _owed_at_end(ended, owed), step=ended.ref, due=due)
        elif _completed(facts) and money.settled < due:
            short = due - money.settled
            if facts.file_cap_gap_cents and short <= facts.file_cap_gap_cents:
                add(
                    "file_cap_exceeded",
                    mid,
                    short,
                    _t(
                        "Plafond du dossier dépassé : des missions du même dossier ont été"
                        " valorisées hors ligne en même temps ; le donneur d'ordre ne prend"
                        " pas en charge {0}. Facturez-les au bénéficiaire.",
                        "File cap exceeded: missions of the same file were valued offline at"
                        " once; the ordering party does not cover {0}. Invoice the"
                        " beneficiary for it.",
                        short,
                    ),
                    # What the tablet's valuation asked less than the server's: the
                    # valuation mismatch this overrun explains (anomalies.links).
                    valuation_gap=facts.file_cap_gap_cents,
                )
            else:
                add(
                    "under_collection",
                    mid,
                    short,
                    _t(
                        "Sous-encaissement : {0} réglés pour {1} dus, il manque {2}.",
                        "Under-collection: {0} settled for {1} due, {2} missing.",
                        money.settled,
                        due,
                        short,
                    ),
                    due=due,
                )
    elif (ended := _ended_unserved(facts)) is not None:
        # Not valued by the server (no valuation reached it): the step's own figure.
        owed = _told(ended) or 0
        if owed > 0:
            add("owed_at_end", mid, owed, _owed_at_end(ended, owed), step=ended.ref)
    for item in facts.items:
        if item.type == "dispute":
            reason = str(item.payload.get("reason", ""))
            add(
                "dispute_raised",
                f"{item.device_id}:{item.seq}",
                None,
                Text(
                    f"Le chauffeur conteste le prix : « {reason} ». Acceptez (revalorisation"
                    " avec la convention corrigée) ou refusez.",
                    f"The driver disputes the price: “{reason}”. Accept (re-value with the"
                    " corrected contract) or refuse.",
                ),
                entry=item.ref,
            )
    return found


def _ended_unserved(facts: MissionFacts) -> Item | None:
    """The step that ended the mission cancelled or gone on arrival, if one did."""
    return next(
        (
            i
            for i in facts.items
            if i.type == "mission_step" and i.payload.get("to") in ENDED_UNSERVED
        ),
        None,
    )


def _told(step: Item) -> int | None:
    """What a step records as remaining, in cents (None: it records nothing readable)."""
    told = step.payload.get("remaining")
    try:
        return cents(told) if isinstance(told, str) else None
    except ValueError:
        return None


def _owed_at_end(step: Item, owed: int) -> Text:
    """Money left owed by a mission ended cancelled or gone on arrival; the step's own
    `remaining` (what the tablet saw) is quoted when it records one."""
    to = Step(str(step.payload["to"]))
    seen = _told(step)
    fr = "annulée" if to is Step.CANCELLED else "« personne sur place à l'arrivée »"
    en = "cancelled" if to is Step.CANCELLED else "“gone on arrival”"
    text = _t(
        f"Mission terminée {fr} avec {{0}} encore dû par le bénéficiaire.",
        f"Mission ended {en} with {{0}} still owed by the beneficiary.",
        owed,
    )
    if seen is not None:
        noted = _t(
            " La tablette notait {0} restant à l'étape.",
            " The tablet noted {0} remaining at that step.",
            seen,
        )
        text = Text(text.fr + noted.fr, text.en + noted.en)
    return Text(
        text.fr + " Facturez-le plus tard au bénéficiaire, accordez une remise, ou acceptez"
        " en l'état (rien ne sera réclamé).",
        text.en + " Bill the beneficiary for it later, grant a discount, or accept it as is"
        " (nothing will be claimed).",
    )


def _completed(facts: MissionFacts) -> bool:
    return any(i.type == "mission_step" and i.payload.get("to") in COMPLETED for i in facts.items)


def _gate_bypass(facts: MissionFacts) -> tuple[Item, int] | None:
    """The first step that crossed the gate while, by the tablet's own figures at that
    point of its chain, money remained: the gate was not honoured (a tablet that valued
    lower than the server honoured its gate; that is under-collection, not this)."""
    if facts.pays is None:
        return None
    settled = 0  # as the tablet saw it when it moved on (a later void does not count)
    for item in facts.items:
        if item.type in ("collection", "discount", "deferral"):
            settled += cents(item.payload["amount"])
        elif item.type == "mission_step":
            try:
                current, target = Step(item.payload["from"]), Step(item.payload["to"])
            except (KeyError, ValueError):
                continue
            if not payment_gated(facts.pays, current, target):
                continue
            claimed = item.payload.get("remaining")
            told = cents(claimed) if isinstance(claimed, str) else 0
            owed = 0 if facts.device_due_cents is None else facts.device_due_cents - settled
            if told > 0 or owed > 0:
                return item, max(told, owed)
    return None


def _debtor_findings(facts: MissionFacts) -> list[Finding]:
    """A deferral recorded for a customer who owed money while the tenant blocked it (a
    tablet that did not know: offline, or pulled before the debt): the same rule as the
    tablet's and the phone call's (shared.debtor_rule)."""
    found = []
    for item in facts.items:
        key = f"{item.device_id}:{item.seq}"
        if item.type != "deferral" or key not in facts.debtors:
            continue
        flag, setting = facts.debtors[key]
        verdict = check_deferral(flag, setting)
        if verdict.allowed or verdict.text is None:
            continue
        amount = cents(item.payload["amount"])
        found.append(
            Finding(
                "deferral_to_debtor",
                key,
                amount,
                Text(
                    f"Facturation ultérieure de {_euros(amount, 'fr')} accordée sur la tablette"
                    f" alors que la société la refuse aux clients débiteurs. {verdict.text.fr}"
                    " Approuvez-la (la facture reste à régler) ou prenez-en acte.",
                    f"Bill-later of {_euros(amount, 'en')} granted on the tablet although the"
                    f" company refuses it to customers who owe money. {verdict.text.en}"
                    " Approve it (the invoice stays to be paid) or acknowledge it.",
                ),
                facts.mission_id,
                item.device_id,
                item.driver_id,
                {
                    "entry": item.ref,
                    "customer": flag.customer,
                    "owed": format(flag.owed, "f"),
                },
            )
        )
    return found


def _approval_findings(facts: MissionFacts) -> list[Finding]:
    found = []
    for item in facts.items:
        if item.type not in ("discount", "deferral"):
            continue
        ref = str(item.payload.get("approval_ref", ""))
        amount = cents(item.payload["amount"])
        valid = (item.device_id, ref, item.type, amount) in facts.approvals or (
            "*",
            ref,
            item.type,
            amount,
        ) in facts.approvals
        if valid:
            continue
        what = (
            Text("remise", "discount")
            if item.type == "discount"
            else Text("facturation ultérieure", "bill-later")
        )
        found.append(
            Finding(
                "discount_without_approval",
                f"{item.device_id}:{item.seq}",
                amount,
                Text(
                    f"{what.fr.capitalize()} de {_euros(amount, 'fr')} sans accord valable du"
                    f" gérant (code cité : « {ref} »). Approuvez-la ou refusez-la.",
                    f"{what.en.capitalize()} of {_euros(amount, 'en')} without a valid manager"
                    f" approval (code cited: “{ref}”). Approve or refuse it.",
                ),
                facts.mission_id,
                item.device_id,
                item.driver_id,
                {"entry": item.ref, "approval_ref": ref},
            )
        )
    return found


def reused_approvals(uses: Iterable[Item]) -> list[Finding]:
    """Approval codes cited by more than one discount or deferral (across missions and
    tablets): a code is single use."""
    by_ref: dict[str, list[Item]] = {}
    for item in uses:
        ref = str(item.payload.get("approval_ref", ""))
        if ref and not ref.startswith("office:"):
            by_ref.setdefault(ref, []).append(item)
    found = []
    for ref, items in sorted(by_ref.items()):
        if len(items) < 2:
            continue
        later = items[1:]
        amount = sum(cents(i.payload["amount"]) for i in later)
        found.append(
            Finding(
                "approval_reused",
                ref,
                amount,
                Text(
                    f"Code d'accord « {ref} » utilisé {len(items)} fois : il ne vaut qu'une fois."
                    f" {_euros(amount, 'fr')} accordés sans accord.",
                    f"Approval code “{ref}” used {len(items)} times: it is single use."
                    f" {_euros(amount, 'en')} granted without approval.",
                ),
                str(later[0].payload.get("mission_id")),
                later[0].device_id,
                later[0].driver_id,
                {"entries": [i.ref for i in items]},
            )
        )
    return found


def register_findings(closings: Sequence[Item]) -> list[Finding]:
    """Registers closed with a variance (counted − expected ≠ 0)."""
    found = []
    for item in closings:
        variance = cents(item.payload.get("variance", "0.00"))
        if variance == 0:
            continue
        found.append(
            Finding(
                "register_variance",
                f"{item.device_id}:{item.seq}",
                variance,
                _t(
                    "Écart de caisse à la fermeture : compté {0}, attendu {1}, écart {2}.",
                    "Register variance at closing: counted {0}, expected {1}, variance {2}.",
                    cents(item.payload["counted"]),
                    cents(item.payload["expected"]),
                    variance,
                ),
                None,
                item.device_id,
                item.driver_id,
                {"entry": item.ref},
            )
        )
    return found


def card_findings(
    collections: Sequence[Item], settled: Mapping[tuple[str, int], int]
) -> list[Finding]:
    """Card collections no settlement line matches by terminal reference and amount.
    `settled`: (normalised reference, cents) → how many lines; each line matches once."""
    left = dict(settled)
    found = []
    for item in collections:
        # Matched on the normalised key; shown as the receipt prints it (issue 14).
        shown = str(item.payload.get("terminal_ref", ""))
        key = normalise_ref(shown)
        amount = cents(item.payload["amount"])
        if left.get((key, amount), 0) > 0:
            left[(key, amount)] -= 1
            continue
        found.append(
            Finding(
                "card_unmatched",
                f"{item.device_id}:{item.seq}",
                amount,
                Text(
                    f"Paiement par carte de {_euros(amount, 'fr')} (autorisation « {shown} »)"
                    " absent des remises du terminal importées.",
                    f"Card payment of {_euros(amount, 'en')} (authorisation “{shown}”) missing"
                    " from the imported terminal settlements.",
                ),
                str(item.payload.get("mission_id")),
                item.device_id,
                item.driver_id,
                {"entry": item.ref, "terminal_ref": shown},
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class CardPayment:
    """A card collection and the two dates that judge it: its local day as it claims it
    (in the tenant's time zone), and since when a settlement file is due for it."""

    item: Item
    day: str  # ISO date
    due_since: datetime  # the earlier of the end of its claimed day and its receipt


def unsettled_cards(
    cards: Sequence[CardPayment], covered: Collection[str], now: datetime
) -> list[Finding]:
    """Card payments of days no settlement file covers (`covered`: ISO dates), found
    CARD_SETTLEMENT_DELAY after they were due.
    The delay runs from the earlier of the claimed day and the receipt, so no date a tablet
    writes (far back, or ahead) puts a card payment beyond checking."""
    found = []
    for card in cards:
        if card.day in covered:  # matched line by line instead (card_findings)
            continue
        if now < card.due_since + CARD_SETTLEMENT_DELAY:
            continue
        item = card.item
        ref = str(item.payload.get("terminal_ref", ""))  # as the receipt prints it
        amount = cents(item.payload["amount"])
        days = CARD_SETTLEMENT_DELAY.days
        found.append(
            Finding(
                "card_unsettled",
                f"{item.device_id}:{item.seq}",
                amount,
                Text(
                    f"Paiement par carte de {_euros(amount, 'fr')} (autorisation « {ref} ») du"
                    f" {card.day} : aucune remise du terminal importée ne couvre ce jour, {days}"
                    " jours après. Importez la remise de ce jour, ou annulez l'encaissement.",
                    f"Card payment of {_euros(amount, 'en')} (authorisation “{ref}”) of"
                    f" {card.day}: no imported terminal settlement covers that day, {days}"
                    " days on. Import that day's settlement, or void the collection.",
                ),
                str(item.payload.get("mission_id")),
                item.device_id,
                item.driver_id,
                {"entry": item.ref, "terminal_ref": ref, "day": card.day},
            )
        )
    return found


def normalise_ref(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())

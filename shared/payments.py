"""Collections and the other entries that move a mission's balance: reversals, approved
discounts and deferrals, and disputes.

Each builder checks the rules of seed 000 (a real payment method with its evidence, no
collection where nothing is owed, never more than what remains) and returns the
`payload` of the journal entry to append, or raises `Refused` with a sentence the driver
can act on. `event_from_entry` reads those payloads back, so the payload format lives in
this one module. (Named `payments`, not `collections`, to keep clear of the standard
library module of that name.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from shared.balance import Collected, Deferred, Discounted, Event, MissionMoney, Reversed, summary
from shared.cash_rule import LEGAL_RESIDENT, cash_refusal
from shared.errors import Refused
from shared.i18n import Text
from shared.money import FloatRefused, format_amount, parse_amount, wire
from shared.payment_terms import Method
from shared.vat import Totals, vat_split

# France, Code monétaire et financier art. L112-6 and D112-3: a consumer resident in
# France may pay a professional at most 1,000 € in cash for one debt. Callers pass
# the tenant's stricter limit (shared.cash_rule.on_site_limit), or None where none does.
DEFAULT_CASH_LIMIT = LEGAL_RESIDENT

LABELS: Mapping[Method, Text] = MappingProxyType(
    {
        Method.CASH: Text("espèces", "cash"),
        Method.CARD: Text("carte bancaire", "card"),
        Method.CHEQUE: Text("chèque", "cheque"),
        Method.TRANSFER: Text("virement", "bank transfer"),
        Method.PAYMENT_LINK: Text("lien de paiement", "payment link"),
    }
)

# The evidence each method needs, by payload field, with how to ask a driver for it.
EVIDENCE: Mapping[Method, Mapping[str, Text]] = MappingProxyType(
    {
        Method.CASH: {
            "tendered": Text(
                "le montant remis par le client", "the amount the customer handed over"
            )
        },
        Method.CARD: {
            "terminal_ref": Text(
                "la référence d'autorisation du terminal de paiement (sur le ticket)",
                "the card terminal's authorisation reference (on the receipt)",
            )
        },
        Method.CHEQUE: {
            "cheque_number": Text("le numéro du chèque", "the cheque number"),
            "bank": Text("la banque du chèque", "the cheque's bank"),
        },
        Method.TRANSFER: {"reference": Text("la référence du virement", "the transfer reference")},
        Method.PAYMENT_LINK: {
            "reference": Text("la référence du paiement par lien", "the payment link's reference")
        },
    }
)

MAX_TEXT = 64  # an evidence reference
MAX_REASON = 2000  # a dispute or a reversal's reason
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CHEQUE_NUMBER = re.compile(r"^\d{1,20}$")

_DISPUTE_ADVICE = Text(
    "Si le prix vous semble faux, n'enregistrez pas d'encaissement : signalez un litige,"
    " le bureau le verra.",
    "If you think the price is wrong, do not record a collection: raise a dispute and the"
    " office will see it.",
)


def allowed_methods(company: Iterable[Method], contract: Iterable[Method]) -> frozenset[Method]:
    """What the driver may offer: only what both the company and the contract accept."""
    return frozenset(company) & frozenset(contract)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _list(methods: Iterable[Method], lang: str) -> str:
    return ", ".join(LABELS[m](lang) for m in Method if m in frozenset(methods))


def _method(value: object) -> Method:
    try:
        return Method(str(value))
    except ValueError:
        raise Refused(
            f"Mode de règlement inconnu : « {value} ». Modes possibles : {_list(Method, 'fr')}.",
            f"Unknown payment method: “{value}”. Possible methods: {_list(Method, 'en')}.",
        ) from None


def _amount(value: object, what: Text) -> Decimal:
    """A positive amount from the wire; a float is a bug and raises FloatRefused."""
    if isinstance(value, float):
        raise FloatRefused(value)
    try:
        amount = parse_amount(value)
    except ValueError:
        raise Refused(
            f"{_cap(what.fr)} est illisible : « {value} ». Écrivez par exemple 12.50.",
            f"{_cap(what.en)} cannot be read: “{value}”. Write it like 12.50.",
        ) from None
    if amount <= 0:
        raise Refused(
            f"{_cap(what.fr)} doit être supérieur à zéro.",
            f"{_cap(what.en)} must be more than zero.",
        )
    return amount


def _text(value: object, what: Text, limit: int = MAX_TEXT) -> str:
    """A non-empty line of text a person typed, without control characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Refused(f"Indiquez {what.fr}.", f"Enter {what.en}.")
    if not isinstance(value, str) or _CONTROL.search(value.strip()):
        raise Refused(
            f"{_cap(what.fr)} est illisible : « {value} ».",
            f"{_cap(what.en)} cannot be read: “{value}”.",
        )
    text = value.strip()
    if len(text) > limit:
        raise Refused(
            f"Texte trop long pour {what.fr} ({len(text)} caractères, {limit} au plus).",
            f"Too long for {what.en} ({len(text)} characters, {limit} at most).",
        )
    return text


def _nothing_to_collect(money: MissionMoney) -> Refused:
    if money.due == 0:
        return Refused(
            "Rien à encaisser : le bénéficiaire ne doit rien pour cette mission. "
            + _DISPUTE_ADVICE.fr,
            "Nothing to collect: the beneficiary owes nothing for this mission. "
            + _DISPUTE_ADVICE.en,
        )
    told = summary(money)
    return Refused(
        f"Rien à encaisser : tout ce qui était dû est réglé. {told.fr} {_DISPUTE_ADVICE.fr}",
        f"Nothing to collect: everything due is settled. {told.en} {_DISPUTE_ADVICE.en}",
    )


def _above_remaining(amount: Decimal, money: MissionMoney, cash: bool) -> Refused:
    a_fr, a_en = format_amount(amount, "fr"), format_amount(amount, "en")
    r_fr, r_en = format_amount(money.remaining, "fr"), format_amount(money.remaining, "en")
    fr = f"Le montant ({a_fr}) dépasse le reste à encaisser ({r_fr}). Encaissez au plus {r_fr}."
    en = f"The amount ({a_en}) is more than what remains to collect ({r_en})."
    en += f" Collect {r_en} at most."
    if cash:
        fr += " Pour rendre la monnaie, saisissez à part le montant remis par le client."
        en += " To give change, enter the amount the customer handed over separately."
    return Refused(fr, en)


def collection_payload(
    money: MissionMoney,
    method: Method | str,
    amount: object,
    evidence: Mapping[str, object],
    *,
    company_methods: Iterable[Method],
    contract_methods: Iterable[Method],
    cash_limit: Decimal | None = DEFAULT_CASH_LIMIT,
    vat_basis: Totals | None = None,
) -> dict[str, Any]:
    """The `collection` entry's payload for money taken from the beneficiary.

    `vat_basis`, the beneficiary's totals from the valuation, adds the amount's VAT split
    (`vat`) so closings can total collections per VAT rate.

    Refused: nothing owed (raise a dispute instead), a method the company or the contract
    does not accept, more than what remains (cash too: change comes from what was
    tendered), missing evidence, cash beyond the legal limit for the mission.
    """
    if money.remaining == 0:
        raise _nothing_to_collect(money)
    chosen = _method(method)
    allowed = allowed_methods(company_methods, contract_methods)
    label = LABELS[chosen]
    if not allowed:
        raise Refused(
            "Aucun mode de règlement n'est accepté pour cette mission : l'entreprise et le"
            " contrat n'en ont aucun en commun. Appelez le bureau.",
            "No payment method is accepted for this mission: the company and the contract"
            " have none in common. Call the office.",
        )
    if chosen not in allowed:
        raise Refused(
            f"Le règlement par {label.fr} n'est pas accepté pour cette mission."
            f" Modes acceptés : {_list(allowed, 'fr')}.",
            f"Payment by {label.en} is not accepted for this mission."
            f" Accepted methods: {_list(allowed, 'en')}.",
        )
    value = _amount(amount, Text("le montant encaissé", "the amount collected"))
    if value > money.remaining:
        raise _above_remaining(value, money, chosen is Method.CASH)

    asked = EVIDENCE[chosen]
    unexpected = sorted(set(evidence) - set(asked))
    if unexpected:
        names = ", ".join(unexpected)
        raise Refused(
            f"Information inattendue pour un règlement par {label.fr} : {names}.",
            f"Unexpected information for a payment by {label.en}: {names}.",
        )
    payload: dict[str, Any] = {
        "mission_id": money.mission_id,
        "method": chosen.value,
        "amount": wire(value),
    }
    if vat_basis is not None:
        payload["vat"] = vat_split(value, vat_basis)
    if chosen is Method.CASH:
        payload.update(_cash(money, value, evidence.get("tendered"), cash_limit))
        return payload
    for name, what in asked.items():
        payload[name] = _text(evidence.get(name), what)
        # A reference is matched against the bank's or the terminal's files by its letters
        # and digits: one with none ("🚗€", "---") can never be matched.
        if name != "bank" and not any(c.isalnum() for c in payload[name]):
            raise Refused(
                f"{_cap(what.fr)} doit contenir des lettres ou des chiffres : « {payload[name]} ».",
                f"{_cap(what.en)} must contain letters or digits: “{payload[name]}”.",
            )
    if chosen is Method.CHEQUE:
        number = payload["cheque_number"].replace(" ", "")
        if not _CHEQUE_NUMBER.match(number):
            raise Refused(
                f"Le numéro du chèque ne doit contenir que des chiffres : « {number} ».",
                f"The cheque number must contain digits only: “{number}”.",
            )
        payload["cheque_number"] = number
    return payload


def _cash(
    money: MissionMoney, amount: Decimal, tendered: object, limit: Decimal | None
) -> dict[str, str]:
    if limit is not None:  # the rule the server checks again (shared.cash_rule)
        refusal = cash_refusal(limit, money.net_collected_by(Method.CASH), amount)
        if refusal is not None:
            raise refusal
    if tendered is None:
        raise Refused(
            "Indiquez le montant remis par le client, pour calculer la monnaie à rendre.",
            "Enter the amount the customer handed over, to work out the change.",
        )
    handed = _amount(tendered, EVIDENCE[Method.CASH]["tendered"])
    if handed < amount:
        raise Refused(
            f"Le client a remis {format_amount(handed, 'fr')}, moins que le montant encaissé"
            f" ({format_amount(amount, 'fr')}).",
            f"The customer handed over {format_amount(handed, 'en')}, less than the amount"
            f" collected ({format_amount(amount, 'en')}).",
        )
    return {"tendered": wire(handed), "change": wire(handed - amount)}


def reversal_payload(
    money: MissionMoney, reverses: Mapping[str, object], reason: str
) -> dict[str, object]:
    """The `reversal` entry's payload: voids one collection in full, naming it and why.

    `reverses` is the journal's reference to the collection's entry (`shared.journal.
    reference`: device, seq and hash); its `hash` is the collection's `ref` here. The
    collection stays in the journal; only this new entry takes it back. `method` and
    `amount` are repeated so the cash register can follow without looking the entry up.
    """
    collection_ref = reverses.get("hash")
    if not isinstance(collection_ref, str) or not collection_ref:
        raise ValueError(f"a reversal must name the collection's entry hash, not {reverses!r}")
    collection = money.collection(collection_ref)
    if collection is None:
        raise Refused(
            f"Aucun encaissement « {collection_ref} » sur la mission {money.mission_id}.",
            f"No collection “{collection_ref}” on mission {money.mission_id}.",
        )
    if money.is_reversed(collection_ref):
        raise Refused(
            f"L'encaissement « {collection_ref} » est déjà annulé.",
            f"Collection “{collection_ref}” is already reversed.",
        )
    why = _text(reason, Text("le motif de l'annulation", "the reason for the reversal"), MAX_REASON)
    payload: dict[str, object] = {
        "mission_id": money.mission_id,
        "reverses": dict(reverses),
        "method": collection.method.value,
        "amount": wire(collection.amount),
        "reason": why,
    }
    if collection.vat:  # the reversal takes back exactly the VAT its collection carried
        payload["vat"] = [dict(share) for share in collection.vat]
    return payload


def dispute_payload(money: MissionMoney, reason: str) -> dict[str, str]:
    """The `dispute` entry's payload: the driver thinks the price is wrong and says why.

    It moves no money and opens no gate; it puts the question in front of the office, with
    the amount the tablet showed.
    """
    why = _text(
        reason,
        Text("ce qui vous semble faux dans le prix", "what you think is wrong with the price"),
        MAX_REASON,
    )
    return {"mission_id": money.mission_id, "reason": why, "due": wire(money.due)}


def _approval(approval_ref: object) -> str:
    return _text(
        approval_ref,
        Text("la référence de l'accord du gérant", "the manager's approval reference"),
    )


def discount_payload(money: MissionMoney, amount: object, approval_ref: str) -> dict[str, str]:
    """The `discount` entry's payload: an amount off what remains, approved by the manager.

    `approval_ref` is opaque here; `shared.approvals` checks the code it comes from.
    """
    if money.remaining == 0:
        raise Refused(
            "Pas de remise possible : il ne reste rien à encaisser sur cette mission.",
            "No discount possible: nothing remains to collect on this mission.",
        )
    value = _amount(amount, Text("le montant de la remise", "the discount"))
    if value > money.remaining:
        r_fr, r_en = format_amount(money.remaining, "fr"), format_amount(money.remaining, "en")
        raise Refused(
            f"La remise ({format_amount(value, 'fr')}) dépasse le reste à encaisser ({r_fr}).",
            f"The discount ({format_amount(value, 'en')}) is more than what remains ({r_en}).",
        )
    return {
        "mission_id": money.mission_id,
        "amount": wire(value),
        "approval_ref": _approval(approval_ref),
    }


def deferral_payload(money: MissionMoney, amount: object, approval_ref: str) -> dict[str, str]:
    """The `deferral` entry's payload: "bill later" for the whole remaining amount.

    The amount is stated, not implied, because the manager's approval is bound to it: if
    the remaining amount changed since, the approval no longer fits and is refused.
    """
    if money.remaining == 0:
        raise Refused(
            "Rien à facturer plus tard : il ne reste rien à encaisser sur cette mission.",
            "Nothing to bill later: nothing remains to collect on this mission.",
        )
    value = _amount(amount, Text("le montant à facturer plus tard", "the amount to bill later"))
    if value != money.remaining:
        r_fr, r_en = format_amount(money.remaining, "fr"), format_amount(money.remaining, "en")
        raise Refused(
            f"« Facturer plus tard » porte sur tout le reste à encaisser, soit {r_fr}, et non"
            f" {format_amount(value, 'fr')}. Demandez au gérant un accord pour {r_fr}.",
            f"“Bill later” covers the whole remaining amount, {r_en}, not"
            f" {format_amount(value, 'en')}. Ask the manager to approve {r_en}.",
        )
    return {
        "mission_id": money.mission_id,
        "amount": wire(value),
        "approval_ref": _approval(approval_ref),
    }


def event_from_entry(entry_type: str, ref: str, payload: Mapping[str, object]) -> Event | None:
    """The money event a journal entry holds, or None for entries that move no money.

    `ref` is the entry's hash: what a reversal's `reverses["hash"]` names.
    """
    if entry_type not in {"collection", "reversal", "discount", "deferral"}:
        return None
    mission_id = str(payload["mission_id"])
    if entry_type == "collection":
        vat = payload.get("vat") or ()
        if not isinstance(vat, list | tuple):
            raise ValueError(f"a collection's VAT split is a list, not {vat!r}")
        return Collected(
            ref,
            mission_id,
            Method(str(payload["method"])),
            parse_amount(payload["amount"]),
            tuple({str(k): str(v) for k, v in dict(share).items()} for share in vat),
        )
    if entry_type == "reversal":
        reverses = payload["reverses"]
        if not isinstance(reverses, Mapping):
            raise ValueError(f"a reversal names its collection as a reference, not {reverses!r}")
        return Reversed(ref, mission_id, str(reverses["hash"]))
    if entry_type == "discount":
        return Discounted(ref, mission_id, parse_amount(payload["amount"]))
    return Deferred(ref, mission_id, parse_amount(payload["amount"]))

"""A mission's deposit and payment moment set by hand in the office (seed 004: "a deposit
set by hand is never overwritten"; docs/customer-debts.md "Deposits set by hand").

The office may set, for one mission, the deposit the beneficiary pays (an amount and
when: at order, before leaving the scene, or none) and the moment the beneficiary pays
the rest (at order, before departure, at delivery, on invoice), overriding its
contract's. Each act (`set_terms`) is, in the caller's transaction:

- one signed entry of the tenant's server journal (`deposit_set`), naming the office user
  and the reason, with the mission's id in the entry's `mission_id` column;
- an audit line;
- a `mission_terms` change in the pull feed (docs/sync-protocol.md), tenant-wide, so the
  tablet that holds the mission (or the one it is reassigned to) applies it at its next
  pull: its gate asks for the deposit and guards the office's moment.

The terms in force are the fold of the mission's `deposit_set` entries
(`shared.deposit.fold_office_terms`): they are read, never stored in a row that a
recomputation could write. Nothing that values or reconciles a mission, replays site
facts or stores a push writes a `deposit_set` entry, so none can replace them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.office import office_journal
from server.people.identity import audit
from server.platform import changes
from server.platform.errors import Conflict, Unprocessable, not_found
from server.platform.tables import contracts, entry_types, journal_entries, missions, valuations
from shared.contract_schema import load_contract
from shared.deposit import (
    OfficeTerms,
    fold_office_terms,
    office_terms_payload,
    office_terms_wire,
    resolve_deposit,
)
from shared.errors import TowlineError
from shared.i18n import Text
from shared.journal import EntryType
from shared.money import ZERO, from_cents, parse_amount, to_cents, wire
from shared.payment_terms import DepositTerms, DepositWhen, PayWhen

KIND = "mission_terms"  # the pull feed's change kind
REASON_MAX = 300
MAX_DEPOSIT = 2_000_000  # cents: 20 000,00 €, beyond is a typing mistake
CANCELLED = "cancelled"

DEPOSIT_WHEN: Mapping[str, Text] = {
    DepositWhen.AT_ORDER: Text("à la commande", "at order"),
    DepositWhen.BEFORE_DEPARTURE: Text("avant de quitter les lieux", "before leaving the scene"),
    DepositWhen.EXEMPT: Text("pas d'acompte", "no deposit"),
}
PAY_WHEN: Mapping[str, Text] = {
    PayWhen.AT_ORDER: Text("à la commande", "at order"),
    PayWhen.BEFORE_DEPARTURE: Text("avant de quitter les lieux", "before leaving the scene"),
    PayWhen.AT_DELIVERY: Text("à la livraison", "at delivery"),
    PayWhen.ON_INVOICE: Text("sur facture", "on invoice"),
}


def _deposit(amount: object, when: object) -> DepositTerms | None:
    """The deposit asked for, checked; None when neither part is given."""
    if (amount is None or amount == "") and (when is None or when == ""):
        return None
    if when is None or when == "":
        raise Unprocessable(
            "Dites quand l'acompte est dû : à la commande (at_order), avant de quitter les "
            "lieux (before_departure), ou pas d'acompte (exempt).",
            "Say when the deposit is due: at_order, before_departure, or exempt (none).",
            code="deposit_when_missing",
        )
    if when not in DEPOSIT_WHEN:
        raise Unprocessable(
            "Moment de l'acompte inconnu : à la commande (at_order), avant de quitter les "
            "lieux (before_departure) ou pas d'acompte (exempt).",
            "Unknown deposit moment: at_order, before_departure or exempt.",
            code="deposit_when_invalid",
        )
    chosen = DepositWhen(str(when))
    if chosen is DepositWhen.EXEMPT and amount in (None, ""):
        return DepositTerms(chosen, ZERO)
    try:
        cents = to_cents(parse_amount(amount))
    except (ValueError, TypeError, ArithmeticError):
        cents = -1
    if not 0 <= cents <= MAX_DEPOSIT:
        raise Unprocessable(
            "Montant d'acompte invalide : un montant positif ou nul avec deux décimales au "
            'plus, par exemple "50.00" (20 000,00 € au plus ; 0 pour ne pas en demander).',
            'Invalid deposit amount: zero or more with at most two decimals, e.g. "50.00" '
            "(€20,000.00 at most; 0 to ask for none).",
            code="deposit_amount_invalid",
        )
    if chosen is DepositWhen.EXEMPT and cents > 0:
        raise Unprocessable(
            "Un acompte « exempté » ne peut pas avoir de montant : choisissez quand il est "
            "dû (à la commande ou avant de quitter les lieux), ou mettez 0.",
            "An 'exempt' deposit cannot have an amount: choose when it is due (at order or "
            "before leaving the scene), or give 0.",
            code="deposit_exempt_with_amount",
        )
    return DepositTerms(chosen, from_cents(cents))


def _pays(value: object) -> PayWhen | None:
    if value is None or value == "":
        return None
    if value not in PAY_WHEN:
        raise Unprocessable(
            "Moment de paiement inconnu : à la commande (at_order), avant de quitter les "
            "lieux (before_departure), à la livraison (at_delivery) ou sur facture "
            "(on_invoice).",
            "Unknown payment moment: at_order, before_departure, at_delivery or on_invoice.",
            code="pays_invalid",
        )
    return PayWhen(str(value))


def _reason(value: object) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise Unprocessable(
            "Indiquez pourquoi le bureau fixe ces conditions (le motif est au journal).",
            "Say why the office sets these terms (the reason goes in the journal).",
            code="reason_missing",
        )
    if len(text) > REASON_MAX:
        raise Unprocessable(
            f"Le motif : {REASON_MAX} caractères au plus.",
            f"The reason: {REASON_MAX} characters at most.",
            code="text_too_long",
        )
    return text


def _mission_row(conn: sa.Connection, tenant_id: str, mission_id: str, *, lock: bool) -> Any:
    query = sa.select(missions.c.id, missions.c.status).where(
        missions.c.tenant_id == tenant_id, missions.c.id == mission_id[:64]
    )
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise not_found("Mission", "Mission", mission_id[:64])
    return row


def set_terms(
    conn: sa.Connection,
    tenant_id: str,
    mission_id: str,
    *,
    deposit_amount: object = None,
    deposit_when: object = None,
    pays: object = None,
    reason: object,
    key: Any,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Set a mission's deposit, its payment moment, or both, by hand; returns `terms_of`."""
    deposit = _deposit(deposit_amount, deposit_when)
    moment = _pays(pays)
    if deposit is None and moment is None:
        raise Unprocessable(
            "Rien à fixer : donnez un acompte (montant et moment), un moment de paiement, "
            "ou les deux.",
            "Nothing to set: give a deposit (amount and moment), a payment moment, or both.",
            code="nothing_to_set",
        )
    why = _reason(reason)
    row = _mission_row(conn, tenant_id, mission_id, lock=True)
    if row.status == CANCELLED:
        raise Conflict(
            f"La mission {row.id} est annulée : ses conditions de paiement ne changent plus.",
            f"Mission {row.id} is cancelled: its payment terms no longer change.",
            code="mission_cancelled",
        )
    payload = office_terms_payload(row.id, deposit=deposit, pays=moment, reason=why)
    signed = office_journal.append(
        conn,
        tenant_id,
        EntryType.DEPOSIT_SET,
        payload,
        key=key,
        actor=actor,
        now=now,
        mission_id=row.id,
    )
    terms = office_terms(conn, tenant_id, [row.id])[row.id]
    data = {"mission_id": row.id, **office_terms_wire(terms), "journal_seq": signed.entry.seq}
    changes.record(conn, tenant_id, KIND, row.id, data, scope=None, now=now)
    audit(conn, tenant_id, actor, "mission.terms_set", row.id, now, reason=why, detail=payload)
    return terms_of(conn, tenant_id, row.id)


def _entries(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str]
) -> list[tuple[str, int, str, str, Mapping[str, Any]]]:
    """(mission, seq, at, by, payload) of the missions' `deposit_set` entries, in order."""
    # Through the missions' index: the server chain's own key (device, seq) would read
    # every entry the server ever wrote (`|| ''`, as entry_types says why); ordered here.
    rows = conn.execute(
        sa.select(
            journal_entries.c.mission_id, journal_entries.c.seq, journal_entries.c.body
        ).where(
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.mission_id.in_(list(mission_ids)),
            journal_entries.c.device_id.concat("") == office_journal.chain_id(tenant_id),
            entry_types(EntryType.DEPOSIT_SET.value),
        )
    ).all()
    rows = sorted(rows, key=lambda r: r.seq)
    out = []
    for row in rows:
        body = json.loads(row.body)
        out.append((row.mission_id, int(row.seq), body["at"], body["driver_id"], body["payload"]))
    return out


def office_terms(
    conn: sa.Connection, tenant_id: str, mission_ids: Sequence[str]
) -> dict[str, OfficeTerms]:
    """{mission: the terms the office set by hand} (empty terms when it set none)."""
    found: dict[str, list[Mapping[str, Any]]] = {m: [] for m in mission_ids}
    for mission_id, _, _, _, payload in _entries(conn, tenant_id, mission_ids):
        found.setdefault(mission_id, []).append(payload)
    return {m: fold_office_terms(p) for m, p in found.items()}


def _contract_terms(conn: sa.Connection, tenant_id: str, mission_id: str) -> Any:
    """The payment terms of the contract the server last valued the mission under."""
    body = conn.execute(
        sa.select(valuations.c.body)
        .where(
            valuations.c.tenant_id == tenant_id,
            valuations.c.mission_id == mission_id,
            valuations.c.source == "server",
        )
        .order_by(valuations.c.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    contract = (json.loads(body).get("contract") or {}) if body else {}
    document = conn.execute(
        sa.select(contracts.c.document).where(
            contracts.c.tenant_id == tenant_id,
            contracts.c.id == str(contract.get("id")),
            contracts.c.version == int(contract.get("version") or 0),
        )
    ).scalar_one_or_none()
    if document is None:
        return None
    try:
        return load_contract(json.loads(document)).payment
    except TowlineError:
        return None


def _deposit_wire(terms: DepositTerms | None) -> dict[str, str] | None:
    if terms is None:
        return None
    when = terms.when if terms.amount else DepositWhen.EXEMPT
    return {"when": when.value, "amount": wire(terms.amount)}


def terms_of(conn: sa.Connection, tenant_id: str, mission_id: str) -> dict[str, Any]:
    """The mission's payment terms: the contract's, the office's and those in force, with
    every act that set them."""
    row = _mission_row(conn, tenant_id, mission_id, lock=False)
    office = office_terms(conn, tenant_id, [row.id])[row.id]
    contract = _contract_terms(conn, tenant_id, row.id)
    computed = contract.deposit if contract is not None else DepositTerms()
    in_force = resolve_deposit(computed, office.deposit)
    contract_pays = contract.beneficiary_pays if contract is not None else None
    pays = office.pays or contract_pays
    return {
        "mission_id": row.id,
        "contract": None
        if contract is None
        else {"deposit": _deposit_wire(contract.deposit), "pays": contract.beneficiary_pays.value},
        "office": office_terms_wire(office),
        "in_force": {
            "deposit": {
                "when": in_force.when.value,
                "amount": wire(in_force.amount),
                "source": in_force.source.value,
                "explanation": {"fr": in_force.explanation.fr, "en": in_force.explanation.en},
            },
            "pays": None if pays is None else pays.value,
            "pays_source": "office" if office.pays is not None else "contract",
        },
        "history": [
            {
                "journal_seq": seq,
                "at": at,
                "by": by,
                "deposit": None
                if "when" not in payload
                else {"when": payload["when"], "amount": payload["amount"]},
                "pays": payload.get("pays"),
                "reason": payload.get("reason"),
            }
            for _, seq, at, by, payload in _entries(conn, tenant_id, [row.id])
        ],
    }

"""Whether a money entry's payload can be read by the rules that add money.

A collection, reversal, discount or deferral carries its mission, an amount and,
for the first two, a payment method and perhaps a VAT split (`shared.payments` writes
them; `shared.balance`, `shared.closings` and the server's reconciliation read them). A
tablet's own code never writes one these rules cannot read, so a push holding one is
refused, the entry named (docs/sync-protocol.md "Push"): the alternative is to meet it in
every rule that adds money, at the push and at every closing after.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from shared import closings
from shared.canonical import canonical_json
from shared.errors import Problem
from shared.i18n import Text
from shared.journal import Entry, EntryType
from shared.money import FloatRefused, parse_amount
from shared.payment_terms import Method

MONEY_TYPES = frozenset(
    {EntryType.COLLECTION, EntryType.REVERSAL, EntryType.DISCOUNT, EntryType.DEFERRAL}
)
_METHODS = ", ".join(m.value for m in Method)


def problems(entry: Entry) -> list[Problem]:
    """What the money rules could not read in `entry`'s payload; [] for other entries."""
    if entry.type not in MONEY_TYPES:
        return []
    payload = entry.payload
    found: list[Problem] = []
    mission_id = payload.get("mission_id")
    if not isinstance(mission_id, str) or not mission_id.strip():
        found.append(
            _problem("mission_id", "identifiant de mission attendu", "a mission id is expected")
        )
    if not _readable_amount(payload.get("amount")):
        found.append(
            _problem(
                "amount",
                f"montant illisible : {_shown(payload.get('amount'), 'fr')} (par exemple "
                '"12.50", deux décimales au plus)',
                f"unreadable amount: {_shown(payload.get('amount'), 'en')} (e.g. "
                '"12.50", two decimals at most)',
            )
        )
    if entry.type is EntryType.REVERSAL:
        reverses = payload.get("reverses")
        named = reverses.get("hash") if isinstance(reverses, Mapping) else None
        if not isinstance(named, str) or not named:
            found.append(
                _problem(
                    "reverses",
                    "l'encaissement annulé doit être nommé par son empreinte (hash)",
                    "the collection reversed must be named by its hash",
                )
            )
    if entry.type in (EntryType.COLLECTION, EntryType.REVERSAL):
        method = payload.get("method")
        if method not in set(Method):
            found.append(
                _problem(
                    "method",
                    f"mode de paiement inconnu : {_shown(method, 'fr')} ({_METHODS})",
                    f"unknown payment method: {_shown(method, 'en')} ({_METHODS})",
                )
            )
        elif not found:
            found.extend(_vat_problems(entry))
    return found


def _readable_amount(value: object) -> bool:
    """Read as the money rules read it. A negative or zero amount is readable: a tampered
    tablet's, kept and judged by those rules (a negative discount lowers what was settled)."""
    try:
        parse_amount(value)
    except (ValueError, FloatRefused, ArithmeticError):
        return False
    return True


def _vat_problems(entry: Entry) -> list[Problem]:
    """The VAT split as closings total it: each share readable, adding up to the amount."""
    try:  # `movement` reads the type and payload (and names the entry by device and seq)
        closings.movement(cast(closings.Entry, entry))
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        return [
            _problem(
                "vat",
                f"répartition de la TVA illisible ou fausse ({reason})",
                f"VAT split unreadable or wrong ({reason})",
            )
        ]
    return []


def _problem(field: str, fr: str, en: str) -> Problem:
    return Problem(f"payload.{field}", Text(fr, en))


def _shown(value: object, lang: str) -> str:
    """The value as a person reads it in `lang`: a text quoted as that language quotes,
    anything else as its JSON (`12`, `true`, `["x",1]`), cut at 40 characters; "missing"
    when there is none (or null)."""
    if value is None:
        return "absent" if lang == "fr" else "missing"
    if isinstance(value, str):
        return _quoted(_cut(value), lang)
    try:
        return _cut(canonical_json(value).decode("utf-8"))
    except (TypeError, ValueError):  # not JSON data: an entry read holds none such
        return _quoted(_cut(str(value)), lang)


def _cut(text: str) -> str:
    return text if len(text) <= 40 else text[:39] + "…"


def _quoted(text: str, lang: str) -> str:
    return f"« {text} »" if lang == "fr" else f"“{text}”"

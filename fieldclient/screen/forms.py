"""Reading what a driver typed: amounts the French way or the English way, and exactly
the evidence the chosen payment method needs. Bad input raises `BadInput` (a 400 page)
before the tablet is asked anything, so nothing is recorded."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from shared.errors import TowlineError
from shared.i18n import Text
from shared.money import parse_amount, wire
from shared.payment_terms import Method
from shared.payments import EVIDENCE

# Every evidence field any method has: a form posting one its method does not ask for is
# refused, as the command line refuses `--terminal-ref` on a cash payment.
EVIDENCE_NAMES = frozenset(name for asked in EVIDENCE.values() for name in asked)

# How each evidence field is typed on a phone keyboard.
INPUT_MODE: Mapping[str, str] = {
    "tendered": "decimal",
    "terminal_ref": "text",
    "cheque_number": "numeric",
    "bank": "text",
    "reference": "text",
}


class BadInput(TowlineError):
    """What the driver typed cannot be read (an amount, a missing field)."""

    code = "bad_input"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def read_amount(typed: str | None, what: Text, *, allow_zero: bool = False) -> Decimal:
    """96,00 or 96.00 or 96 (spaces and the € sign ignored); at most two decimals."""
    raw = (typed or "").strip()
    cleaned = raw
    for noise in (" ", "\u00a0", "\u202f", "€"):
        cleaned = cleaned.replace(noise, "")
    cleaned = cleaned.replace(",", ".")
    if not cleaned:
        raise BadInput(f"Indiquez {what.fr}.", f"Enter {what.en}.")
    try:
        amount = parse_amount(cleaned)
    except ValueError:
        raise BadInput(
            f"{_cap(what.fr)} est illisible : « {raw} ». Écrivez par exemple 96,00.",
            f"{_cap(what.en)} cannot be read: “{raw}”. Write it like 96.00.",
        ) from None
    if amount < 0 or (amount == 0 and not allow_zero):
        raise BadInput(
            f"{_cap(what.fr)} doit être supérieur à zéro.",
            f"{_cap(what.en)} must be more than zero.",
        )
    return amount


def read_method(typed: str | None) -> Method:
    try:
        return Method(str(typed or ""))
    except ValueError:
        raise BadInput(
            "Choisissez d'abord le mode de règlement.", "Choose the payment method first."
        ) from None


def read_evidence(method: Method, form: Mapping[str, str]) -> dict[str, str]:
    """Exactly the evidence `method` needs, every field filled in; cash's `tendered` is
    read as an amount."""
    asked = EVIDENCE[method]
    stray = sorted(n for n in EVIDENCE_NAMES - set(asked) if (form.get(n) or "").strip())
    if stray:
        raise BadInput(
            f"Information sans objet pour ce mode de règlement : {', '.join(stray)}.",
            f"Information that does not belong to this payment method: {', '.join(stray)}.",
        )
    missing = [what for name, what in asked.items() if not (form.get(name) or "").strip()]
    if missing:
        raise BadInput(
            "Indiquez " + " et ".join(w.fr for w in missing) + ".",
            "Enter " + " and ".join(w.en for w in missing) + ".",
        )
    evidence = {name: (form.get(name) or "").strip() for name in asked}
    if method is Method.CASH:
        handed = read_amount(
            evidence["tendered"],
            Text("le montant remis par le client", "the amount the customer handed over"),
        )
        evidence["tendered"] = wire(handed)
    return evidence


def read_text(typed: str | None, what: Text) -> str:
    text = (typed or "").strip()
    if not text:
        raise BadInput(f"Indiquez {what.fr}.", f"Enter {what.en}.")
    return text

"""The contract's common parts as a form: the default price list (code, price, VAT rate),
time bands, caps, deductible, coverage and payment terms.

`values_from` turns a contract document into the form's values; `build` turns the
posted values back into a document, starting from the base version so every part the
form does not show (catalogue, vehicle classes, distance, supplements, customers, other
price lists, site facts) stays as published. The document is then validated by
`shared.contract_schema.load_contract`, exactly as a pasted JSON draft; `place` puts each
of its problems (by path) next to the field that produced it. The form itself refuses
only what the schema cannot see as a form mistake: a negative amount, a row without a
code, a code twice, a condition that is not JSON.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from shared.contract import WEEKDAYS
from shared.errors import InvalidDocument
from shared.money import parse_amount
from shared.payment_terms import DepositWhen, Method, PayWhen

Values = dict[str, Any]  # field name → str, or list[str] for a group of checkboxes
MULTI = re.compile(r"^(band\.\d+\.days|pay\.methods)$")
ROW = re.compile(r"^(price|band|cover)\.(\d+)\.")
BLANK_ROWS = {"price": 3, "band": 1, "cover": 2}  # empty rows offered for new lines
_BAND_FIELDS = {
    "id": "id",
    "label": "label",
    "percent": "percent",
    "applies_to": "applies_to",
    "days": "days",
    "from": "from",
    "to": "to",
    "public_holidays": "holidays",
}


@dataclass
class Built:
    """A document built from the form, where each path came from, the form's own problems."""

    document: dict[str, Any]
    where: dict[str, str] = field(default_factory=dict)  # document path → field name
    errors: dict[str, list[str]] = field(default_factory=dict)  # field name → messages

    def refuse(self, name: str, fr: str, en: str, lang: str) -> None:
        self.errors.setdefault(name, []).append(f"{name}: {en if lang == 'en' else fr}")


def from_request(form: Mapping[str, list[str]]) -> Values:
    """The posted form (`request.form.to_dict(flat=False)`) as values: one string per
    field, a list for checkbox groups; the CSRF token and buttons are not kept."""
    out: Values = {}
    for name, got in form.items():
        if name in ("csrf_token", "confirm"):
            continue
        out[name] = list(got) if MULTI.match(name) else (got[0] if got else "")
    return out


def rows(values: Values, kind: str) -> list[int]:
    """The row numbers the form has for `kind` with something typed, plus blank rows for
    new lines (a select's default payer alone is not something typed, so blank rows do
    not pile up each time a form comes back)."""
    found = sorted(
        {
            int(m.group(2))
            for n, v in values.items()
            if (m := ROW.match(n)) and m.group(1) == kind and v and not n.endswith(".payer")
        }
    )
    start = (found[-1] + 1) if found else 0
    return found + list(range(start, start + BLANK_ROWS[kind]))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def values_from(document: Mapping[str, Any], version: int) -> Values:
    """The form's values for a new draft `version` of `document`."""
    out: Values = {
        "version": str(version),
        "label": document.get("label", ""),
        "valid_from": _text(document.get("valid_from")),
        "valid_until": _text(document.get("valid_until")),
        "prices_include_vat": "yes" if document.get("prices_include_vat") else "no",
        "vat_rate": _text(document.get("vat_rate")),
    }
    rates = document.get("vat_rates", {})
    prices = document.get("price_lists", {}).get(document.get("price_list"), {})
    for i, (code, price) in enumerate(prices.items()):
        out |= {f"price.{i}.code": code, f"price.{i}.amount": price}
        out[f"price.{i}.vat"] = _text(rates.get(code))
    bands = document.get("time_bands", {})
    out["bands.decided_by"] = bands.get("decided_by", "call")
    out["bands.combine"] = bands.get("combine", "highest")
    for i, band in enumerate(bands.get("bands", [])):
        p = f"band.{i}."
        out |= {
            p + "id": band.get("id", ""),
            p + "label": _text(band.get("label")),
            p + "percent": _text(band.get("percent")),
            p + "applies_to": " ".join(band.get("applies_to", [])),
            p + "days": list(band.get("days") or []),
            p + "from": band.get("from", "00:00"),
            p + "to": band.get("to", "24:00"),
            p + "holidays": "yes" if band.get("public_holidays") else "",
        }
    for i, rule in enumerate(document.get("coverage", [])):
        p = f"cover.{i}."
        out |= {p + "code": rule.get("code", ""), p + "payer": rule.get("payer", "")}
        out[p + "band"] = _text(rule.get("band"))
        when = rule.get("when") or {}
        out[p + "when"] = json.dumps(when, ensure_ascii=False) if when else ""
    caps = document.get("caps") or {}
    for name, amount in (
        ("cap.mission", caps.get("mission")),
        ("cap.file", caps.get("file")),
        ("deductible", document.get("deductible")),
    ):
        out[name + ".amount"] = _text((amount or {}).get("amount"))
        out[name + ".vat"] = "yes" if (amount or {}).get("includes_vat") else ""
    payment = document.get("payment") or {}
    deposit = payment.get("deposit") or {}
    out["pay.when"] = payment.get("beneficiary_pays", PayWhen.BEFORE_DEPARTURE.value)
    out["pay.methods"] = list(payment.get("methods", [m.value for m in Method]))
    out["deposit.when"] = deposit.get("when", DepositWhen.EXEMPT.value)
    out["deposit.amount"] = _text(deposit.get("amount", ""))
    return out


def _get(values: Values, name: str) -> str:
    got = values.get(name, "")
    return got.strip() if isinstance(got, str) else ""


def _many(values: Values, name: str) -> list[str]:
    got = values.get(name, [])
    return [str(v) for v in got] if isinstance(got, list) else [str(got)]


def _not_negative(built: Built, name: str, text: str, lang: str) -> None:
    """Prices, caps, deductible and deposit are never negative (the schema reads the
    format only; a negative price would credit the payer)."""
    try:
        negative = parse_amount(text) < Decimal(0)
    except Exception:  # the schema names a malformed amount itself
        return
    if negative:
        built.refuse(
            name, "un montant ne peut pas être négatif", "an amount cannot be negative", lang
        )


def _amount(built: Built, values: Values, name: str, path: str, lang: str) -> dict[str, Any] | None:
    text = _get(values, name + ".amount")
    if not text:
        return None
    _not_negative(built, name + ".amount", text, lang)
    built.where[path] = name + ".amount"
    built.where[path + ".amount"] = name + ".amount"
    return {"amount": text, "includes_vat": _get(values, name + ".vat") == "yes"}


def _prices(built: Built, base: Mapping[str, Any], values: Values, lang: str) -> None:
    doc = built.document
    name = str(base["price_list"])
    prices: dict[str, str] = {}
    rated: dict[str, tuple[int, str]] = {}
    for i in rows(values, "price"):
        p = f"price.{i}."
        code, amount, rate = (
            _get(values, p + "code"),
            _get(values, p + "amount"),
            _get(values, p + "vat"),
        )
        if not (code or amount or rate):
            continue  # an empty row
        if not code:
            built.refuse(
                p + "code", "indiquez le code de la prestation", "enter the service code", lang
            )
            continue
        if code in prices:
            built.refuse(p + "code", f"code en double : {code}", f"code given twice: {code}", lang)
            continue
        _not_negative(built, p + "amount", amount, lang)
        prices[code] = amount
        built.where[f"price_lists.{name}.{code}"] = p + "amount"
        if rate:
            rated[code] = (i, rate)
    listed = set(base["price_lists"].get(name, {})) | set(prices)
    # rates of codes the list does not hold (at cost, e.g. TOLL) stay as they were
    rates = {k: v for k, v in base.get("vat_rates", {}).items() if k not in listed}
    for code, (i, rate) in rated.items():
        rates[code] = rate
        built.where[f"vat_rates.{code}"] = f"price.{i}.vat"
        built.where[f"vat_rates.{list(rates).index(code)}"] = f"price.{i}.code"
    doc["price_lists"] = {**base["price_lists"], name: prices}
    doc["vat_rates"] = rates


def _bands(built: Built, values: Values, lang: str) -> None:
    out: list[dict[str, Any]] = []
    for i in rows(values, "band"):
        p = f"band.{i}."
        ident, percent = _get(values, p + "id"), _get(values, p + "percent")
        applies = _get(values, p + "applies_to").replace(",", " ").split()
        if not (ident or percent or applies):
            continue
        band: dict[str, Any] = {"id": ident, "percent": percent, "applies_to": applies}
        if label := _get(values, p + "label"):
            band["label"] = label
        if days := [d for d in WEEKDAYS if d in _many(values, p + "days")]:
            band["days"] = days
        if (start := _get(values, p + "from")) not in ("", "00:00"):
            band["from"] = start
        if (end := _get(values, p + "to")) not in ("", "24:00"):
            band["to"] = end
        if _get(values, p + "holidays") == "yes":
            band["public_holidays"] = True
        at = f"time_bands.bands.{len(out)}"
        built.where[at] = p + "id"
        built.where |= {f"{at}.{key}": p + name for key, name in _BAND_FIELDS.items()}
        out.append(band)
    built.document["time_bands"] = {
        "decided_by": _get(values, "bands.decided_by"),
        "combine": _get(values, "bands.combine"),
        "bands": out,
    }
    built.where["time_bands.decided_by"] = "bands.decided_by"
    built.where["time_bands.combine"] = "bands.combine"


def _coverage(built: Built, values: Values, lang: str) -> None:
    out: list[dict[str, Any]] = []
    for i in rows(values, "cover"):
        p = f"cover.{i}."
        code, payer = _get(values, p + "code"), _get(values, p + "payer")
        band, text = _get(values, p + "band"), _get(values, p + "when")
        if not (code or band or text):
            continue
        rule: dict[str, Any] = {"code": code, "payer": payer}
        if text:
            try:
                when = json.loads(text)
            except ValueError:
                when = None
            if not isinstance(when, dict):
                built.refuse(
                    p + "when",
                    'condition attendue en JSON, par ex. {"accident": true}',
                    'a condition is expected as JSON, e.g. {"accident": true}',
                    lang,
                )
                continue
            if when:
                rule["when"] = when
        if band:
            rule["band"] = band
        at = f"coverage.{len(out)}"
        built.where |= {at: p + "code", at + ".code": p + "code", at + ".payer": p + "payer"}
        built.where |= {at + ".band": p + "band", at + ".when": p + "when"}
        out.append(rule)
    built.document["coverage"] = out


def _payment(built: Built, values: Values, lang: str) -> None:
    payment: dict[str, Any] = {
        "beneficiary_pays": _get(values, "pay.when"),
        "methods": [m.value for m in Method if m.value in _many(values, "pay.methods")],
    }
    when, amount = _get(values, "deposit.when"), _get(values, "deposit.amount")
    if when != DepositWhen.EXEMPT.value or amount not in ("", "0", "0.00"):
        if amount:
            _not_negative(built, "deposit.amount", amount, lang)
        payment["deposit"] = {"when": when, "amount": amount or "0.00"}
    built.document["payment"] = payment
    built.where |= {
        "payment.beneficiary_pays": "pay.when",
        "payment.methods": "pay.methods",
        "payment.deposit": "deposit.when",
        "payment.deposit.when": "deposit.when",
        "payment.deposit.amount": "deposit.amount",
    }


def build(base: Mapping[str, Any], values: Values, lang: str) -> Built:
    """The draft document the form describes, from `base` (the version it started from)."""
    built = Built(copy.deepcopy(dict(base)))
    doc = built.document
    version = _get(values, "version")
    doc["version"] = int(version) if version.isdigit() else version
    doc["label"] = _get(values, "label")
    doc["valid_from"] = _get(values, "valid_from")
    doc["valid_until"] = _get(values, "valid_until") or None
    doc["prices_include_vat"] = _get(values, "prices_include_vat") == "yes"
    doc["vat_rate"] = _get(values, "vat_rate")
    for name in ("version", "label", "valid_from", "valid_until", "prices_include_vat", "vat_rate"):
        built.where[name] = name
    _prices(built, base, values, lang)
    _bands(built, values, lang)
    _coverage(built, values, lang)
    caps = {
        key: found
        for key in ("mission", "file")
        if (found := _amount(built, values, f"cap.{key}", f"caps.{key}", lang)) is not None
    }
    doc["caps"] = caps
    built.where["caps"] = "cap.mission.amount"
    deductible = _amount(built, values, "deductible", "deductible", lang)
    if deductible is None:
        doc.pop("deductible", None)
    else:
        doc["deductible"] = deductible
    _payment(built, values, lang)
    return built


def place(
    built: Built, error: InvalidDocument, lang: str
) -> tuple[dict[str, list[str]], list[str]]:
    """The schema's problems beside the fields they concern ("path: message", the path
    kept so the JSON reader finds it too); those of parts the form does not show stay
    general."""
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for problem in error.problems:
        message = problem.message(lang)
        keys = [k for k in built.where if problem.path == k or problem.path.startswith(k + ".")]
        if keys:
            by_field.setdefault(built.where[max(keys, key=len)], []).append(message)
        else:
            general.append(message)
    return by_field, general

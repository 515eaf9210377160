"""A valuation mismatch in words (issue 14): the tablet's figures beside the server's, line
by line (which service, its quantity, amount and who pays it), then the contract each
used and who pays what in all. The anomaly's evidence holds both sides as the wire forms
(`server.devices.ingest`); digests and JSON stay out of the page."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import InvalidOperation
from typing import Any

from server.desk.blueprint import money, t
from server.platform.web import lang

# The evidence keys this view replaces on the anomaly page.
KEYS = ("device_digest", "server_digest", "contract", "lines", "payers")


def _money(value: object) -> str:
    """An amount as the tablet sent it: in words when it reads as one, else as it came."""
    try:
        return money(value if isinstance(value, (int, str)) else None)
    except (InvalidOperation, ValueError):
        return str(value)


def _service(line: Mapping[str, Any]) -> str:
    """A line's service in the page's language (its label), else its code."""
    words = line.get("label")
    if isinstance(words, Mapping):
        found = words.get(lang()) or words.get("fr")
        if isinstance(found, str) and found:
            return found
    return str(line.get("code") or "—")


def _side(line: object) -> dict[str, str] | None:
    """One side of a line as the page shows it; None where that side has no such line."""
    if not isinstance(line, Mapping):
        return None
    found = line.get("shares")
    shares: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    return {
        "quantity": str(line.get("quantity") or "—"),
        "amount": _money(line.get("amount")),
        "ordering_party": _money(shares.get("ordering_party")),
        "beneficiary": _money(shares.get("beneficiary")),
    }


def _contract(value: object) -> str:
    if not isinstance(value, Mapping) or not value.get("id"):
        return t("inconnue", "unknown")
    return t("Convention {} version {}", "Contract {} version {}").format(
        value.get("id"), value.get("version", "?")
    )


def _payer_total(payers: object, payer: str) -> str:
    found = payers.get(payer) if isinstance(payers, Mapping) else None
    return _money(found.get("incl_vat")) if isinstance(found, Mapping) else "—"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def mismatch_view(detail: Mapping[str, Any]) -> dict[str, Any] | None:
    """The side-by-side view of a valuation mismatch's evidence; None for other evidence."""
    if not isinstance(detail.get("lines"), list) or "server_digest" not in detail:
        return None
    lines = []
    for pair in detail["lines"]:
        if not isinstance(pair, Mapping):
            continue
        device, server = pair.get("device"), pair.get("server")
        named = server if isinstance(server, Mapping) else device
        lines.append(
            {
                "service": _service(named) if isinstance(named, Mapping) else "—",
                "device": _side(device),
                "server": _side(server),
            }
        )
    contract = _mapping(detail.get("contract"))
    payers = _mapping(detail.get("payers"))
    return {
        "lines": lines,
        "contract": {
            "device": _contract(contract.get("device")),
            "server": _contract(contract.get("server")),
        },
        "payers": [
            {
                "name": name,
                "device": _payer_total(payers.get("device"), key),
                "server": _payer_total(payers.get("server"), key),
            }
            for key, name in (
                ("ordering_party", t("Donneur d'ordre", "Ordering party")),
                ("beneficiary", t("Bénéficiaire", "Beneficiary")),
            )
        ],
    }

"""Batch imports of an ordering party's orders: a CSV file or a JSON list read into orders,
then each taken on its own by intake (server.parties.orders.receive_order)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from server.parties.order_document import ORDER
from server.parties.order_store import require_party
from server.parties.orders import receive_order
from shared.errors import InvalidDocument, Problem, TowlineError
from shared.i18n import Text

ORDERS_FILE = Text("Fichier de commandes invalide", "Invalid orders file")
MAX_BATCH = 5000


# CSV column → where it goes in the order (docs/orders.md "CSV").
CSV_PATHS: Mapping[str, tuple[str, ...]] = {
    "message_id": ("message_id",),
    "file_number": ("file_number",),
    "order_ref": ("id",),
    "file_sequence": ("file_sequence",),
    "customer": ("customer",),
    "plate": ("vehicle", "plate"),
    "vehicle_class": ("vehicle", "class"),
    "weight_kg": ("vehicle", "weight_kg"),
    "call_at": ("times", "call"),
    "arrival_at": ("times", "arrival"),
    "departure_at": ("times", "departure"),
    "delivery_at": ("times", "delivery"),
    "km_en_route": ("distance_km", "en_route"),
    "km_loaded": ("distance_km", "loaded"),
    "km_return": ("distance_km", "return"),
    "services": ("services",),
    "beneficiary_name": ("beneficiary", "name"),
    "beneficiary_phone": ("beneficiary", "phone"),
    "beneficiary_email": ("beneficiary", "email"),
    "from_address": ("places", "from", "address"),
    "from_postcode": ("places", "from", "postcode"),
    "from_city": ("places", "from", "city"),
    "to_address": ("places", "to", "address"),
    "to_postcode": ("places", "to", "postcode"),
    "to_city": ("places", "to", "city"),
    "mission_cap": ("coverage", "mission_cap"),
    "file_cap": ("coverage", "file_cap"),
    "caps_include_vat": ("coverage", "caps_include_vat"),
    "km_covered": ("coverage", "km_covered"),
    "deductible": ("coverage", "deductible"),
    "deductible_includes_vat": ("coverage", "deductible_includes_vat"),
    "coverage_reference": ("coverage", "reference"),
    "file_consumed": ("file_consumed",),
}
CSV_INTEGERS = frozenset({"file_sequence", "weight_kg"})
CSV_BOOLEANS = frozenset({"caps_include_vat", "deductible_includes_vat"})
FACT_PREFIX = "fact_"  # fact_accident → facts.accident
DRIVER_COLUMN = "driver_id"  # not part of the order: whom the office assigns the mission to
_TRUE = {"true", "oui", "yes", "1", "vrai"}
_FALSE = {"false", "non", "no", "0", "faux"}
_SERVICE = re.compile(r"^\s*([^*=]+?)\s*(?:\*\s*([^=]+?)\s*)?(?:=\s*(.+?)\s*)?$")


@dataclass(frozen=True, slots=True)
class BatchItem:
    line: int  # CSV: the line in the file (the header is line 1); JSON: position from 1
    order: Any
    driver_id: str | None = None


def _services(cell: str) -> list[dict[str, Any]]:
    """`TOW|WIN|STO*3|TOLL=12.50`: codes, an optional quantity, an optional amount."""
    found: list[dict[str, Any]] = []
    for item in cell.split("|"):
        if not item.strip():
            continue
        match = _SERVICE.match(item)
        if match is None:
            found.append({"code": item.strip()})
            continue
        code, quantity, amount = match.groups()
        service: dict[str, Any] = {"code": code}
        if quantity is not None:
            service["quantity"] = quantity
        if amount is not None:
            service["amount"] = amount
        found.append(service)
    return found


def _cell(column: str, text: str) -> Any:
    if column == "services":
        return _services(text)
    if column in CSV_INTEGERS and re.fullmatch(r"[0-9]{1,9}", text):
        return int(text)
    if column in CSV_BOOLEANS or column.startswith(FACT_PREFIX):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
    return text


def _put(document: dict[str, Any], path: Sequence[str], value: Any) -> None:
    for key in path[:-1]:
        document = document.setdefault(key, {})
    document[path[-1]] = value


def _bad(what: Text, path: str, fr: str, en: str) -> InvalidDocument:
    return InvalidDocument(what, [Problem(path, Text(fr, en))])


def _known_column(name: str) -> bool:
    if name in CSV_PATHS or name == DRIVER_COLUMN:
        return True
    return (
        name.startswith(FACT_PREFIX) and re.fullmatch(r"[A-Za-z0-9_]{1,40}", name[5:]) is not None
    )


def orders_from_csv(text: str) -> list[BatchItem]:
    """Orders from a CSV file (`,` or `;` separated, UTF-8, header first). Empty cells
    are left out of the order (so a cleaning rule sees them missing). A header the
    format does not know refuses the whole file; a bad line refuses only that line."""
    text = text.removeprefix("\ufeff")
    head = text.split("\n", 1)[0]
    delimiter = ";" if head.count(";") > head.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    if not header:
        raise _bad(
            ORDERS_FILE,
            "1",
            "fichier vide : la première ligne nomme les colonnes",
            "empty file: the first line names the columns",
        )
    found = [
        Problem(
            f"1.{name}",
            Text("colonne inconnue (voir docs/orders.md)", "unknown column (see docs/orders.md)"),
        )
        for name in header
        if not _known_column(name)
    ]
    found += [
        Problem(f"1.{name}", Text("colonne obligatoire manquante", "required column missing"))
        for name in ("message_id", "file_number")
        if name not in header
    ]
    if len(set(header)) != len(header):
        found.append(Problem("1", Text("colonne en double", "duplicate column")))
    if found:
        raise InvalidDocument(ORDERS_FILE, found)
    items: list[BatchItem] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(items) >= MAX_BATCH:
                raise _too_many()
            items.append(_csv_line(reader.line_num, header, cells))
    except csv.Error as exc:
        line = str(reader.line_num)
        raise _bad(ORDERS_FILE, line, f"CSV illisible : {exc}", f"unreadable CSV: {exc}") from None
    return items


def _csv_line(line: int, header: Sequence[str], cells: Sequence[str]) -> BatchItem:
    if len(cells) != len(header):
        return BatchItem(line, _WrongWidth(len(header), len(cells)))
    order: dict[str, Any] = {}
    driver: str | None = None
    for name, raw in zip(header, cells, strict=True):
        value = raw.strip()
        if not value:
            continue
        if name == DRIVER_COLUMN:
            driver = value
        elif name.startswith(FACT_PREFIX):
            _put(order, ("facts", name[len(FACT_PREFIX) :]), _cell(name, value))
        else:
            _put(order, CSV_PATHS[name], _cell(name, value))
    return BatchItem(line, order, driver)


@dataclass(frozen=True, slots=True)
class _WrongWidth:
    expected: int
    got: int

    def refusal(self) -> InvalidDocument:
        return _bad(
            ORDER,
            "",
            f"{self.expected} cellules attendues, {self.got} trouvées",
            f"{self.expected} cells expected, {self.got} found",
        )


def _too_many() -> InvalidDocument:
    return _bad(
        ORDERS_FILE,
        "",
        f"au plus {MAX_BATCH} commandes par envoi : découpez le fichier",
        f"at most {MAX_BATCH} orders per batch: split the file",
    )


def orders_from_json(data: Any) -> list[BatchItem]:
    """Orders from a JSON batch: a list of orders, or `{"orders": [...]}`."""
    if isinstance(data, Mapping) and set(data) == {"orders"}:
        data = data["orders"]
    if not isinstance(data, list):
        raise _bad(
            ORDERS_FILE,
            "",
            'une liste d\'ordres de mission est attendue, ou {"orders": [...]}',
            'a list of mission orders is expected, or {"orders": [...]}',
        )
    if len(data) > MAX_BATCH:
        raise _too_many()
    return [BatchItem(i, item) for i, item in enumerate(data, start=1)]


def import_orders(
    conn: sa.Connection,
    tenant_id: str,
    party_id: str,
    items: Sequence[BatchItem],
    *,
    actor: str,
    now: datetime,
    lang: str = "fr",
    driver_id: str | None = None,
) -> dict[str, Any]:
    """Take a batch of orders: each line on its own (a savepoint each), the valid ones
    kept, each refused line named by its number with its problems. Not all-or-nothing:
    an ordering party's batch mixes files that have nothing to do with each other, and
    holding 49 good missions back for one bad line would keep drivers waiting."""
    require_party(conn, tenant_id, party_id)
    lines: list[dict[str, Any]] = []
    for item in items:
        try:
            if isinstance(item.order, _WrongWidth):
                raise item.order.refusal()
            with conn.begin_nested():
                made = receive_order(
                    conn,
                    tenant_id,
                    party_id,
                    item.order,
                    actor=actor,
                    now=now,
                    driver_id=item.driver_id or driver_id,
                )
        except (TowlineError, sa.exc.IntegrityError) as error:
            lines.append(_refused_line(item.line, error, lang))
            continue
        lines.append(
            {
                "line": item.line,
                "outcome": "duplicate" if made["duplicate"] else made["outcome"],
                "message_id": made["message_id"],
                "file_number": made["file_number"],
                "order_id": made["order_id"],
                "mission_id": made["mission_id"],
                "corrections": len(made["corrections"]),
            }
        )
    refused = [item["line"] for item in lines if item["outcome"] == "refused"]
    duplicates = sum(1 for item in lines if item["outcome"] == "duplicate")
    taken = len(lines) - len(refused) - duplicates
    return {
        "party_id": party_id,
        "taken": taken,
        "duplicates": duplicates,
        "refused": len(refused),
        "refused_lines": refused,
        "message": _summary_text(taken, duplicates, refused)(lang),
        "lines": lines,
    }


def _refused_line(line: int, error: Exception, lang: str) -> dict[str, Any]:
    if isinstance(error, TowlineError):
        code = getattr(error, "code", "refused")
        message = error.text(lang)
        found = [{"path": p.path, "message": p.text(lang)} for p in getattr(error, "problems", ())]
    else:
        code = "conflict"
        message = Text(
            "Conflit d'écriture : renvoyez cette ligne.", "Write conflict: send this line again."
        )(lang)
        found = []
    return {"line": line, "outcome": "refused", "code": code, "message": message, "problems": found}


def _summary_text(taken: int, duplicates: int, refused: Sequence[int]) -> Text:
    fr = f"{taken} commande(s) prise(s) en compte"
    en = f"{taken} order(s) taken"
    if duplicates:
        fr += f", {duplicates} déjà reçue(s) (sans effet)"
        en += f", {duplicates} already received (no effect)"
    if refused:
        numbers = ", ".join(str(n) for n in refused)
        fr += (
            f", {len(refused)} refusée(s) (ligne(s) {numbers}). Les commandes valides sont "
            "enregistrées : corrigez les lignes refusées et renvoyez-les seules."
        )
        en += (
            f", {len(refused)} refused (line(s) {numbers}). The valid orders are stored: "
            "fix the refused lines and send them again on their own."
        )
    else:
        fr += "."
        en += "."
    return Text(fr, en)

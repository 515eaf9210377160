"""The columns copied from a signed body, checked against it (docs/archives.md, "What the
verifier checks").

The office reads money and attribution from columns, not from the signed journal: the
mission a tablet's entry belongs to, the facts and lookup key reconciliation reads, an
invoice's or credit note's totals and payer, an office payment and where its money went.
Each column written from a signed entry must say what that entry says; a column an
insider edited (or filled with a value of the wrong type, NULL, or unreadable JSON) is a
finding with its table and row, never a traceback. Values are read as the driver gives
them (no SQLAlchemy type processing, which would raise on a corrupt date or JSON text)
and parsed here.

Checked against their signed entry (the server journal's, or the tablet's):

- `journal_entries`: `mission_id`, `facts`, `ref` (the device, number, type, time,
  driver and link are compared by `server.office.integrity`);
- `documents`: number, series and seq, kind, mission, payer, recipient, issue instant,
  amounts per rate and totals, corrected invoice and reason, issuing entry, issuer;
- `document_files`: the hashes and the `document_rendered` entry;
- `office_payments` and `office_payment_uses`: every column the `office_payment` entry
  signs, each signed payment and use having its row and each row its entry;
- `valuations` written from a tablet's `valuation_recorded` entry, and every valuation's
  due amount, contract version and file cap against its body.

Read for their type only (nothing signs them): a document's lines, seller, service date,
currency. What no signed body backs is listed in docs/archives.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from server.office import reconcile_facts, valuation_figures
from server.office.valuation import beneficiary_due
from server.platform.tables import (
    document_files,
    documents,
    journal_entries,
    office_payment_uses,
    office_payments,
    valuations,
)
from shared.archive_format import Finding, Kind, Where
from shared.canonical import canonical_json, plain
from shared.i18n import Text
from shared.journal import EntryType, SignedEntry, entry_hash, utc_timestamp
from shared.money import parse_amount, to_cents

SERVER_PREFIX = "server:"  # office_journal.PREFIX (not imported: that module reads rows)
_ISSUED_KINDS = {
    EntryType.INVOICE_ISSUED: "invoice",
    EntryType.CREDIT_NOTE_ISSUED: "credit_note",
}
_TOTALS = {
    "total_excl_cents": "excl_vat",
    "total_vat_cents": "vat",
    "total_incl_cents": "incl_vat",
}
_MISSING = object()  # a value the signed body does not give: nothing to compare


@dataclass(frozen=True, slots=True)
class RowWhere(Where):
    """A row of a table, by its key; and the signed entry it was compared with, if any."""

    table: str | None = None
    row: str | None = None

    def describe(self, lang: str = "fr") -> str:
        head = f"table {self.table}"
        if self.row is not None:
            head += (", ligne " if lang != "en" else ", row ") + self.row
        rest = Where.describe(self, lang)
        return head if rest == "archive" else f"{head} — {rest}"

    def to_wire(self) -> dict[str, Any]:
        place = {"table": self.table, "row": self.row}
        return {**{k: v for k, v in place.items() if v is not None}, **Where.to_wire(self)}


@dataclass
class Checked:
    findings: list[Finding]
    rows: int = 0


class _Unreadable(Exception):
    """A stored value of the wrong type: what was expected, in French and English."""

    def __init__(self, fr: str, en: str) -> None:
        super().__init__(en)
        self.text = Text(fr, en)


# --- reading a raw value ---------------------------------------------------------------------


def _int(value: object) -> int:
    if type(value) is int:
        return value
    raise _Unreadable("pas un nombre entier", "not a whole number")


def _optional_int(value: object) -> int | None:
    return None if value is None else _int(value)


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Unreadable("pas un texte", "not text")


def _required_text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise _Unreadable("pas un texte", "not text")


def _json(value: object) -> Any:
    """A JSON column: text on SQLite, already parsed by the driver on PostgreSQL."""
    if isinstance(value, bytes | str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            raise _Unreadable("JSON illisible", "unreadable JSON") from None
    if isinstance(value, dict | list):
        return value
    raise _Unreadable("pas du JSON", "not JSON")


def _day(value: object) -> date:
    if isinstance(value, datetime):
        raise _Unreadable("pas une date", "not a date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Unreadable("pas une date", "not a date")


def _instant(value: object) -> datetime:
    """An instant as stored: aware on PostgreSQL, naive UTC text on SQLite."""
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None:
        raise _Unreadable("pas une date et heure", "not a date and time")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def instant_or_none(value: object) -> datetime | None:
    """An instant as stored, or None when the value is not one."""
    try:
        return _instant(value)
    except _Unreadable:
        return None


def _at(value: object) -> str:
    """An instant, in the journal's `at` form (milliseconds): what an entry signs."""
    return utc_timestamp(_instant(value))


def _cents(amount: object) -> object:
    """A signed decimal amount in cents; _MISSING if the body does not give a readable one."""
    try:
        return to_cents(parse_amount(amount))
    except (TypeError, ValueError, ArithmeticError):
        return _MISSING


def _show(value: object) -> str:
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


# --- comparing a row with its signed body ---------------------------------------------------


class _Rows:
    """The findings of the rows read so far."""

    def __init__(self) -> None:
        self.checked = Checked([])

    def add(self, place: RowWhere, fr: str, en: str) -> None:
        self.checked.findings.append(Finding(Kind.ROW_MISMATCH, place, Text(fr, en)))

    def compare(
        self,
        place: RowWhere,
        row: Any,
        column: str,
        read: Callable[[object], Any],
        expected: object = _MISSING,
    ) -> None:
        """The column read with `read` (its type), then, if the body gives it, its value."""
        raw = row[column]
        try:
            value = read(raw)
        except _Unreadable as bad:
            self.add(
                place,
                f"la colonne {column} est illisible ({bad.text('fr')} : {_show(raw)}) : la "
                "ligne a été modifiée.",
                f"column {column} is unreadable ({bad.text('en')}: {_show(raw)}): the row was "
                "changed.",
            )
            return
        if expected is _MISSING or value == expected:
            return
        seq = place.seq
        self.add(
            place,
            f"la colonne {column} vaut {_show(value)}, l'entrée signée n° {seq} dit "
            f"{_show(expected)} : la ligne a été modifiée.",
            f"column {column} holds {_show(value)}, signed entry no. {seq} says "
            f"{_show(expected)}: the row was changed.",
        )

    def read(self, place: RowWhere, row: Any, column: str, read: Any) -> Any:
        """A key column's value, or None (reported) when it is unreadable."""
        try:
            return read(row[column])
        except _Unreadable:
            self.compare(place, row, column, read)
            return None


def raw(table: sa.Table, names: Iterable[str] | None = None) -> list[Any]:
    """The columns as the driver returns them, without SQLAlchemy's result processing."""
    columns = [table.c[n] for n in names] if names is not None else list(table.c)
    return [sa.type_coerce(c, sa.types.NullType()).label(c.name) for c in columns]


def _exists(conn: sa.Connection, name: str) -> bool:
    return sa.inspect(conn).has_table(name)


# --- the checks -----------------------------------------------------------------------------


def check(
    conn: sa.Connection, tenant_id: str, chains: Mapping[str, Sequence[SignedEntry]]
) -> Checked:
    """Every column copied from a signed body, against the readable signed entries of the
    tenant's chains (`chains`: chain id → entries, as the verifier read them)."""
    rows = _Rows()
    # Only bodies that hash to their entry's hash: an altered body is the chain check's
    # finding, and a column that disagrees with it proves nothing more.
    intact = {c: [s for s in items if entry_hash(s.entry) == s.hash] for c, items in chains.items()}
    by_place = {(c, s.seq): s for c, items in intact.items() for s in items}
    server = intact.get(SERVER_PREFIX + tenant_id, [])
    issued = {
        str(s.entry.payload["number"]): s
        for s in server
        if s.entry.type in _ISSUED_KINDS and isinstance(s.entry.payload.get("number"), str)
    }
    _journal_columns(rows, conn, tenant_id, by_place, issued)
    if _exists(conn, "documents") and "valuation_digest" in _columns(conn, "documents"):
        _documents(rows, conn, tenant_id, issued)
    if _exists(conn, "document_files"):
        _document_files(rows, conn, tenant_id, server)
    if _exists(conn, "office_payments"):
        _payments(rows, conn, tenant_id, server)
    _valuations(rows, conn, tenant_id, by_place)
    return rows.checked


def _columns(conn: sa.Connection, name: str) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(name)}


def _mission_named(payload: Mapping[str, Any]) -> str | None:
    """The mission column of a tablet's entry: the payload's `mission_id` when it fits
    (as server.devices.ingest.mission_of writes it; that module is above this one)."""
    mission_id = payload.get("mission_id")
    if isinstance(mission_id, str) and 0 < len(mission_id) <= 64:
        return mission_id
    return None


def _journal_columns(
    rows: _Rows,
    conn: sa.Connection,
    tenant_id: str,
    by_place: Mapping[tuple[str, int], SignedEntry],
    issued: Mapping[str, SignedEntry],
) -> None:
    query = (
        sa.select(*raw(journal_entries, ("device_id", "seq", "mission_id", "facts", "ref")))
        .where(journal_entries.c.tenant_id == tenant_id)
        .order_by(journal_entries.c.device_id, journal_entries.c.seq)
    )
    for row in conn.execute(query).mappings():
        rows.checked.rows += 1
        signed = by_place.get((row["device_id"], row["seq"]))
        if signed is None:
            continue  # unreadable, or its device or number changed: the verifier names it
        place = RowWhere(table="journal_entries", chain=row["device_id"], seq=signed.seq)
        payload = signed.entry.payload
        if str(row["device_id"]).startswith(SERVER_PREFIX):
            mission: object = _MISSING  # an office decision's mission is not in its body
            if signed.entry.type in _ISSUED_KINDS:
                mission = payload.get("mission_id", _MISSING)
            elif signed.entry.type == EntryType.DOCUMENT_RENDERED:
                issuer = issued.get(str(payload.get("number")))
                mission = _MISSING if issuer is None else issuer.entry.payload.get("mission_id")
            elif signed.entry.type in (EntryType.CLOSING, EntryType.OFFICE_PAYMENT):
                mission = None
            rows.compare(place, row, "mission_id", _text, mission)
            rows.compare(place, row, "facts", _text, None)  # no rule reads the server's chain
            rows.compare(place, row, "ref", _text, None)
            continue
        data = plain(payload)
        rows.compare(place, row, "mission_id", _text, _mission_named(data))
        facts = rows.read(place, row, "facts", _text)
        if facts is not None:
            rows.compare(place, row, "facts", _text, reconcile_facts.facts_of(data))
        want = reconcile_facts.ref_of(str(signed.entry.type), data)
        stored_ref = rows.read(place, row, "ref", _text)
        if facts is not None or stored_ref is not None:  # no facts: a row read from its body
            rows.compare(place, row, "ref", _text, want)


def _documents(
    rows: _Rows, conn: sa.Connection, tenant_id: str, issued: Mapping[str, SignedEntry]
) -> None:
    names = [c.name for c in documents.c if c.name not in ("pdf", "facturx")]
    query = (
        sa.select(*raw(documents, names))
        .where(documents.c.tenant_id == tenant_id)
        .order_by(documents.c.number)
    )
    for row in conn.execute(query).mappings():
        rows.checked.rows += 1
        number = str(row["number"])
        signed = issued.get(number)
        if signed is None:
            continue  # no entry issued it: the verifier names the document
        place = RowWhere(
            table="documents", row=number, chain=signed.entry.device_id, seq=signed.seq
        )
        payload = plain(signed.entry.payload)
        series, _, digits = number.rpartition("-")
        rows.compare(place, row, "series", _required_text, series)
        rows.compare(place, row, "seq", _int, int(digits) if digits.isdigit() else _MISSING)
        rows.compare(place, row, "kind", _required_text, _ISSUED_KINDS[signed.entry.type])
        rows.compare(place, row, "journal_seq", _int, signed.seq)
        rows.compare(place, row, "created_by", _required_text, signed.entry.driver_id)
        for column in ("mission_id", "recipient_kind"):
            rows.compare(place, row, column, _required_text, payload.get(column, _MISSING))
        for column in ("recipient", "by_rate"):
            rows.compare(place, row, column, _json, payload.get(column, _MISSING))
        issued_at = payload.get("issued_at")
        rows.compare(
            place,
            row,
            "issued_at",
            _instant,
            _signed_instant(issued_at) if isinstance(issued_at, str) else _MISSING,
        )
        total = payload.get("total")
        for column, name in _TOTALS.items():
            expected = _cents(total.get(name)) if isinstance(total, dict) else _MISSING
            rows.compare(place, row, column, _int, expected)
        credit = signed.entry.type == EntryType.CREDIT_NOTE_ISSUED
        rows.compare(place, row, "corrects", _text, payload.get("corrects") if credit else None)
        rows.compare(place, row, "reason", _text, payload.get("reason") if credit else None)
        # Not signed, but read by every page and export: their type at least.
        for column in ("lines", "seller"):
            rows.compare(place, row, column, _json)
        rows.compare(place, row, "service_date", _day)
        rows.compare(place, row, "currency", _required_text)


def _signed_instant(text: str) -> object:
    try:
        return _instant(text)
    except _Unreadable:
        return _MISSING


def _document_files(
    rows: _Rows, conn: sa.Connection, tenant_id: str, server: Sequence[SignedEntry]
) -> None:
    rendered = {
        str(s.entry.payload["number"]): s
        for s in server
        if s.entry.type == EntryType.DOCUMENT_RENDERED
        and isinstance(s.entry.payload.get("number"), str)
    }
    names = ["number", "pdf_sha256", "facturx_sha256", "journal_seq", "rendered_at"]
    query = (
        sa.select(*raw(document_files, names))
        .where(document_files.c.tenant_id == tenant_id)
        .order_by(document_files.c.number)
    )
    for row in conn.execute(query).mappings():
        rows.checked.rows += 1
        number = str(row["number"])
        signed = rendered.get(number)
        if signed is None:
            rows.add(
                RowWhere(table="document_files", row=number),
                "aucune entrée document_rendered du journal du serveur ne signe ces fichiers.",
                "no document_rendered entry of the server journal signs these files.",
            )
            continue
        place = RowWhere(
            table="document_files", row=number, chain=signed.entry.device_id, seq=signed.seq
        )
        payload = signed.entry.payload
        rows.compare(place, row, "pdf_sha256", _required_text, payload.get("pdf_sha256"))
        rows.compare(place, row, "facturx_sha256", _text, payload.get("facturx_sha256"))
        rows.compare(place, row, "journal_seq", _int, signed.seq)
        rows.compare(place, row, "rendered_at", _at, signed.entry.at)


# --- office payments ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Use:
    """A line of office_payment_uses as its signed entry gives it."""

    signed: SignedEntry
    kind: str
    invoice: str | None
    amount: object
    on: object
    reference: str | None


def _signed_payments(
    server: Sequence[SignedEntry],
) -> tuple[dict[str, SignedEntry], dict[tuple[str, int], _Use]]:
    """The `received` entry of each payment, and every use by (payment, line number): the
    received entry's uses are lines 1…n, each later act the next line (office_payments)."""
    received: dict[str, SignedEntry] = {}
    uses: dict[tuple[str, int], _Use] = {}
    lines: dict[str, int] = {}
    for signed in server:
        payload = plain(signed.entry.payload)
        number = payload.get("number")
        if signed.entry.type != EntryType.OFFICE_PAYMENT or not isinstance(number, str):
            continue
        if payload.get("act") == "received":
            received[number] = signed
            listed = payload.get("uses") if isinstance(payload.get("uses"), list) else []
            for item in listed:
                lines[number] = lines.get(number, 0) + 1
                invoice = item.get("invoice") if isinstance(item, dict) else None
                amount = _cents(item.get("amount")) if isinstance(item, dict) else _MISSING
                on = _iso_day(payload.get("received_on"))
                uses[(number, lines[number])] = _Use(signed, "invoice", invoice, amount, on, None)
            continue
        lines[number] = lines.get(number, 0) + 1
        kind = "refund" if payload.get("act") == "refunded" else "invoice"
        uses[(number, lines[number])] = _Use(
            signed,
            kind,
            payload.get("invoice"),
            _cents(payload.get("amount")),
            _iso_day(payload.get("on")),
            payload.get("reference"),
        )
    return received, uses


def _iso_day(text: object) -> object:
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        return _MISSING


def _payments(
    rows: _Rows, conn: sa.Connection, tenant_id: str, server: Sequence[SignedEntry]
) -> None:
    received, uses = _signed_payments(server)
    seen: set[str] = set()
    query = (
        sa.select(*raw(office_payments))
        .where(office_payments.c.tenant_id == tenant_id)
        .order_by(office_payments.c.number)
    )
    for row in conn.execute(query).mappings():
        rows.checked.rows += 1
        number = str(row["number"])
        seen.add(number)
        signed = received.get(number)
        if signed is None:
            rows.add(
                RowWhere(table="office_payments", row=number),
                "aucune entrée office_payment du journal du serveur n'a enregistré ce règlement.",
                "no office_payment entry of the server journal recorded this payment.",
            )
            continue
        place = RowWhere(
            table="office_payments", row=number, chain=signed.entry.device_id, seq=signed.seq
        )
        payload = plain(signed.entry.payload)
        rows.compare(place, row, "received_on", _day, _iso_day(payload.get("received_on")))
        rows.compare(place, row, "method", _required_text, payload.get("method", _MISSING))
        rows.compare(place, row, "amount_cents", _int, _cents(payload.get("amount")))
        rows.compare(place, row, "reference", _text, payload.get("reference"))
        rows.compare(place, row, "customer", _required_text, _cut(payload.get("customer"), 160))
        rows.compare(place, row, "payer", _required_text, _cut(payload.get("payer"), 200))
        rows.compare(place, row, "recorded_by", _required_text, signed.entry.driver_id)
        rows.compare(place, row, "recorded_at", _at, signed.entry.at)
        rows.compare(place, row, "journal_seq", _int, signed.seq)
        rows.compare(place, row, "note", _text)  # the office's memo: not signed
    for number in sorted(set(received) - seen):
        signed = received[number]
        rows.add(
            RowWhere(
                table="office_payments", row=number, chain=signed.entry.device_id, seq=signed.seq
            ),
            "le règlement que cette entrée signée enregistre n'est pas dans la base.",
            "the payment this signed entry records is not in the database.",
        )
    _payment_uses(rows, conn, tenant_id, uses)


def _cut(value: object, size: int) -> object:
    return value[:size] if isinstance(value, str) else _MISSING


def _payment_uses(
    rows: _Rows, conn: sa.Connection, tenant_id: str, uses: Mapping[tuple[str, int], _Use]
) -> None:
    seen: set[tuple[str, int]] = set()
    query = (
        sa.select(*raw(office_payment_uses))
        .where(office_payment_uses.c.tenant_id == tenant_id)
        .order_by(office_payment_uses.c.payment_number, office_payment_uses.c.line_no)
    )
    for row in conn.execute(query).mappings():
        rows.checked.rows += 1
        key = (str(row["payment_number"]), row["line_no"])
        label = f"{key[0]} n° {key[1]}"
        seen.add(key)
        use = uses.get(key) if type(key[1]) is int else None
        if use is None:
            rows.add(
                RowWhere(table="office_payment_uses", row=label),
                "aucune entrée office_payment du journal du serveur ne signe cette affectation.",
                "no office_payment entry of the server journal signs this use.",
            )
            continue
        signed = use.signed
        place = RowWhere(
            table="office_payment_uses", row=label, chain=signed.entry.device_id, seq=signed.seq
        )
        rows.compare(place, row, "kind", _required_text, use.kind)
        rows.compare(place, row, "invoice_number", _text, use.invoice)
        rows.compare(place, row, "amount_cents", _int, use.amount)
        rows.compare(place, row, "on_date", _day, use.on)
        rows.compare(place, row, "reference", _text, use.reference)
        rows.compare(place, row, "by", _required_text, signed.entry.driver_id)
        rows.compare(place, row, "at", _at, signed.entry.at)
        rows.compare(place, row, "journal_seq", _int, signed.seq)
    for key in sorted(set(uses) - seen):
        signed = uses[key].signed
        rows.add(
            RowWhere(
                table="office_payment_uses",
                row=f"{key[0]} n° {key[1]}",
                chain=signed.entry.device_id,
                seq=signed.seq,
            ),
            "l'affectation que cette entrée signée enregistre n'est pas dans la base.",
            "the use this signed entry records is not in the database.",
        )


# --- valuations -----------------------------------------------------------------------------


def _valuations(
    rows: _Rows,
    conn: sa.Connection,
    tenant_id: str,
    by_place: Mapping[tuple[str, int], SignedEntry],
) -> None:
    """A tablet's valuation is copied from its signed entry; the server's own, computed
    from it, is at least read (its digest and due amount against its body)."""
    query = (
        sa.select(*raw(valuations))
        .where(valuations.c.tenant_id == tenant_id)
        .order_by(valuations.c.id)
    )
    for row in conn.execute(query).mappings():
        rows.checked.rows += 1
        label = str(row["id"])
        place = RowWhere(table="valuations", row=label)
        body = rows.read(place, row, "body", _json)
        signed = None
        if row["device_id"] is not None:
            signed = by_place.get((row["device_id"], row["entry_seq"]))
        if signed is not None:
            place = RowWhere(
                table="valuations", row=label, chain=signed.entry.device_id, seq=signed.seq
            )
            payload = plain(signed.entry.payload)
            rows.compare(place, row, "mission_id", _required_text, _mission_named(payload))
            device = payload.get("valuation")
            if row["source"] == "device" and isinstance(device, dict) and body is not None:
                rows.compare(place, row, "body", _canonical, canonical_json(device).decode("utf-8"))
                body = device
        if not isinstance(body, dict):
            continue
        digest = body.get("digest")
        rows.compare(place, row, "digest", _required_text, str(digest)[:64] if digest else _MISSING)
        due = beneficiary_due(body)
        rows.compare(place, row, "beneficiary_due_cents", _int, _MISSING if due is None else due)
        figures = valuation_figures.columns(body)
        if all(row[column] is None for column in figures):
            continue  # stored without them: reconciliation reads the body itself
        rows.compare(place, row, "contract_id", _text, figures["contract_id"])
        for column in ("contract_version", "file_cap_before_cents"):
            rows.compare(place, row, column, _optional_int, figures[column])


def _canonical(value: object) -> str:
    """A JSON text column, as the canonical JSON of what it holds."""
    try:
        return canonical_json(_json(value)).decode("utf-8")
    except (TypeError, ValueError):  # a binary float: no signed body holds one
        raise _Unreadable("JSON non canonique", "not canonical JSON") from None


# --- files, for the verifier ----------------------------------------------------------------


def as_bytes(value: object) -> bytes:
    """A file column's bytes; text an insider put there is read as its UTF-8 bytes (its
    hash then differs from the signed one, which is the finding)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def rendered_files(
    conn: sa.Connection, tenant_id: str, number: str
) -> dict[str, bytes | None] | None:
    """A document's files rendered after its issue (server.office.document_files), read as
    stored (that module's reader would raise on a corrupt column), or None."""
    if not _exists(conn, "document_files"):
        return None
    row = conn.execute(
        sa.select(*raw(document_files, ("pdf", "facturx"))).where(
            document_files.c.tenant_id == tenant_id, document_files.c.number == number
        )
    ).first()
    if row is None:
        return None
    return {
        "pdf": None if row.pdf is None else as_bytes(row.pdf),
        "facturx": None if row.facturx is None else as_bytes(row.facturx),
    }

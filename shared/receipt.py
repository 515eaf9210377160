"""The receipt a driver hands the customer on the spot, offline, for each collection.

Built from signed entries only, so the tablet (at the roadside) and the server (the PDF
after sync) make the same receipt: the `collection` entry (its `receipt` block: the
number in the tablet's gapless series and what was settled before, and the payer as
known then), the tablet's `valuation_recorded` entry the collection followed (the lines,
who pays what), the mission document, and the seller's identity.

French law: a written note (*note*) is due for any service of 25 € TTC or more (arrêté
n° 83-50/A du 3 octobre 1983): date of writing, the provider's name and address, the
customer's name (unless they object), date and place of the service, each service with
its quantity and unit price, the total excl. and incl. VAT; the original to the
customer, the copy kept by the provider (the tablet's journal and the server's copy of
it). `blocks` lays out every mention in French or English; the command line prints them,
the driver's screen shows them full-screen and the server writes them into a PDF.

The seller's identity printed is the one the tablet held when it collected: the
collection's `receipt` block names it by `seller` {digest, version} (`seller_ref`,
`seller_digest`: SHA-256 of its canonical JSON), so the server prints the same one even
after the company's address changed. Entries recorded before that field carry none and
print the identity the reader holds now; an identity the server cannot find prints the
current one with `seller_note` saying so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from shared import calendar
from shared.beneficiary import Beneficiary, from_document
from shared.canonical import canonical_json
from shared.i18n import Text
from shared.money import ZERO, format_amount, parse_amount
from shared.time_words import day_words, zone_words

NOTE_THRESHOLD = Decimal("25.00")  # € TTC: a written note is due from this amount
NUMBER_WIDTH = 6
METHODS: Mapping[str, Text] = {
    "cash": Text("espèces", "cash"),
    "card": Text("carte bancaire", "card"),
    "cheque": Text("chèque", "cheque"),
    "transfer": Text("virement", "bank transfer"),
    "payment_link": Text("lien de paiement", "payment link"),
}


@dataclass(frozen=True, slots=True)
class Totals:
    excl: Decimal
    vat: Decimal
    incl: Decimal


@dataclass(frozen=True, slots=True)
class Line:
    label: Text
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    vat_rate: Decimal
    ordering_party: Decimal  # this line's share of each payer, in the price basis
    beneficiary: Decimal


@dataclass(frozen=True, slots=True)
class Receipt:
    number: int  # in the tablet's series: 1, 2, 3… with no gap
    series: str  # the tablet's device id
    written_at: datetime  # the collection entry's time, in the tenant's time zone
    mission_id: str
    file_number: str | None
    ordering_party: str | None
    plate: str | None
    service_day: date
    place: str | None
    seller: Mapping[str, str] | None
    beneficiary: Beneficiary | None
    prices_include_vat: bool
    lines: tuple[Line, ...]
    ordering_party_totals: Totals
    beneficiary_totals: Totals
    total: Totals
    method: str
    amount: Decimal
    evidence: Mapping[str, str]
    settled_before: Decimal  # collected (net), discounted and deferred before this one
    driver: str | None
    seller_note: Text | None = None  # the identity printed is not the one the tablet had

    @property
    def ident(self) -> str:
        """The receipt's number as printed: the series and the number, e.g.
        `dev_3f9a…-000012`."""
        return receipt_ident(self.series, self.number)

    @property
    def remaining_after(self) -> Decimal:
        return max(self.beneficiary_totals.incl - self.settled_before - self.amount, ZERO)

    @property
    def note_required(self) -> bool:
        return self.total.incl >= NOTE_THRESHOLD

    def to_json(self) -> dict[str, Any]:
        return {
            "receipt": self.ident,
            "number": self.number,
            "series": self.series,
            "written_at": self.written_at.isoformat(),
            "mission_id": self.mission_id,
            "file_number": self.file_number,
            "plate": self.plate,
            "service_day": self.service_day.isoformat(),
            "place": self.place,
            "seller": dict(self.seller) if self.seller else None,
            "seller_note": None
            if self.seller_note is None
            else {"fr": self.seller_note.fr, "en": self.seller_note.en},
            "beneficiary": self.beneficiary.to_wire() if self.beneficiary else None,
            "method": self.method,
            "amount": str(self.amount),
            "evidence": dict(self.evidence),
            "settled_before": str(self.settled_before),
            "remaining_after": str(self.remaining_after),
            "payers": {
                "ordering_party": _totals_json(self.ordering_party_totals),
                "beneficiary": _totals_json(self.beneficiary_totals),
                "total": _totals_json(self.total),
            },
            "note_required": self.note_required,
        }


def receipt_ident(series: str, number: int) -> str:
    return f"{series}-{number:0{NUMBER_WIDTH}d}"


def _totals_json(totals: Totals) -> dict[str, str]:
    return {"excl_vat": str(totals.excl), "vat": str(totals.vat), "incl_vat": str(totals.incl)}


def receipt_block(
    number: int,
    settled_before: Decimal,
    payer: Beneficiary | None,
    place: str | None = None,
    seller: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a `collection` entry's payload carries under `receipt`: the number, what was
    settled before it, the payer and the place as known then, and which seller identity
    the tablet printed (`seller_ref`) — so the receipt can be made again, the same, from
    the entry."""
    block: dict[str, Any] = {"number": number, "settled_before": str(settled_before)}
    if payer is not None and not payer.empty:
        block["payer"] = payer.to_wire()
    if place:
        block["place"] = place
    if seller:
        block["seller"] = dict(seller)
    return block


def seller_digest(seller: Mapping[str, Any]) -> str:
    """The identity's fingerprint: SHA-256 of its canonical JSON (values as text)."""
    texts = {str(k): str(v) for k, v in seller.items() if v is not None}
    return hashlib.sha256(canonical_json(texts)).hexdigest()


def seller_ref(seller: Mapping[str, Any] | None, version: int | None) -> dict[str, Any] | None:
    """What a collection names of the identity printed: {digest, version}; None without
    one. `version`: the server's number for it, when the tablet was told."""
    if not seller:
        return None
    ref: dict[str, Any] = {"digest": seller_digest(seller)}
    if version is not None:
        ref["version"] = version
    return ref


def seller_ref_of(payload: Mapping[str, Any]) -> str | None:
    """The digest of the seller identity a collection payload names (None: not named,
    recorded before the field existed or with no identity known)."""
    block = payload.get("receipt")
    ref = block.get("seller") if isinstance(block, Mapping) else None
    digest = ref.get("digest") if isinstance(ref, Mapping) else None
    return digest if isinstance(digest, str) and digest else None


def number_of(payload: Mapping[str, Any]) -> int | None:
    """The receipt number a collection payload carries (None: recorded before receipts)."""
    block = payload.get("receipt")
    if isinstance(block, Mapping) and isinstance(block.get("number"), int):
        return int(block["number"])
    return None


# --- building ---------------------------------------------------------------------------------


def _amount(value: object) -> Decimal:
    return parse_amount(value) if value is not None else ZERO


def _totals(data: object) -> Totals:
    body = data if isinstance(data, Mapping) else {}
    return Totals(
        _amount(body.get("excl_vat")), _amount(body.get("vat")), _amount(body.get("incl_vat"))
    )


def _part(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object of the wire data, or an empty one."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _line(data: Mapping[str, Any]) -> Line:
    label = _part(data, "label")
    code = str(data.get("code") or "")
    shares = _part(data, "shares")
    return Line(
        Text(str(label.get("fr") or code), str(label.get("en") or code)),
        Decimal(str(data.get("quantity") or "1")),
        _amount(data.get("unit_price")),
        _amount(data.get("amount")),
        Decimal(str(data.get("vat_rate") or "0")),
        _amount(shares.get("ordering_party")),
        _amount(shares.get("beneficiary")),
    )


EVIDENCE_FIELDS = ("terminal_ref", "cheque_number", "bank", "reference", "tendered", "change")


def build(
    *,
    device_id: str,
    at: datetime,
    collection: Mapping[str, Any],
    valuation: Mapping[str, Any],
    mission: Mapping[str, Any],
    seller: Mapping[str, Any] | None,
    timezone: str,
    driver: str | None = None,
    seller_note: Text | None = None,
) -> Receipt:
    """The receipt of one collection entry (`collection`: its payload, `at`: its time)."""
    number = number_of(collection)
    if number is None:
        raise ValueError("this collection was recorded before receipts were numbered")
    block = collection["receipt"]
    payers = _part(valuation, "payers")
    call = _part(mission, "times").get("call")
    service_at = datetime.fromisoformat(call) if isinstance(call, str) else at
    vehicle = _part(mission, "vehicle")
    return Receipt(
        number=number,
        series=device_id,
        written_at=calendar.local(at, timezone),
        mission_id=str(collection.get("mission_id")),
        file_number=mission.get("file_number"),
        ordering_party=mission.get("ordering_party"),
        plate=vehicle.get("plate"),
        service_day=calendar.local(service_at, timezone).date(),
        place=block.get("place") if isinstance(block.get("place"), str) else None,
        seller={k: str(v) for k, v in seller.items() if v is not None} if seller else None,
        beneficiary=from_document(block.get("payer")),
        prices_include_vat=bool(valuation.get("prices_include_vat")),
        lines=tuple(_line(x) for x in valuation.get("lines") or () if isinstance(x, Mapping)),
        ordering_party_totals=_totals(payers.get("ordering_party")),
        beneficiary_totals=_totals(payers.get("beneficiary")),
        total=_totals(valuation.get("total")),
        method=str(collection.get("method")),
        amount=_amount(collection.get("amount")),
        evidence={k: str(collection[k]) for k in EVIDENCE_FIELDS if collection.get(k) is not None},
        settled_before=_amount(block.get("settled_before")),
        driver=driver,
        seller_note=seller_note,
    )


# --- laying it out ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block:
    """A part of the receipt: a title and rows of (what, how much); `strong` rows stand
    out (the amount received)."""

    title: str
    rows: tuple[tuple[str, str], ...]
    strong: frozenset[int] = frozenset()


def _money(value: Decimal, lang: str) -> str:
    return format_amount(value, lang)


def _number(value: Decimal, lang: str) -> str:
    text = f"{value.normalize():f}"
    return text.replace(".", ",") if lang == "fr" else text


def _rate(value: Decimal, lang: str) -> str:
    return f"{_number(value, lang)}\u00a0%"


def title(receipt: Receipt, lang: str) -> str:
    return Text(f"Reçu n° {receipt.ident}", f"Receipt no. {receipt.ident}")(lang)


def seller_lines(seller: Mapping[str, str] | None, lang: str) -> list[str]:
    """The provider's name, address and identifiers; a sentence when the tablet has not
    learnt them yet (it does at its next sync)."""
    if not seller:
        return [
            Text(
                "Identité de l'entreprise non encore reçue sur cette tablette (synchronisez) :"
                " elle figure sur le reçu PDF que le bureau peut envoyer.",
                "The company's identity has not reached this tablet yet (sync): it is on the"
                " PDF receipt the office can send.",
            )(lang)
        ]
    lines = [seller.get("name", "")]
    lines.extend(x.strip() for x in seller.get("address", "").splitlines() if x.strip())
    lines.append(" ".join(p for p in (seller.get("postcode"), seller.get("city")) if p))
    ids = []
    if seller.get("siret"):
        ids.append(f"SIRET {seller['siret']}")
    if seller.get("vat_number"):
        ids.append(Text("TVA", "VAT")(lang) + f" {seller['vat_number']}")
    if ids:
        lines.append(" – ".join(ids))
    if seller.get("phone"):
        lines.append(Text("Tél.", "Phone")(lang) + f" {seller['phone']}")
    return [x for x in lines if x]


def blocks(receipt: Receipt, lang: str) -> list[Block]:
    """Every mention of the receipt, in order, in one language."""

    def t(fr: str, en: str) -> str:
        return Text(fr, en)(lang)

    company = tuple(("", x) for x in seller_lines(receipt.seller, lang))
    if receipt.seller_note is not None:
        company += (("", receipt.seller_note(lang)),)
    out = [Block(t("Entreprise", "Company"), company)]
    who = receipt.beneficiary
    customer = (
        tuple(("", x) for x in who.postal_lines())
        if who is not None and who.postal_lines()
        else ((("", t("non communiqué", "not given")),))
    )
    out.append(Block(t("Client", "Customer"), customer))
    service: list[tuple[str, str]] = [
        (t("Date de la prestation", "Date of service"), day_words(receipt.service_day, lang)),
    ]
    if receipt.place:
        service.append((t("Lieu", "Place"), receipt.place))
    service.append((t("Mission", "Mission"), receipt.mission_id))
    if receipt.file_number:
        service.append((t("Dossier", "File"), receipt.file_number))
    if receipt.plate:
        service.append((t("Véhicule", "Vehicle"), receipt.plate))
    out.append(Block(t("Prestation", "Service"), tuple(service)))

    basis = t("TTC", "incl. VAT") if receipt.prices_include_vat else t("HT", "excl. VAT")
    party = receipt.ordering_party or t("le donneur d'ordre", "the ordering party")
    lines: list[tuple[str, str]] = []
    for line in receipt.lines:
        detail = (
            f"{_number(line.quantity, lang)} × {_money(line.unit_price, lang)} {basis}"
            f" = {_money(line.amount, lang)} ({t('TVA', 'VAT')} {_rate(line.vat_rate, lang)})"
        )
        lines.append((line.label(lang), detail))
        if line.ordering_party and line.beneficiary:
            yours = f"{_money(line.beneficiary, lang)} {basis}"
            share = t(f"dont à votre charge : {yours}", f"of which yours: {yours}")
        elif line.ordering_party:
            share = t(f"pris en charge par {party}", f"covered by {party}")
        else:
            share = t("à votre charge", "yours to pay")
        lines.append(("", share))
    out.append(Block(t("Détail", "Details"), tuple(lines)))

    def totals_row(what: str, totals: Totals) -> tuple[str, str]:
        return (
            what,
            f"{t('HT', 'excl. VAT')} {_money(totals.excl, lang)} · {t('TVA', 'VAT')}"
            f" {_money(totals.vat, lang)} · {t('TTC', 'incl. VAT')} {_money(totals.incl, lang)}",
        )

    payer_rows = []
    if receipt.ordering_party_totals.incl:
        covered = t(f"Pris en charge par {party}", f"Covered by {party}")
        payer_rows.append(totals_row(covered, receipt.ordering_party_totals))
    payer_rows.append(totals_row(t("À votre charge", "Yours to pay"), receipt.beneficiary_totals))
    payer_rows.append(
        totals_row(t("Total de la prestation", "Total of the service"), receipt.total)
    )
    out.append(Block(t("Qui paie quoi", "Who pays what"), tuple(payer_rows)))

    method = METHODS.get(receipt.method)
    paid: list[tuple[str, str]] = [
        (
            t("Reçu ce jour", "Received today"),
            f"{_money(receipt.amount, lang)} ({method(lang) if method else receipt.method})",
        )
    ]
    evidence = receipt.evidence
    if evidence.get("terminal_ref"):
        paid.append((t("Autorisation carte", "Card authorisation"), evidence["terminal_ref"]))
    if evidence.get("cheque_number"):
        bank = f" ({evidence['bank']})" if evidence.get("bank") else ""
        paid.append((t("Chèque n°", "Cheque no."), evidence["cheque_number"] + bank))
    if evidence.get("reference"):
        paid.append((t("Référence", "Reference"), evidence["reference"]))
    if evidence.get("tendered"):
        paid.append((t("Remis", "Handed over"), _money(parse_amount(evidence["tendered"]), lang)))
        paid.append(
            (t("Rendu", "Change"), _money(parse_amount(evidence.get("change") or "0"), lang))
        )
    if receipt.settled_before:
        paid.append((t("Déjà réglé avant", "Settled before"), _money(receipt.settled_before, lang)))
    paid.append(
        (t("Reste à votre charge", "Left for you to pay"), _money(receipt.remaining_after, lang))
    )
    out.append(Block(t("Règlement", "Payment"), tuple(paid), frozenset({0})))

    # The zone is named (the tenant's, which the tablet learns with the seller's identity):
    # 09:00 alone is ambiguous for a company working across zones. Only the words change;
    # the signed entry's `receipt` block is untouched.
    at = receipt.written_at
    written = f"{day_words(at.date(), lang)} {at:%H:%M}"
    if isinstance(at.tzinfo, ZoneInfo):
        written += f", {zone_words(at.tzinfo, lang)}"
    footer = [(t("Établi le", "Written on"), written)]
    if receipt.driver:
        footer.append((t("Chauffeur", "Driver"), receipt.driver))
    footer.append((t("Tablette", "Tablet"), receipt.series))
    footer.append(
        (
            "",
            t(
                "Note établie selon l'arrêté n° 83-50/A du 3 octobre 1983 (prestation de 25 € TTC"
                " ou plus) : original remis au client, double conservé par l'entreprise.",
                "Written note under French order no. 83-50/A of 3 October 1983 (services of"
                " €25 incl. VAT or more): original to the customer, copy kept by the company.",
            )
            if receipt.note_required
            else t(
                "Original remis au client, double conservé par l'entreprise.",
                "Original to the customer, copy kept by the company.",
            ),
        )
    )
    out.append(Block(t("Reçu", "Receipt"), tuple(footer)))
    return out


def as_text(receipt: Receipt, lang: str) -> str:
    """The receipt as plain text, for the command line."""
    out = [title(receipt, lang), "=" * len(title(receipt, lang))]
    for block in blocks(receipt, lang):
        out.append("")
        out.append(block.title.upper())
        width = max((len(left) for left, _ in block.rows), default=0)
        for index, (left, right) in enumerate(block.rows):
            text = f"  {left.ljust(width)}  {right}" if width else f"  {right}"
            out.append(text.rstrip() + (" ◀" if index in block.strong else ""))
    return "\n".join(out)

"""The contract document (JSON) and its validation into a `Contract`.

Unknown fields and bad values are refused with every problem named by its path, in
French and English, before anything uses the contract. docs/contracts.md is the
reference for this format.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared import calendar
from shared.canonical import digest
from shared.catalogue import Catalogue
from shared.contract import WEEKDAYS, Combine, Contract, Instant, Payer
from shared.contract_build import catalogue_of, contract_from_data
from shared.errors import InvalidDocument
from shared.i18n import Text
from shared.money import ZERO
from shared.payment_terms import DepositWhen, Method, PayWhen
from shared.schema_tools import AmountField, DecimalField, bilingual, problems
from shared.site_fact_rules import problems as site_fact_problems
from shared.site_fact_schema import SiteFactsSchema

FORMAT = "towline.contract/1"
_CODE = validate.Regexp(
    r"^(\*|[A-Z0-9]+(\.[A-Z0-9]+){0,2})$",
    error=bilingual(
        "code de prestation attendu, par ex. TOW ou TOW.VL ou *",
        "a service code is expected, e.g. TOW or TOW.VL or *",
    ),
)
_ID = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
    error=bilingual(
        "identifiant attendu : lettres, chiffres, _ . - (64 au plus)",
        "an identifier is expected: letters, digits, _ . - (64 at most)",
    ),
)
_HHMM = validate.Regexp(
    r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$",
    error=bilingual("heure attendue au format HH:MM (00:00 à 24:00)", "time expected as HH:MM"),
)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _LabelSchema(_Strict):
    fr = fields.String(required=True, validate=validate.Length(min=1))
    en = fields.String(required=True, validate=validate.Length(min=1))


class _SegmentSchema(_Strict):
    name = fields.String(required=True, validate=validate.OneOf(["family", "class", "variant"]))
    values = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[A-Z0-9]{1,8}$")),
        values=fields.Nested(_LabelSchema),
        required=True,
        validate=validate.Length(min=1),
    )


class _CatalogueSchema(_Strict):
    separator = fields.String(load_default=".", validate=validate.OneOf([".", "-", "/"]))
    segments = fields.List(fields.Nested(_SegmentSchema), required=True)

    @validates_schema
    def _three_segments(self, data: dict[str, Any], **kwargs: Any) -> None:
        names = [s["name"] for s in data.get("segments", [])]
        if names != ["family", "class", "variant"]:
            raise ValidationError(
                bilingual(
                    "les segments sont, dans l'ordre : family, class, variant",
                    "the segments are, in order: family, class, variant",
                ),
                "segments",
            )


class _HolidaysSchema(_Strict):
    country = fields.String(load_default="FR", validate=validate.Regexp(r"^[A-Z]{2}$"))
    subdivision = fields.String(load_default=None, allow_none=True)


class _AmountSchema(_Strict):
    amount = AmountField(required=True)
    includes_vat = fields.Boolean(required=True)


class _PartySchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class _VehicleClassSchema(_Strict):
    code = fields.String(required=True)
    max_weight_kg = fields.Integer(required=True, allow_none=True, strict=True)


class _DiscountSchema(_Strict):
    code = fields.String(required=True, validate=_CODE)
    percent = DecimalField(required=True, minimum=Decimal(0))


class _CustomerSchema(_Strict):
    price_list = fields.String(load_default=None, allow_none=True)
    discounts = fields.List(fields.Nested(_DiscountSchema), load_default=list)


class _TierSchema(_Strict):
    up_to_km = DecimalField(required=True, allow_none=True, minimum=Decimal(0))
    price = AmountField(required=True)


class _DistanceSchema(_Strict):
    legs = fields.List(
        fields.String(validate=validate.OneOf(["en_route", "loaded", "return"])),
        required=True,
        validate=validate.Length(min=1),
    )
    included_km = DecimalField(required=True, minimum=Decimal(0))
    tiers = fields.List(fields.Nested(_TierSchema), required=True, validate=validate.Length(min=1))
    code = fields.String(load_default="KM")

    @validates_schema
    def _tiers_ascend(self, data: dict[str, Any], **kwargs: Any) -> None:
        limits = [t["up_to_km"] for t in data.get("tiers", [])]
        if any(limit is None for limit in limits[:-1]) or limits[-1:] != [None]:
            raise ValidationError(
                bilingual(
                    "seule la dernière tranche est sans limite (up_to_km: null), "
                    "et elle est obligatoire",
                    "only the last tier is unlimited (up_to_km: null), and it is required",
                ),
                "tiers",
            )
        bounded = [limit for limit in limits if limit is not None]
        if bounded != sorted(set(bounded)) or any(
            limit <= data["included_km"] for limit in bounded
        ):
            raise ValidationError(
                bilingual(
                    "les tranches croissent et commencent après les km inclus",
                    "tiers ascend and start after the included km",
                ),
                "tiers",
            )


class _BandSchema(_Strict):
    id = fields.String(required=True, validate=_ID)
    label = fields.String(load_default=None, allow_none=True)
    percent = DecimalField(required=True, minimum=Decimal(0))
    applies_to = fields.List(fields.String(validate=_CODE), required=True)
    days = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), load_default=None)
    start = fields.String(load_default="00:00", data_key="from", validate=_HHMM)
    end = fields.String(load_default="24:00", data_key="to", validate=_HHMM)
    public_holidays = fields.Boolean(load_default=False)


class _BandsSchema(_Strict):
    decided_by = fields.String(load_default="call", validate=validate.OneOf(list(Instant)))
    combine = fields.String(load_default="highest", validate=validate.OneOf(list(Combine)))
    bands = fields.List(fields.Nested(_BandSchema), load_default=list)


_FactValue = fields.Raw()


class _SupplementSchema(_Strict):
    code = fields.String(required=True, validate=_CODE)
    when = fields.Dict(keys=fields.String(), values=_FactValue, load_default=dict)


class _CoverageSchema(_Strict):
    code = fields.String(required=True, validate=_CODE)
    payer = fields.String(required=True, validate=validate.OneOf(list(Payer)))
    when = fields.Dict(keys=fields.String(), values=_FactValue, load_default=dict)
    band = fields.String(load_default=None, allow_none=True)


class _CapsSchema(_Strict):
    mission = fields.Nested(_AmountSchema, load_default=None, allow_none=True)
    file = fields.Nested(_AmountSchema, load_default=None, allow_none=True)


class _DepositSchema(_Strict):
    when = fields.String(load_default="exempt", validate=validate.OneOf(list(DepositWhen)))
    amount = AmountField(load_default=ZERO)


class _PaymentSchema(_Strict):
    beneficiary_pays = fields.String(
        load_default="before_departure", validate=validate.OneOf(list(PayWhen))
    )
    methods = fields.List(
        fields.String(validate=validate.OneOf(list(Method))),
        load_default=lambda: [m.value for m in Method],
        validate=validate.Length(min=1),
    )
    deposit = fields.Nested(_DepositSchema, load_default=lambda: _DepositSchema().load({}))


class ContractSchema(_Strict):
    format = fields.String(required=True, validate=validate.Equal(FORMAT))
    id = fields.String(required=True, validate=_ID)
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    label = fields.String(required=True, validate=validate.Length(min=1, max=200))
    ordering_party = fields.Nested(_PartySchema, required=True, allow_none=True)
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(load_default=None, allow_none=True)
    currency = fields.String(load_default="EUR", validate=validate.OneOf(["EUR"]))
    timezone = fields.String(load_default="Europe/Paris")
    holidays = fields.Nested(_HolidaysSchema, load_default=lambda: _HolidaysSchema().load({}))
    prices_include_vat = fields.Boolean(required=True)
    vat_rate = DecimalField(required=True, minimum=Decimal(0))
    vat_rates = fields.Dict(
        keys=fields.String(validate=_CODE),
        values=DecimalField(minimum=Decimal(0)),
        load_default=dict,
    )
    catalogue = fields.Nested(_CatalogueSchema, load_default=None, allow_none=True)
    vehicle_classes = fields.List(fields.Nested(_VehicleClassSchema), load_default=list)
    weight_decides = fields.Boolean(load_default=False)
    price_lists = fields.Dict(
        keys=fields.String(validate=_ID),
        values=fields.Dict(keys=fields.String(validate=_CODE), values=AmountField()),
        required=True,
        validate=validate.Length(min=1),
    )
    price_list = fields.String(required=True)
    at_cost = fields.List(fields.String(validate=_CODE), load_default=list)
    customers = fields.Dict(
        keys=fields.String(validate=_ID), values=fields.Nested(_CustomerSchema), load_default=dict
    )
    distance = fields.Nested(_DistanceSchema, load_default=None, allow_none=True)
    time_bands = fields.Nested(_BandsSchema, load_default=lambda: _BandsSchema().load({}))
    supplements = fields.List(fields.Nested(_SupplementSchema), load_default=list)
    coverage = fields.List(fields.Nested(_CoverageSchema), load_default=list)
    deductible = fields.Nested(_AmountSchema, load_default=None, allow_none=True)
    caps = fields.Nested(_CapsSchema, load_default=lambda: _CapsSchema().load({}))
    payment = fields.Nested(_PaymentSchema, load_default=lambda: _PaymentSchema().load({}))
    site_facts = fields.Nested(SiteFactsSchema, load_default=None, allow_none=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}

        def add(path: str, fr: str, en: str) -> None:
            errors.setdefault(path, []).append(bilingual(fr, en))

        try:
            ZoneInfo(data.get("timezone", "Europe/Paris"))
        except (ZoneInfoNotFoundError, ValueError):
            add("timezone", "fuseau horaire inconnu", "unknown time zone")
        until, start = data.get("valid_until"), data.get("valid_from")
        if until is not None and start is not None and until < start:
            add("valid_until", "antérieure à valid_from", "before valid_from")
        lists = data.get("price_lists", {})
        if data.get("price_list") not in lists:
            add("price_list", "n'est pas une des price_lists", "is not one of price_lists")
        for name, terms in data.get("customers", {}).items():
            if terms["price_list"] is not None and terms["price_list"] not in lists:
                add(f"customers.{name}.price_list", "liste de prix inconnue", "unknown price list")
        catalogue = catalogue_of(data.get("catalogue"))
        _check_codes(data, catalogue, add)
        private = data.get("ordering_party") is None
        if private:
            for i, rule in enumerate(data.get("coverage", [])):
                if rule["payer"] == Payer.ORDERING_PARTY:
                    add(
                        f"coverage.{i}.payer",
                        "contrat sans donneur d'ordre : seul le bénéficiaire paie",
                        "contract without ordering party: only the beneficiary pays",
                    )
            caps = data.get("caps") or {}
            if data.get("deductible") or caps.get("mission") or caps.get("file"):
                add(
                    "caps",
                    "plafonds et franchise n'ont de sens qu'avec un donneur d'ordre",
                    "caps and deductible only make sense with an ordering party",
                )
        for path, fr, en in site_fact_problems(data.get("site_facts"), private):
            add(path, fr, en)
        if data.get("weight_decides") and not data.get("vehicle_classes"):
            add("weight_decides", "donnez les vehicle_classes", "give the vehicle_classes")
        holidays = data.get("holidays") or {}
        try:
            calendar.holiday_names(holidays.get("country", "FR"), holidays.get("subdivision"), 2026)
        except (NotImplementedError, KeyError, ValueError):
            add("holidays", "pays ou subdivision inconnus", "unknown country or subdivision")
        for path, when in _conditions(data):
            for fact, value in when.items():
                if not isinstance(value, bool | str | list) or (
                    isinstance(value, list) and not all(isinstance(v, str) for v in value)
                ):
                    add(
                        f"{path}.{fact}",
                        "une condition vaut true/false, un texte ou une liste de textes",
                        "a condition is true/false, a string or a list of strings",
                    )
        ids = [band["id"] for band in data.get("time_bands", {}).get("bands", [])]
        if len(ids) != len(set(ids)):
            add("time_bands.bands", "identifiants en double", "duplicate ids")
        if errors:
            raise ValidationError(errors)


def _conditions(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    found = [
        (f"supplements.{i}.when", s["when"]) for i, s in enumerate(data.get("supplements", []))
    ]
    found += [(f"coverage.{i}.when", c["when"]) for i, c in enumerate(data.get("coverage", []))]
    return found


def _check_codes(data: Mapping[str, Any], catalogue: Catalogue, add: Any) -> None:
    """Every code a contract names must exist in its catalogue (a typo prices nothing)."""

    def check(path: str, code: str, family_only: bool = False) -> None:
        if code == "*":
            return
        if not catalogue.is_known(code) or (family_only and catalogue.separator in code):
            add(path, f"code inconnu du catalogue : {code}", f"code not in the catalogue: {code}")

    for name, prices in data.get("price_lists", {}).items():
        for code in prices:
            check(f"price_lists.{name}.{code}", code)
    for key, rate_code in enumerate(data.get("vat_rates", {})):
        check(f"vat_rates.{key}", rate_code)
    for i, code in enumerate(data.get("at_cost", [])):
        check(f"at_cost.{i}", code, family_only=True)
    for i, vc in enumerate(data.get("vehicle_classes", [])):
        if vc["code"] not in catalogue.segment("class").values:
            add(f"vehicle_classes.{i}.code", "classe inconnue", "unknown vehicle class")
    for name, terms in data.get("customers", {}).items():
        for i, disc in enumerate(terms["discounts"]):
            check(f"customers.{name}.discounts.{i}.code", disc["code"])
    if data.get("distance"):
        check("distance.code", data["distance"]["code"], family_only=True)
    for i, band in enumerate(data.get("time_bands", {}).get("bands", [])):
        for j, code in enumerate(band["applies_to"]):
            check(f"time_bands.bands.{i}.applies_to.{j}", code)
    for i, sup in enumerate(data.get("supplements", [])):
        check(f"supplements.{i}.code", sup["code"], family_only=True)
    for i, rule in enumerate(data.get("coverage", [])):
        check(f"coverage.{i}.code", rule["code"])


CONTRACT = Text("Convention invalide", "Invalid contract")


def load_contract(document: Any) -> Contract:
    """Validate a contract document (parsed JSON) and build the `Contract` value.

    Raises `InvalidDocument` listing every problem with its path.
    """
    if not isinstance(document, Mapping):
        raise InvalidDocument(CONTRACT, problems(["Invalid input type."]))
    try:
        data = ContractSchema().load(document)
    except ValidationError as exc:
        raise InvalidDocument(CONTRACT, problems(exc.messages)) from None
    return contract_from_data(data, digest(document))

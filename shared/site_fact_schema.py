"""The schema of a contract's `site_facts` block (marshmallow): what a driver may change
alone of what the order said. The rules it loads into are `shared.site_fact_rules`, which
the tablet imports without marshmallow (docs/field-client.md "Speed").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.schema_tools import DecimalField, bilingual
from shared.site_fact_rules import Allow


class _RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    allow = fields.String(required=True, validate=validate.OneOf(list(Allow)))
    percent = DecimalField(load_default=None, minimum=Decimal(0))
    absolute = DecimalField(load_default=None, minimum=Decimal(0))

    @validates_schema
    def _tolerance(self, data: dict[str, Any], **kwargs: Any) -> None:
        given = data.get("percent") is not None or data.get("absolute") is not None
        if data.get("allow") == Allow.TOLERANCE and not given:
            raise ValidationError(
                bilingual(
                    "une tolérance donne percent, absolute ou les deux",
                    "a tolerance gives percent, absolute or both",
                ),
                "allow",
            )
        if data.get("allow") != Allow.TOLERANCE and given:
            raise ValidationError(
                bilingual(
                    "percent et absolute ne vont qu'avec allow: tolerance",
                    "percent and absolute go only with allow: tolerance",
                ),
                "allow",
            )


def _optional_rule() -> fields.Nested:
    return fields.Nested(_RuleSchema, load_default=None, allow_none=True)


class SiteFactsSchema(Schema):
    """`{"default": rule, "distance": rule, …}`, each rule `{"allow", "percent"?, "absolute"?}`."""

    class Meta:
        unknown = RAISE

    default = _optional_rule()
    distance = _optional_rule()
    services = _optional_rule()
    waiting = _optional_rule()
    storage = _optional_rule()
    at_cost = _optional_rule()
    accident = _optional_rule()
    weight = _optional_rule()
    vehicle_class = _optional_rule()

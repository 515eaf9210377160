"""`towline-field facts`: what the driver found on site, beside what the order said."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click

from fieldclient import attachments
from fieldclient import site_facts as facts_on_tablet
from fieldclient.cli.common import Env, command
from fieldclient.site_facts_text import recorded_json, recorded_text, rows, table
from shared.errors import Refused
from shared.mission import LEGS
from shared.site_facts_found import Found, Receipt

COMMANDS: list[click.Command] = []


class KmType(click.ParamType):  # type: ignore[type-arg]  # generic only in click 8.2+
    """A distance or an odometer reading: 12, 12.5 or 12,5; never negative."""

    name = "km"

    def convert(self, value: Any, param: click.Parameter | None, ctx: Any) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            number = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            number = Decimal(-1)
        if not number.is_finite() or number < 0 or number >= 10**7:
            self.fail(f"« {value} » : nombre de km attendu, par ex. 85 / a number of km, e.g. 85")
        return number


KM = KmType()


def _odometer(texts: tuple[str, ...]) -> dict[str, tuple[Decimal, Decimal]]:
    out = {}
    for text in texts:
        leg, _, rest = text.partition(":")
        start, _, end = rest.partition(":")
        if leg not in LEGS or not start or not end:
            raise click.BadParameter(
                f"« {text} » : TRAJET:DÉBUT:FIN, trajet parmi {', '.join(LEGS)}"
                f" / LEG:START:END, leg among {', '.join(LEGS)}",
                param_hint="--odometer",
            )
        out[leg] = (KM.convert(start, None, None), KM.convert(end, None, None))
    return out


def _at_cost(texts: tuple[str, ...]) -> tuple[list[tuple[str, Decimal, Receipt]], dict[str, bytes]]:
    """FAMILY:AMOUNT:RECEIPT: each item with the photo of its receipt, read and checked
    before anything is recorded."""
    items, photos = [], {}
    for text in texts:
        family, _, rest = text.partition(":")
        amount_text, _, path = rest.partition(":")
        try:
            amount = Decimal(amount_text.strip().replace(",", "."))
        except InvalidOperation:
            amount = Decimal(0)
        if not family or not path or not amount.is_finite() or amount <= 0:
            raise click.BadParameter(
                f"« {text} » : FAMILLE:MONTANT:PHOTO, par ex. TOLL:12.40:ticket.jpg"
                " / FAMILY:AMOUNT:PHOTO, e.g. TOLL:12.40:ticket.jpg",
                param_hint="--at-cost",
            )
        file = Path(path)
        try:
            attachments.check_size(file.stat().st_size)
            data = file.read_bytes()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise attachments.BadAttachment(
                f"Lecture impossible du justificatif {file} : {reason}",
                f"Cannot read the receipt {file}: {reason}",
            ) from None
        cited = facts_on_tablet.receipt(data)
        photos[cited.sha256] = data
        items.append((family.strip().upper(), amount, cited))
    return items, photos


@command(COMMANDS)
@click.argument("mission")
@click.option("--km-en-route", type=KM, default=None, help="Km driven to the scene.")
@click.option("--km-loaded", type=KM, default=None, help="Km with the vehicle loaded.")
@click.option("--km-return", type=KM, default=None, help="Km back.")
@click.option(
    "--odometer",
    multiple=True,
    metavar="LEG:START:END",
    help="Odometer readings instead of a distance, e.g. loaded:12034:12119 (repeat per leg).",
)
@click.option("--add-service", multiple=True, metavar="CODE", help="A service done: WIN, REP…")
@click.option("--remove-service", multiple=True, metavar="CODE", help="A service not done.")
@click.option("--waiting", type=click.IntRange(0, 10_000), default=None, help="Waiting, minutes.")
@click.option("--storage-days", type=click.IntRange(0, 3650), default=None, help="Storage days.")
@click.option(
    "--at-cost",
    multiple=True,
    metavar="FAMILY:AMOUNT:PHOTO",
    help="An item paid at cost with the photo of its receipt, e.g. TOLL:12.40:ticket.jpg.",
)
@click.option("--accident/--no-accident", default=None, help="The vehicle was in an accident.")
@click.option("--weight", type=click.IntRange(1, 100_000), default=None, help="Weight seen, kg.")
@click.option("--class", "vehicle_class", default=None, help="Class seen: VL, VLP, PL…")
@click.option("--code", default=None, help="The manager's approval code, when one is needed.")
@click.option(
    "--for-office",
    is_flag=True,
    help="No code: keep facts beyond the tolerance for the office (the price does not move).",
)
def facts(
    env: Env,
    mission: str,
    km_en_route: Decimal | None,
    km_loaded: Decimal | None,
    km_return: Decimal | None,
    odometer: tuple[str, ...],
    add_service: tuple[str, ...],
    remove_service: tuple[str, ...],
    waiting: int | None,
    storage_days: int | None,
    at_cost: tuple[str, ...],
    accident: bool | None,
    weight: int | None,
    vehicle_class: str | None,
    code: str | None,
    for_office: bool,
) -> None:
    """Record what you found on site when it differs from the order: the mission is valued
    again at once, offline, and the gate follows the new amount. Without options: the
    order against what was recorded on site.

    What you may change alone is the ordering party's rule (its contract): beyond it,
    ask the manager for a code of kind "site facts" for the amount the refusal names, or
    keep the facts for the office with --for-office.

    \b
    Examples:
      towline-field facts M-A-0003 --km-loaded 95
      towline-field facts M-A-0003 --odometer loaded:12034:12119 --add-service WIN
      towline-field facts M-A-0003 --at-cost TOLL:12.40:ticket.jpg --storage-days 3
      towline-field facts M-A-0003 --accident --weight 2200 --class VLP --code 37K3H-EHHP4
      towline-field facts M-A-0003

    Exit codes: 0 recorded (or shown); 2 bad input (unknown service, unreadable receipt,
    odometer going backwards); 3 refused (nothing changes, a code is needed, the price
    cannot be made, nobody signed in, unknown mission).
    """
    tablet = env.tablet
    distances = {
        leg: km
        for leg, km in (("en_route", km_en_route), ("loaded", km_loaded), ("return", km_return))
        if km is not None
    }
    items, photos = _at_cost(at_cost)
    found = Found(
        distance_km=distances,
        odometer=_odometer(odometer),
        add_services=add_service,
        remove_services=remove_service,
        waiting_minutes=None if waiting is None else Decimal(waiting),
        storage_days=None if storage_days is None else Decimal(storage_days),
        at_cost=tuple(items),
        accident=accident,
        weight_kg=weight,
        vehicle_class=vehicle_class,
    )
    if found.empty():
        tablet.signed_in()
        site = facts_on_tablet.on_site(tablet, mission)
        env.out({"mission": mission, "facts": rows(site, env.lang)}, table(site, env.lang))
        return
    try:
        result = tablet.record_site_facts(mission, found, photos, code=code, for_office=for_office)
    except facts_on_tablet.ApprovalNeeded as needed:  # the same refusal, with this command's words
        raise Refused(
            needed.text.fr + " (--code CODE, ou --for-office)",
            needed.text.en + " (--code CODE, or --for-office)",
        ) from None
    env.out(recorded_json(result, env.lang), recorded_text(result, env.lang))

"""`towline-field receipt` and `beneficiary`: what the customer is handed on the spot,
and who they are (docs/field-client.md "The receipt at the scene", "The beneficiary")."""

from __future__ import annotations

import click

from fieldclient import beneficiaries, receipts
from fieldclient.cli.common import Env, command
from shared.beneficiary import LABELS
from shared.receipt import as_text

COMMANDS: list[click.Command] = []


@command(COMMANDS)
@click.argument("mission")
@click.option(
    "--number",
    type=click.IntRange(min=1),
    default=None,
    help="The receipt's number on this tablet (default: the mission's latest).",
)
@click.option("--all", "every", is_flag=True, help="Every receipt of the mission, in order.")
def receipt(env: Env, mission: str, number: int | None, every: bool) -> None:
    """The receipt of a collection, to show or read to the customer: its number (gapless
    on this tablet), the company, the customer, the service, who pays what (excl. VAT,
    VAT, incl. VAT) and the amount and method received. Works offline; the office has it
    as a PDF after the next sync.

    \b
    Examples:
      towline-field receipt M-A-0003
      towline-field receipt R-0012 --number 41 --lang en
      towline-field receipt M-A-0003 --all --json

    Exit codes: 0 shown; 3 nothing collected on the mission on this tablet (or not that
    number), unknown mission, tablet not enrolled.
    """
    tablet = env.tablet
    tablet.mission(mission)  # UnknownMission, NotReady
    chosen: list[int | None] = list(receipts.numbers(tablet.db, mission)) if every else [number]
    if not chosen:
        chosen = [None]  # says there is none
    made = [
        receipts.receipt(
            tablet.db,
            device_id=tablet.device_id,
            timezone=tablet.timezone,
            mission_id=mission,
            number=n,
        )
        for n in chosen
    ]
    body = [r.to_json() for r in made]
    env.out(
        body if every else body[0],
        ("\n\n" + "-" * 40 + "\n\n").join(as_text(r, env.lang) for r in made),
    )


@command(COMMANDS)
@click.argument("mission")
@click.option("--name", default=None, help="Who pays on site, e.g. 'Marie Dupont'.")
@click.option("--address", default=None, help="Street and number.")
@click.option("--postcode", default=None, help="Postcode, e.g. 69003.")
@click.option("--city", default=None, help="City.")
@click.option("--phone", default=None, help="Phone, e.g. 06 12 34 56 78 or +44 20 7946 0000.")
@click.option("--email", default=None, help="E-mail address.")
@click.option("--place", default=None, help="Where the service was done (printed on receipts).")
def beneficiary(
    env: Env,
    mission: str,
    name: str | None,
    address: str | None,
    postcode: str | None,
    city: str | None,
    phone: str | None,
    email: str | None,
    place: str | None,
) -> None:
    """Who pays on site (all optional; what the order gave is used until the driver says
    otherwise), recorded as one signed entry: the receipts that follow and the
    beneficiary's invoice name them. Without options, shows who the tablet knows.

    \b
    Examples:
      towline-field beneficiary M-A-0003 --name "Marie Dupont" --phone "06 12 34 56 78"
      towline-field beneficiary R-0012 --address "4 rue Neuve" --postcode 69003 --city Lyon
      towline-field beneficiary M-A-0003 --place "A7, sortie 12, Vienne"
      towline-field beneficiary M-A-0003

    Exit codes: 0 recorded or shown; 2 a field that does not read (phone, e-mail,
    postcode…), each named, nothing recorded; 3 unknown mission, nobody signed in.
    """
    tablet = env.tablet
    typed = {
        "name": name,
        "address": address,
        "postcode": postcode,
        "city": city,
        "phone": phone,
        "email": email,
    }
    if any(v is not None for v in (*typed.values(), place)):
        tablet.record_beneficiary(mission, typed, place)
        head = env.t("Enregistré.", "Recorded.")
    else:
        tablet.mission(mission)
        head = ""
    who = beneficiaries.of_mission(tablet.db, mission, tablet.mission_document(mission))
    where = beneficiaries.place_of(tablet.db, mission)
    lines = [head] if head else []
    if who is None:
        lines.append(env.t("Bénéficiaire non renseigné.", "No beneficiary given."))
    else:
        for field, value in who.to_wire().items():
            lines.append(f"{LABELS[field](env.lang)}{env.t(' :', ':')} {value}")
    if where:
        lines.append(env.t(f"Lieu : {where}", f"Place: {where}"))
    env.out(
        {"mission": mission, "beneficiary": who.to_wire() if who else None, "place": where},
        "\n".join(lines),
    )

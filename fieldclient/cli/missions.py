"""`towline-field missions`, `show`, `attach`, `new`, `step`, `collect`, `discount`, `defer` and
`dispute`: the driver's missions, and the gate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from fieldclient import driver_words, elsewhere, render, road_ids
from fieldclient.cli.common import (
    AMOUNT,
    Env,
    command,
    read,
)
from fieldclient.tablet import Recorded
from shared.mission import MISSION
from shared.money import format_amount, wire
from shared.payment_terms import Method
from shared.payments import EVIDENCE, LABELS
from shared.steps import Step

COMMANDS: list[click.Command] = []


@command(COMMANDS)
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day to list (default: today); unfinished missions are always listed.",
)
def missions(env: Env, day: Any) -> None:
    """The missions of the day and every one not finished yet, with what remains to collect.

    \b
    Example:
      towline-field missions
      towline-field missions --day 2026-03-14 --json
    """
    chosen: date | None = day.date() if day else None
    rows = env.tablet.mission_rows(day=chosen)
    env.out(rows, render.missions_text(rows, env.lang))


@command(COMMANDS)
@click.argument("mission")
def show(env: Env, mission: str) -> None:
    """One mission: who pays what and why, what remains to collect, the next steps and
    whether the gate holds them.

    \b
    Example:
      towline-field show M-A-0003
    """
    from fieldclient import attachments  # the list only: `missions` and `step` need none

    view = env.tablet.view(mission)
    body, text = render.mission_json(view, env.lang), render.mission_text(view, env.lang)
    elsewhere_note = elsewhere.note(env.tablet.db, mission, env.tablet.device_id, env.lang)
    if elsewhere_note:
        text += "\n" + elsewhere_note
    kept = attachments.for_mission(env.tablet.db, mission)
    body["attachments"] = [a.to_json() for a in kept]
    if kept:
        sent = sum(1 for a in kept if a.complete)
        text += env.t(
            f"\nPièces jointes : {len(kept)} ({sent} reçue(s) par le bureau).",
            f"\nAttachments: {len(kept)} ({sent} received by the office).",
        )
    env.out(body, text)


@command(COMMANDS)
@click.argument("mission")
@click.option(
    "--kind",
    required=True,
    type=driver_words.KIND,
    help="What it shows: the vehicle (photo), the customer's signature, the handover report"
    " (pv), a receipt (justificatif), other (autre).",
)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def attach(env: Env, mission: str, kind: str, file: Path) -> None:
    """Attach FILE to MISSION: a photo of the vehicle, the customer's signature, the signed
    handover report. JPEG, PNG, WebP or PDF (read from the bytes, not the name), at most
    8 MiB (TOWLINE_ATTACHMENT_MAX_BYTES). Kept on the tablet for good; it travels to the
    office at the next sync, resuming where a dropped link stopped it.

    \b
    Examples:
      towline-field attach M-A-0003 --kind vehicle_photo avant-gauche.jpg
      towline-field attach M-A-0003 --kind handover_report pv-remise.pdf --json

    Exit codes: 0 kept (the same file again: kept once), 2 not a picture or a PDF, empty
    or too large, 3 unknown mission or nobody signed in.
    """
    from fieldclient import attachments

    tablet = env.tablet
    tablet.signed_in()
    try:
        attachments.check_size(file.stat().st_size)
        data = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise attachments.BadAttachment(
            f"Lecture impossible de {file} : {reason}", f"Cannot read {file}: {reason}"
        ) from None
    kept, new = attachments.attach(tablet, mission, kind, data)
    label_fr, label_en = attachments.KIND_LABELS[kind]
    size_fr, size_en = attachments.sizes(kept.size)
    if new:
        text = env.t(
            f"{label_fr.capitalize()} jointe à {mission} ({kept.content_type}, {size_fr}) :"
            " envoyée au bureau à la prochaine synchronisation.",
            f"{label_en.capitalize()} attached to {mission} ({kept.content_type}, {size_en}):"
            " sent to the office at the next sync.",
        )
    else:
        text = env.t(
            f"Ce fichier est déjà joint à {mission} ({label_fr}) : rien de plus n'est gardé.",
            f"This file is already attached to {mission} ({label_en}): nothing more is kept.",
        )
    env.out({**kept.to_json(), "new": new}, text)


def _service(text: str) -> dict[str, Any]:
    code, _, quantity = text.partition(":")
    service: dict[str, Any] = {"code": code.strip().upper()}
    if quantity:
        service["quantity"] = quantity.strip()
    return service


@command(COMMANDS, "new-mission")
@click.option(
    "--id", "mission_id", default=None, help="Default: the next short id, R-0001, R-0002…"
)
@click.option("--plate", default=None, help="The vehicle's plate.")
@click.option("--class", "vehicle_class", default=None, help="Vehicle class, e.g. VL.")
@click.option("--weight", type=click.IntRange(1, 100_000), default=None, help="Weight in kg.")
@click.option(
    "--service",
    "services",
    multiple=True,
    metavar="CODE[:QTY]",
    help="A service done (repeat): TOW, REP, WIN…",
)
@click.option("--km-en-route", default=None, help="Kilometres to the scene.")
@click.option("--km-loaded", default=None, help="Kilometres with the vehicle loaded.")
@click.option("--km-return", default=None, help="Kilometres back.")
@click.option("--customer", default=None, help="The customer's name.")
@click.option("--fact", "facts", multiple=True, metavar="NAME[=VALUE]", help="e.g. accident.")
@click.option(
    "--document",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A whole mission document (JSON) instead of the options.",
)
def new_mission(
    env: Env,
    mission_id: str | None,
    plate: str | None,
    vehicle_class: str | None,
    weight: int | None,
    services: tuple[str, ...],
    km_en_route: str | None,
    km_loaded: str | None,
    km_return: str | None,
    customer: str | None,
    facts: tuple[str, ...],
    document: Path | None,
) -> None:
    """A private customer met on the road: create the mission on the tablet, valued with
    the private customers' contract. The office learns it at the next sync.

    \b
    Example:
      towline-field new-mission --plate AB-123-CD --class VL --service TOW --km-loaded 12
    """
    tablet = env.tablet
    tablet.signed_in()
    if document is not None:
        doc = read(document, MISSION)
    else:
        distances = {
            leg: km
            for leg, km in (("en_route", km_en_route), ("loaded", km_loaded), ("return", km_return))
            if km is not None
        }
        doc = {
            "id": mission_id or tablet.next_mission_id(),
            "customer": customer,
            "vehicle": {"plate": plate, "class": vehicle_class, "weight_kg": weight},
            "times": {"call": tablet.now().isoformat(timespec="seconds")},
            "distance_km": distances,
            "facts": {
                k.strip(): (v.strip() if sep else True)
                for k, sep, v in (f.partition("=") for f in facts)
            },
            "services": [_service(s) for s in services],
        }
    recorded = tablet.new_mission(doc)
    view = tablet.view(str(doc.get("id")))
    short = road_ids.short(view.mission.id, tablet.device_id)
    env.out(
        {
            "mission": view.mission.id,
            "short": short,
            **render.mission_json(view, env.lang),
            "seq": recorded.seq,
        },
        env.t(f"Mission créée : {short}.\n\n", f"Mission created: {short}.\n\n")
        + render.mission_text(view, env.lang),
    )


@command(COMMANDS)
@click.argument("mission")
@click.argument("step", type=driver_words.STEP)
def step(env: Env, mission: str, step: str) -> None:
    """Move MISSION to STEP. Refused while the gate holds it: the message says what is
    still owed and what to do.

    \b
    STEP in English or French: en_route, on_site (sur_place), departed (depart,
    quitte), delivered (livre), closed (cloture), cancelled (annule), gone_on_arrival
    (personne). A road mission answers to its short id (R-0012).

    \b
    Examples:
      towline-field step M-A-0003 departed
      towline-field step R-0012 quitte
    """
    recorded = env.tablet.step(mission, step)
    label = render.step_label(Step(step), env.lang)
    env.out(
        {"mission": mission, "step": step, "seq": recorded.seq},
        env.t(f"{mission} : {label}.", f"{mission}: {label}."),
    )


def _money_line(env: Env, recorded: Recorded) -> str:
    money = recorded.money
    if money is None:
        return ""
    left = format_amount(money.remaining, env.lang)
    return env.t(f"Reste à encaisser : {left}.", f"Remaining to collect: {left}.")


@command(COMMANDS)
@click.argument("mission")
@click.option(
    "--method",
    required=True,
    type=driver_words.METHOD,
    help="How it was paid: cash (especes), card (carte), cheque, transfer (virement),"
    " payment_link (lien).",
)
@click.option("--amount", required=True, type=AMOUNT, help="The amount collected, e.g. 164.00.")
@click.option("--tendered", type=AMOUNT, default=None, help="Cash: what the customer handed over.")
@click.option("--terminal-ref", default=None, help="Card: the terminal's authorisation reference.")
@click.option("--cheque-number", default=None, help="Cheque: its number.")
@click.option("--bank", default=None, help="Cheque: its bank.")
@click.option("--reference", default=None, help="Transfer or payment link: its reference.")
def collect(
    env: Env,
    mission: str,
    method: str,
    amount: Decimal,
    tendered: Decimal | None,
    terminal_ref: str | None,
    cheque_number: str | None,
    bank: str | None,
    reference: str | None,
) -> None:
    """Record money taken from the customer, with the evidence its method needs.

    \b
    Evidence per method:
      cash          --tendered (the change is worked out)
      card          --terminal-ref (on the terminal's receipt)
      cheque        --cheque-number and --bank
      transfer      --reference
      payment_link  --reference

    \b
    Examples:
      towline-field collect M-A-0003 --method card --amount 164.00 --terminal-ref AUT-7731
      towline-field collect M-A-0003 --method cash --amount 64.00 --tendered 70.00
      towline-field collect R-0012 --method especes --amount 64.00 --tendered 70.00
    """
    given = {
        "tendered": None if tendered is None else wire(tendered),
        "terminal_ref": terminal_ref,
        "cheque_number": cheque_number,
        "bank": bank,
        "reference": reference,
    }
    chosen = Method(method)
    asked = EVIDENCE[chosen]
    missing = [
        f"{render.EVIDENCE_OPTIONS[name]} ({text(env.lang)})"
        for name, text in asked.items()
        if not (given[name] or "").strip()
    ]
    extra = [render.EVIDENCE_OPTIONS[n] for n, v in given.items() if v and n not in asked]
    if missing or extra:
        problems = []
        if missing:
            problems.append(env.t("manque ", "missing ") + ", ".join(missing))
        if extra:
            problems.append(
                env.t("sans objet pour ce mode : ", "not for this method: ") + ", ".join(extra)
            )
        raise click.UsageError("; ".join(problems))
    evidence = {name: given[name] for name in asked}
    recorded = env.tablet.collect(mission, method, wire(amount), evidence)
    change = recorded.payload.get("change")
    text = env.t(
        f"Encaissé : {format_amount(amount, 'fr')} ({LABELS[chosen].fr}).",
        f"Collected: {format_amount(amount, 'en')} ({LABELS[chosen].en}).",
    )
    if change:
        text += env.t(
            f" Monnaie à rendre : {format_amount(Decimal(change), 'fr')}.",
            f" Change to give: {format_amount(Decimal(change), 'en')}.",
        )
    from shared.receipt import receipt_ident  # collect alone prints one

    number = receipt_ident(env.tablet.device_id, recorded.payload["receipt"]["number"])
    text += env.t(
        f"\nReçu n° {number} : towline-field receipt {mission}",
        f"\nReceipt no. {number}: towline-field receipt {mission}",
    )
    env.out(
        {"seq": recorded.seq, "hash": recorded.hash, **dict(recorded.payload)},
        "\n".join([text, _money_line(env, recorded)]),
    )


@command(COMMANDS)
@click.argument("mission")
@click.option("--amount", required=True, type=AMOUNT, help="The discount, e.g. 20.00.")
@click.option("--code", required=True, help="The manager's approval code, read out by phone.")
def discount(env: Env, mission: str, amount: Decimal, code: str) -> None:
    """A discount the manager approved by phone: the code is checked offline, bound to
    this mission and this amount, valid 30 minutes, once.

    \b
    Example:
      towline-field discount M-A-0003 --amount 20.00 --code 37K3H-EHHP4
      towline-field discount M-A-0003 --amount 20.00 --code 37K3H EHHP4   (as read out)
    """
    recorded = env.tablet.discount(mission, wire(amount), code)
    env.out(
        {"seq": recorded.seq, **dict(recorded.payload)},
        env.t(
            f"Remise de {format_amount(amount, 'fr')} enregistrée.",
            f"Discount of {format_amount(amount, 'en')} recorded.",
        )
        + "\n"
        + _money_line(env, recorded),
    )


@command(COMMANDS)
@click.argument("mission")
@click.option("--code", required=True, help="The manager's approval code for 'bill later'.")
@click.option("--amount", type=AMOUNT, default=None, help="Default: the whole remaining amount.")
def defer(env: Env, mission: str, code: str, amount: Decimal | None) -> None:
    """ "Bill later" for the whole remaining amount, approved by the manager's code.

    When the customer still owes money on other invoices, the company's choice applies:
    a warning is printed (warn), or the deferral is refused and nothing is recorded
    (block, exit code 3).

    \b
    Example:
      towline-field defer M-A-0003 --code 37K3H-EHHP4
    """
    recorded = env.tablet.defer(mission, code, None if amount is None else wire(amount))
    warning = recorded.warning(env.lang) if recorded.warning else None
    env.out(
        {"seq": recorded.seq, **dict(recorded.payload), "warning": warning},
        (warning + "\n" if warning else "")
        + env.t("Facturation ultérieure enregistrée.", "Bill-later recorded.")
        + "\n"
        + _money_line(env, recorded),
    )


@command(COMMANDS)
@click.argument("mission")
@click.option("--reason", required=True, help="What seems wrong with the price.")
def dispute(env: Env, mission: str, reason: str) -> None:
    """Tell the office the price looks wrong (instead of inventing a collection).

    \b
    Example:
      towline-field dispute M-A-0001 --reason "Le péage était inclus selon le client"
    """
    recorded = env.tablet.dispute(mission, reason)
    env.out(
        {"seq": recorded.seq, **dict(recorded.payload)},
        env.t(
            "Litige transmis au bureau à la prochaine synchronisation.",
            "Dispute sent to the office at the next sync.",
        ),
    )

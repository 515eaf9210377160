"""`towline-field`: the tablet's command line.

Exit codes (docs/cli.md): 0 ok; 2 bad input (usage, malformed amount, unknown method,
missing evidence, unreadable or invalid document); 3 refused by a business rule (gate
closed, collection or approval refused, nobody signed in…); 4 integrity failure (the
journal or the database does not verify); 5 server unreachable (the work is kept and
will sync later).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

from fieldclient import attachments, render
from fieldclient.home import Home, default_home
from fieldclient.integrity import verify
from fieldclient.tablet import IntegrityFailure, Recorded, Tablet
from shared.contract_schema import CONTRACT, load_contract
from shared.errors import InvalidDocument, Problem, TowlineError
from shared.explain import breakdown, explain
from shared.i18n import Text, choose_lang
from shared.mission import MISSION, load_mission
from shared.money import format_amount, parse_amount, wire
from shared.payment_terms import Method
from shared.payments import EVIDENCE, LABELS
from shared.schema_tools import parse_json
from shared.steps import Step
from shared.valuation import ValuationContext, value
from sync.errors import Refused as ServerRefused
from sync.errors import ServerUnreachable, SyncError

EXIT_INPUT = 2
EXIT_REFUSED = 3
EXIT_INTEGRITY = 4
EXIT_UNREACHABLE = 5

# What the server says when the tablet's journal and the server's disagree.
_INTEGRITY_CODES = frozenset({"fork", "ack_mismatch", "server_ahead", "journal_invalid"})

F = TypeVar("F", bound=Callable[..., Any])


def _lang(explicit: str | None) -> str:
    return choose_lang(
        explicit, os.environ.get("TOWLINE_LANG"), os.environ.get("LC_ALL"), os.environ.get("LANG")
    )


def _read(path: Path, what: Text) -> Any:
    """A JSON document from a file; unreadable or malformed files are bad input."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidDocument(
            what,
            [Problem(str(path), Text(f"lecture impossible : {reason}", f"cannot read: {reason}"))],
        ) from None
    return parse_json(text, what)


def _exit_code(error: Exception) -> int:
    if isinstance(error, IntegrityFailure):
        return EXIT_INTEGRITY
    if isinstance(error, InvalidDocument | attachments.BadAttachment):
        return EXIT_INPUT
    if isinstance(error, ServerUnreachable):
        return EXIT_UNREACHABLE
    if isinstance(error, ServerRefused) and error.code in _INTEGRITY_CODES:
        return EXIT_INTEGRITY
    return EXIT_REFUSED


class Env:
    """What every command gets: the home folder, the language, JSON or text."""

    def __init__(self, home: Path | None, lang: str | None, as_json: bool) -> None:
        self.home = Home(home or default_home())
        self.lang = _lang(lang)
        self.as_json = as_json
        self._tablet: Tablet | None = None

    @property
    def tablet(self) -> Tablet:
        if self._tablet is None:
            self._tablet = Tablet(self.home)
        return self._tablet

    def out(self, body: Any, text: str) -> None:
        if self.as_json:
            click.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
        else:
            click.echo(text)

    def t(self, fr: str, en: str) -> str:
        return fr if self.lang == "fr" else en


def command(group: click.Group, name: str | None = None) -> Callable[[F], F]:
    """A tablet command: --home, --lang and --json, and errors turned into exit codes."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def run(home: Path | None, lang: str | None, as_json: bool, **kwargs: Any) -> None:
            env = Env(home, lang, as_json)
            try:
                func(env, **kwargs)
            except (TowlineError, SyncError) as error:
                if env.as_json:
                    code = getattr(error, "code", "error")
                    body = {"error": str(code), "message": error.message(env.lang)}
                    click.echo(json.dumps(body, ensure_ascii=False), err=True)
                else:
                    click.echo(error.message(env.lang), err=True)
                sys.exit(_exit_code(error))
            finally:
                if env._tablet is not None:
                    env._tablet.close()

        run = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(run)
        run = click.option(
            "--lang",
            type=click.Choice(["fr", "en"]),
            default=None,
            help="Language of the output (default: TOWLINE_LANG, then the locale, then French).",
        )(run)
        run = click.option(
            "--home",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            envvar="TOWLINE_FIELD_HOME",
            help="The tablet's folder (default: TOWLINE_FIELD_HOME, else "
            "~/.local/share/towline-field).",
        )(run)
        group.command(name)(run)
        return func

    return wrap


class AmountType(click.ParamType):  # type: ignore[type-arg]  # generic only in click 8.2+
    """An amount in euros with at most two decimals, e.g. 12.50; zero only where allowed."""

    name = "amount"

    def __init__(self, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: Any) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            amount = parse_amount(str(value).strip().replace(",", "."))
        except ValueError:
            self.fail(f"« {value} » : montant attendu, par ex. 12.50 / an amount, e.g. 12.50")
        if amount < 0 or (amount == 0 and not self.allow_zero):
            self.fail(f"« {value} » : le montant doit être positif / the amount must be positive")
        return amount


AMOUNT = AmountType()
AMOUNT_OR_ZERO = AmountType(allow_zero=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Towline on the tablet: missions, collection at the gate, register, sync.

    Everything but `enroll` and `sync` works without network.

    \b
    Example (a first day):
      towline-field enroll http://office:5000 CBNN-H31W-RGDB
      towline-field login d1
      towline-field sync
      towline-field register open --float 50.00
      towline-field missions
      towline-field show M-A-0003
      towline-field collect M-A-0003 --method card --amount 164.00 --terminal-ref AUT-7731
      towline-field step M-A-0003 departed
    """


# --- enrolment, sign-in, sync -----------------------------------------------------------------


@command(main)
@click.argument("server_url")
@click.argument("code")
@click.option("--label", default="", help="A name for this tablet, e.g. 'Camion 3'.")
def enroll(env: Env, server_url: str, code: str, label: str) -> None:
    """Enrol this tablet with the one-time CODE the office gave (needs the network).

    \b
    Example:
      towline-field enroll http://192.168.1.10:5000 CBNN-H31W-RGDB --label "Camion 3"
    """
    from fieldclient import syncing  # the network stack, only for the commands that use it

    answer = syncing.enroll(env.tablet, server_url, code, label=label)
    env.out(
        answer,
        env.t(
            f"Tablette enrôlée : {answer['device_id']} (société {answer['tenant_id']}).\n"
            f"Chauffeurs : {', '.join(answer['drivers'])}. Connectez-vous : "
            "towline-field login IDENTIFIANT",
            f"Tablet enrolled: {answer['device_id']} (company {answer['tenant_id']}).\n"
            f"Drivers: {', '.join(answer['drivers'])}. Sign in: towline-field login ID",
        ),
    )


@command(main)
@click.argument("driver")
@click.option(
    "--pin",
    prompt="PIN",
    hide_input=True,
    help="Asked for when not given (never type it on a shared command line).",
)
def login(env: Env, driver: str, pin: str) -> None:
    """Sign DRIVER in on this tablet with their PIN (works offline).

    Every entry recorded afterwards names this driver, until `logout`.

    \b
    Example:
      towline-field login d1
    """
    who = env.tablet.login(driver, pin)
    env.out(
        {"driver": who.id, "name": who.name, "rights": sorted(who.rights)},
        env.t(f"Bonjour {who.name}.", f"Hello {who.name}."),
    )


@command(main)
def logout(env: Env) -> None:
    """Sign the current driver out.

    \b
    Example:
      towline-field logout
    """
    who = env.tablet.logout()
    env.out({"driver": who}, env.t("Déconnecté.", "Signed out."))


@command(main, "sync")
def sync_command(env: Env) -> None:
    """Send what the tablet recorded, then receive missions, contracts and the office's
    decisions (needs the network). Safe to interrupt and run again.

    \b
    Example:
      towline-field sync
    """
    from fieldclient import syncing  # the network stack, only for the commands that use it

    tablet = env.tablet
    tablet._require_enrolled()
    started = time.monotonic()
    last = [started]

    def progress(text: str) -> None:
        now = time.monotonic()
        if not env.as_json and now - last[0] >= 0.5:  # only long transfers show progress
            last[0] = now
            click.echo(f"… {text}", err=True)

    retries = os.environ.get("TOWLINE_SYNC_RETRIES", "")
    options = {"retries": int(retries)} if retries.isdigit() else {}
    client = syncing.new_client(tablet, lang=env.lang, **options)
    try:
        report = syncing.sync(tablet, client, progress=progress)
    except ServerUnreachable as error:
        waiting = tablet.pending_count()
        raise ServerUnreachable(
            Text(
                f"{error.message('fr')} {waiting} entrée(s) en attente d'envoi.",
                f"{error.message('en')} {waiting} entr(y/ies) waiting to be sent.",
            )
        ) from None
    body = {
        "pushed": report.pushed,
        "pending": tablet.pending_count(),
        "acknowledged_seq": report.acknowledged_seq,
        "changes": report.changes,
        "decisions": report.decisions,
        "cursor": report.cursor,
        "warnings": report.warnings,
    }
    text = env.t(
        f"Synchronisé : {body['pushed']} entrée(s) envoyée(s), {report.changes} changement(s)"
        f" reçu(s), {report.decisions} décision(s) du bureau appliquée(s).",
        f"Synced: {body['pushed']} entr(y/ies) sent, {report.changes} change(s) received,"
        f" {report.decisions} office decision(s) applied.",
    )
    env.out(body, "\n".join([text, *report.warnings]))


# --- missions -----------------------------------------------------------------------------------


@command(main)
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


@command(main)
@click.argument("mission")
def show(env: Env, mission: str) -> None:
    """One mission: who pays what and why, what remains to collect, the next steps and
    whether the gate holds them.

    \b
    Example:
      towline-field show M-A-0003
    """
    view = env.tablet.view(mission)
    body, text = render.mission_json(view, env.lang), render.mission_text(view, env.lang)
    kept = attachments.for_mission(env.tablet.db, mission)
    body["attachments"] = [a.to_json() for a in kept]
    if kept:
        sent = sum(1 for a in kept if a.complete)
        text += env.t(
            f"\nPièces jointes : {len(kept)} ({sent} reçue(s) par le bureau).",
            f"\nAttachments: {len(kept)} ({sent} received by the office).",
        )
    env.out(body, text)


@command(main)
@click.argument("mission")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(attachments.KINDS),
    help="What it shows: the vehicle, the customer's signature, the handover report, other.",
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


@command(main, "new-mission")
@click.option("--id", "mission_id", default=None, help="Default: DEVICE-NNNN.")
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
        doc = _read(document, MISSION)
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
    env.out(
        {"mission": view.mission.id, **render.mission_json(view, env.lang), "seq": recorded.seq},
        env.t("Mission créée.\n\n", "Mission created.\n\n") + render.mission_text(view, env.lang),
    )


@command(main)
@click.argument("mission")
@click.argument("step", type=click.Choice([s.value for s in Step]))
def step(env: Env, mission: str, step: str) -> None:
    """Move MISSION to STEP. Refused while the gate holds it: the message says what is
    still owed and what to do.

    \b
    Example:
      towline-field step M-A-0003 departed
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


@command(main)
@click.argument("mission")
@click.option(
    "--method", required=True, type=click.Choice([m.value for m in Method]), help="How it was paid."
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
    env.out(
        {"seq": recorded.seq, "hash": recorded.hash, **dict(recorded.payload)},
        "\n".join([text, _money_line(env, recorded)]),
    )


@command(main)
@click.argument("mission")
@click.option("--amount", required=True, type=AMOUNT, help="The discount, e.g. 20.00.")
@click.option("--code", required=True, help="The manager's approval code, read out by phone.")
def discount(env: Env, mission: str, amount: Decimal, code: str) -> None:
    """A discount the manager approved by phone: the code is checked offline, bound to
    this mission and this amount, valid 30 minutes, once.

    \b
    Example:
      towline-field discount M-A-0003 --amount 20.00 --code 37K3H-EHHP4
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


@command(main)
@click.argument("mission")
@click.option("--code", required=True, help="The manager's approval code for 'bill later'.")
@click.option("--amount", type=AMOUNT, default=None, help="Default: the whole remaining amount.")
def defer(env: Env, mission: str, code: str, amount: Decimal | None) -> None:
    """ "Bill later" for the whole remaining amount, approved by the manager's code.

    \b
    Example:
      towline-field defer M-A-0003 --code 37K3H-EHHP4
    """
    recorded = env.tablet.defer(mission, code, None if amount is None else wire(amount))
    env.out(
        {"seq": recorded.seq, **dict(recorded.payload)},
        env.t("Facturation ultérieure enregistrée.", "Bill-later recorded.")
        + "\n"
        + _money_line(env, recorded),
    )


@command(main)
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


# --- the register -----------------------------------------------------------------------------


@main.group()
def register() -> None:
    """The signed-in driver's cash register: open, status, deposit, close.

    \b
    Example:
      towline-field register open --float 50.00
      towline-field register close --counted 149.00
    """


def _show_register(env: Env, reg: Any, extra: dict[str, Any] | None = None) -> None:
    driver = env.tablet.signed_in()
    env.out(
        {"driver": driver.id, **render.register_json(reg), **(extra or {})},
        render.register_text(reg, driver.name, env.lang),
    )


@command(register, "open")
@click.option(
    "--float", "float_amount", required=True, type=AMOUNT_OR_ZERO, help="Change in the drawer."
)
def register_open(env: Env, float_amount: Decimal) -> None:
    """Open the register with the change in the drawer.

    \b
    Example:
      towline-field register open --float 50.00
    """
    _show_register(env, env.tablet.register_open(float_amount))


@command(register, "status")
def register_status(env: Env) -> None:
    """What the drawer should hold, and what was taken per method.

    \b
    Example:
      towline-field register status
    """
    driver = env.tablet.signed_in()
    _show_register(env, env.tablet.register(driver.id))


@command(register, "deposit")
@click.option("--amount", required=True, type=AMOUNT, help="Cash paid into the bank.")
@click.option("--reference", required=True, help="The deposit slip number.")
def register_deposit(env: Env, amount: Decimal, reference: str) -> None:
    """Cash taken out of the drawer and paid into the bank.

    \b
    Example:
      towline-field register deposit --amount 100.00 --reference BORD-1187
    """
    _show_register(env, env.tablet.register_deposit(amount, reference))


@command(register, "close")
@click.option("--counted", required=True, type=AMOUNT_OR_ZERO, help="Cash counted in the drawer.")
def register_close(env: Env, counted: Decimal) -> None:
    """Close the register with the cash counted; the variance goes to the office.

    \b
    Example:
      towline-field register close --counted 149.00
    """
    reg, payload = env.tablet.register_close(counted)
    _show_register(env, reg, {"closing": dict(payload)})


# --- the journal ------------------------------------------------------------------------------


@main.group()
def journal() -> None:
    """The tablet's signed journal.

    \b
    Example:
      towline-field journal verify
    """


@command(journal, "verify")
def journal_verify(env: Env) -> None:
    """Check the database file, every hash, link and signature of the journal, and that
    the derived rows agree with it. Exit 4 if anything is wrong, saying what and where.

    \b
    Example:
      towline-field journal verify
    """
    report = verify(env.tablet)
    problems = report.problems(env.lang)
    body = {"ok": report.ok, "entries": report.entries, "problems": problems}
    if problems:
        env.out(body, "\n".join(problems))
        raise IntegrityFailure(
            f"Journal NON vérifié : {len(problems)} problème(s).",
            f"Journal does NOT verify: {len(problems)} problem(s).",
        )
    env.out(
        body,
        env.t(
            f"Journal vérifié : {report.entries} entrée(s), chaîne et signatures intactes.",
            f"Journal verified: {report.entries} entr(y/ies), chain and signatures intact.",
        ),
    )


# --- the driver's screen --------------------------------------------------------------------------


def _loopback(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """Only an address of this machine: the screen has no protection but the PIN, so it
    must never be reachable from the network."""
    import ipaddress

    if value == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != 4 or not address.is_loopback:
        raise click.BadParameter(
            f"« {value} » : l'écran ne sert que cette machine (127.0.0.1), jamais le réseau."
            f" / “{value}”: the screen serves this machine only (127.0.0.1), never the network."
        )
    return value


@command(main)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8765,
    show_default=True,
    help="The port on 127.0.0.1.",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    callback=_loopback,
    help="A loopback address (127.x.x.x); any other address is refused (exit 2).",
)
def serve(env: Env, port: int, host: str) -> None:
    """The driver's screen: the tablet's missions, the gate, collections, the register and
    the sync, in the tablet's browser. Served on this machine only (127.0.0.1); drivers
    sign in with their PIN. Ctrl-C stops it.

    \b
    Example:
      towline-field serve
      towline-field serve --port 8800
    then open http://127.0.0.1:8765/ in the tablet's browser.

    Exit codes: 2 bad option or port in use, 3 tablet not enrolled.
    """
    import socket

    from werkzeug.serving import make_server  # the web stack, only for this command

    from fieldclient.screen import create_app

    env.tablet.device_id  # noqa: B018 - refuses a tablet that is not enrolled, saying how
    env.tablet.close()
    app = create_app(env.home, host=host)
    try:
        # Bound here, so a busy port is an error in words (werkzeug would exit by itself).
        listening = socket.create_server((host, port))
    except OSError as error:
        raise click.UsageError(
            env.t(
                f"Port {port} indisponible ({error.strerror}) : choisissez-en un autre"
                " avec --port.",
                f"Port {port} unavailable ({error.strerror}): choose another with --port.",
            )
        ) from None
    with listening:
        server = make_server(host, port, app, threaded=True, fd=listening.fileno())
    url = f"http://{host}:{port}/"
    click.echo(
        env.t(
            f"Écran du chauffeur : {url}  (Ctrl-C pour arrêter)",
            f"Driver's screen: {url}  (Ctrl-C to stop)",
        )
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# --- quote (no tablet needed) ----------------------------------------------------------------


@command(main)
@click.argument("contract", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("mission", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--file-consumed",
    default="0.00",
    metavar="AMOUNT",
    type=AMOUNT_OR_ZERO,
    help="What the ordering party already paid on this file's cap, in the cap's basis.",
)
def quote(env: Env, contract: Path, mission: Path, file_consumed: Decimal) -> None:
    """Value MISSION with CONTRACT (files) and show who pays what, and why.

    \b
    Examples:
      towline-field quote examples/contracts/assist-a.json examples/missions/a-tuesday-80km.json
      towline-field quote examples/contracts/assist-b.json \\
          examples/missions/b-tuesday-30km-file-consumed.json --file-consumed 260.00 --json

    Exit codes: 0 ok, 2 bad input, 3 the contract cannot value this mission.
    """
    terms = load_contract(_read(contract, CONTRACT))
    job = load_mission(_read(mission, MISSION))
    valuation = value(job, terms, ValuationContext(file_consumed=file_consumed))
    body = valuation.to_wire()
    body["why"] = explain(valuation, env.lang)
    env.out(body, breakdown(valuation, env.lang))

"""The scripted day: three tablets (Karim d1, Julie d2, Marc d3) enrol, sync, work
offline (clean missions and the mistakes the office must catch), reconnect and sync.

Deterministic: the same missions, amounts and mistakes every time; only the clock is
real. Day 1 works the demo's example missions plus a few made-up ones; every later day
(`--again`) works copies named `J<n>-…`, with new tablets. Some entries are written the
way a buggy tablet would, bypassing the tablet's own rules (`_forged`): a real tablet
refuses them, and the point is that the office catches them anyway.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from fieldclient import store, syncing
from fieldclient.home import Home
from fieldclient.integrity import verify
from fieldclient.tablet import Tablet
from shared.i18n import Text
from shared.journal import utc_timestamp
from shared.money import format_amount, wire
from simulation.office import Office
from sync.client import ServerUnreachable, SyncClient
from sync.protocol import PUSH_PATH

D = Decimal
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "missions"
MARKER = "day.json"
FLOAT = D("50.00")  # every register opens with this float
Say = Callable[[Text], None]


@dataclass(frozen=True, slots=True)
class Crew:
    slug: str  # the tablet's folder under var/simulation
    name: str
    driver: str
    pin: str  # as `towline-server demo` prints it


CREWS = (
    Crew("karim", "Karim", "d1", "1111"),
    Crew("julie", "Julie", "d2", "2222"),
    Crew("marc", "Marc", "d3", "3333"),
)


@dataclass(frozen=True, slots=True)
class Planned:
    """A mission of the day: one of the demo's (day 1) or a made-up copy of an example."""

    key: str  # the demo's mission id, or a made-up name
    template: str  # examples/missions/<template>.json
    driver: str
    seeded: bool = False
    plate: str | None = None
    shared_file: bool = False  # one ASSIST-B file, worked by two tablets
    sequence: int = 1


# M-A-0004 stays untouched: README's walkthrough works it by hand on a tablet.
PLAN = (
    Planned("ESPECES", "a-tuesday-winching-breakdown", "d1", plate="AK-640-JD"),
    Planned("M-P-0001", "private-tow", "d1", seeded=True),
    Planned("M-A-0006", "a-bastille-day", "d1", seeded=True),
    Planned("M-A-0001", "a-tuesday-30km", "d1", seeded=True),
    Planned("TROP-PERCU", "a-tuesday-winching-breakdown", "d1", plate="FR-318-KB"),
    Planned("M-A-0007", "a-easter-monday", "d2", seeded=True),
    Planned("M-A-0002", "a-tuesday-80km", "d2", seeded=True),
    Planned("M-B-0002", "b-tuesday-30km-file-consumed", "d2", seeded=True),
    Planned("REMISE", "a-tuesday-winching-breakdown", "d2", plate="EB-207-LM"),
    Planned("PLUS-TARD", "a-saturday-accident-winching", "d2", plate="DX-554-RT"),
    Planned("SANS-ACCORD", "a-tuesday-winching-breakdown", "d2", plate="CJ-930-PA"),
    Planned("PLAFOND-1", "b-tuesday-80km", "d2", plate="GK-112-VZ", shared_file=True),
    Planned("PLAFOND-2", "b-tuesday-80km", "d2", plate="GK-112-VZ", shared_file=True, sequence=2),
    Planned("M-A-0003", "a-saturday-accident-winching", "d3", seeded=True),
    Planned("M-A-0005", "a-tuesday-evening", "d3", seeded=True),
    Planned("M-B-0001", "b-tuesday-80km", "d3", seeded=True),
    Planned("LITIGE", "a-tuesday-winching-breakdown", "d3", plate="BN-671-QS"),
    Planned("PLAFOND-3", "b-tuesday-80km", "d3", plate="GK-112-VZ", shared_file=True, sequence=3),
    Planned("PLAFOND-4", "b-tuesday-80km", "d3", plate="GK-112-VZ", shared_file=True, sequence=4),
)
PROBE = "LITIGE"  # a made-up mission: if J<n>-LITIGE exists, day n was already simulated


def mission_id(planned: Planned, day: int) -> str:
    return planned.key if planned.seeded and day == 1 else f"J{day}-{planned.key}"


def mission_document(planned: Planned, day: int) -> dict[str, Any]:
    """A made-up mission: an example with its own id, file and plate."""
    document: dict[str, Any] = json.loads(
        (EXAMPLES / f"{planned.template}.json").read_text("utf-8")
    )
    document = copy.deepcopy(document)
    document["id"] = mission_id(planned, day)
    document["file_number"] = (
        f"ASSIST-B-J{day}-PLAFOND"
        if planned.shared_file
        else f"{document.get('file_number') or 'F'}-J{day}-{planned.key}"
    )
    document["file_sequence"] = planned.sequence
    if planned.plate:
        document["vehicle"] = {**document["vehicle"], "plate": planned.plate}
    return document


def line(fr: str, en: str, **values: object) -> Text:
    """A sentence of the story; Decimal values are shown as money in each language."""

    def shown(lang: str) -> dict[str, object]:
        return {
            k: format_amount(v, lang) if isinstance(v, Decimal) else v for k, v in values.items()
        }

    return Text(fr.format(**shown("fr")), en.format(**shown("en")))


# --- one tablet's shift ---------------------------------------------------------------------


@dataclass
class Shift:
    """One tablet and what its driver did, told as the story of the day."""

    crew: Crew
    tablet: Tablet
    ids: dict[str, str]
    day: int
    story: list[Text] = field(default_factory=list)

    def id(self, key: str) -> str:
        return self.ids[key]

    def tell(self, fr: str, en: str, **values: object) -> None:
        self.story.append(line(fr, en, **values))

    def arrive(self, key: str) -> Decimal:
        """On the road, then on site (the valuation is recorded): what is due."""
        for step in ("en_route", "on_site"):
            self.tablet.step(self.id(key), step)
        money = self.tablet.view(self.id(key)).money
        assert money is not None
        return money.remaining

    def leave(self, key: str) -> None:
        """Past the gate, delivered, closed."""
        for step in ("departed", "delivered", "closed"):
            self.tablet.step(self.id(key), step)

    def nothing_due(self, key: str, fr: str, en: str) -> None:
        due = self.arrive(key)
        assert due == 0, (key, due)
        self.leave(key)
        self.tell("{m} : " + fr, "{m}: " + en, m=self.id(key))

    def card(self, key: str, amount: Decimal) -> str:
        reference = f"AUT-{self.id(key)}"
        self.tablet.collect(self.id(key), "card", wire(amount), {"terminal_ref": reference})
        return reference

    def cash(self, key: str, amount: Decimal, tendered: Decimal) -> None:
        self.tablet.collect(self.id(key), "cash", wire(amount), {"tendered": wire(tendered)})

    def forged(self, type_: str, payload: dict[str, Any]) -> None:
        """An entry a buggy tablet records, bypassing the tablet's own rules."""
        with store.write(self.tablet.db):
            self.tablet.ledger().append(
                type_,
                payload,
                driver_id=self.crew.driver,
                at=utc_timestamp(self.tablet.now()),
            )

    def close_register(self, short: Decimal = Decimal(0)) -> None:
        expected = self.tablet.register(self.crew.driver).expected_cash
        counted = expected - short
        self.tablet.register_close(counted)
        if short:
            self.tell(
                "Caisse : {expected} attendus, {counted} comptés à la fermeture → écart de {gap}.",
                "Register: {expected} expected, {counted} counted at closing → {gap} variance.",
                expected=expected,
                counted=counted,
                gap=-short,
            )
        else:
            self.tell(
                "Caisse fermée juste : {counted} comptés.",
                "Register closed even: {counted} counted.",
                counted=counted,
            )


def karim(s: Shift) -> None:
    """Clean cash and card work, then a fictitious collection, an over-collection and a
    register that is short."""
    s.tablet.register_open(FLOAT)
    due = s.arrive("ESPECES")
    s.cash("ESPECES", due, D("100.00"))
    s.leave("ESPECES")
    s.tell(
        "{m} : treuillage à la charge du client, {due} en espèces (100,00 € remis,"
        " monnaie rendue).",
        "{m}: winching the customer pays, {due} in cash (€100.00 handed over, change given).",
        m=s.id("ESPECES"),
        due=due,
    )
    due = s.arrive("M-P-0001")
    ref = s.card("M-P-0001", due)
    s.leave("M-P-0001")
    s.tell(
        "{m} : particulier, {due} par carte (autorisation {ref}).",
        "{m}: private customer, {due} by card (authorisation {ref}).",
        m=s.id("M-P-0001"),
        due=due,
        ref=ref,
    )
    s.nothing_due(
        "M-A-0006",
        "14 juillet, majoration de jour férié payée par l'assistance, rien à encaisser.",
        "Bastille Day, holiday surcharge paid by the ordering party, nothing to collect.",
    )
    mission = s.id("M-A-0001")
    s.arrive("M-A-0001")
    s.forged(
        "collection",
        {
            "mission_id": mission,
            "method": "cash",
            "amount": "40.00",
            "tendered": "40.00",
            "change": "0.00",
        },
    )
    s.leave("M-A-0001")
    s.tell(
        "{m} : l'assistance paie tout, mais la tablette (défaillante) enregistre {amount}"
        " en espèces → encaissement fictif.",
        "{m}: the ordering party pays everything, yet the (buggy) tablet records {amount}"
        " in cash → fictitious collection.",
        m=mission,
        amount=D("40.00"),
    )
    mission = s.id("TROP-PERCU")
    due = s.arrive("TROP-PERCU")
    s.tablet.collect(mission, "cheque", wire(due), {"cheque_number": "4471203", "bank": "LCL"})
    s.forged(
        "collection",
        {
            "mission_id": mission,
            "method": "cash",
            "amount": "10.00",
            "tendered": "10.00",
            "change": "0.00",
        },
    )
    s.leave("TROP-PERCU")
    s.tell(
        "{m} : {due} par chèque, puis {extra} en espèces de trop → trop-perçu.",
        "{m}: {due} by cheque, then {extra} too much in cash → over-collection.",
        m=mission,
        due=due,
        extra=D("10.00"),
    )
    s.close_register(short=D("20.00"))


def julie(s: Shift, codes: dict[str, tuple[str, Decimal]]) -> None:
    """A discount and a bill-later with the manager's codes, a discount without one, and
    the first half of a file whose cap Marc's tablet will also consume."""
    s.tablet.register_open(FLOAT)
    s.nothing_due(
        "M-A-0007",
        "lundi de Pâques, majoration payée par l'assistance, rien à encaisser.",
        "Easter Monday, surcharge paid by the ordering party, nothing to collect.",
    )
    s.nothing_due(
        "M-A-0002",
        "80 km, kilomètres en plus payés par l'assistance, rien à encaisser.",
        "80 km, extra kilometres paid by the ordering party, nothing to collect.",
    )
    due = s.arrive("M-B-0002")
    s.cash("M-B-0002", due, due)
    s.leave("M-B-0002")
    s.tell(
        "{m} : franchise de {due} en espèces.",
        "{m}: {due} deductible in cash.",
        m=s.id("M-B-0002"),
        due=due,
    )
    code, amount = codes["REMISE"]
    due = s.arrive("REMISE")
    s.tablet.discount(s.id("REMISE"), wire(amount), code)
    ref = s.card("REMISE", due - amount)
    s.leave("REMISE")
    s.tell(
        "{m} : remise de {amount} avec le code du gérant, puis {rest} par carte ({ref}).",
        "{m}: {amount} discount with the manager's code, then {rest} by card ({ref}).",
        m=s.id("REMISE"),
        amount=amount,
        rest=due - amount,
        ref=ref,
    )
    code, amount = codes["PLUS-TARD"]
    s.arrive("PLUS-TARD")
    s.tablet.defer(s.id("PLUS-TARD"), code, wire(amount))
    s.leave("PLUS-TARD")
    s.tell(
        "{m} : accident un samedi, {amount} à facturer plus tard, avec le code du gérant.",
        "{m}: a Saturday accident, {amount} to bill later, with the manager's code.",
        m=s.id("PLUS-TARD"),
        amount=amount,
    )
    mission = s.id("SANS-ACCORD")
    due = s.arrive("SANS-ACCORD")
    discount = D("16.00")
    s.forged(
        "discount",
        # A made-up code reference, another each day (the same one twice is a reuse).
        {"mission_id": mission, "amount": wire(discount), "approval_ref": f"1:{s.day:010d}"},
    )
    s.cash("SANS-ACCORD", due - discount, due - discount)
    s.leave("SANS-ACCORD")
    s.tell(
        "{m} : la tablette (défaillante) accorde une remise de {discount} sans code du"
        " gérant, puis {rest} en espèces → remise sans accord.",
        "{m}: the (buggy) tablet grants a {discount} discount without the manager's code,"
        " then {rest} in cash → discount without approval.",
        m=mission,
        discount=discount,
        rest=due - discount,
    )
    _shared_file(s, ("PLAFOND-1", "PLAFOND-2"))
    s.close_register()


def marc(s: Shift) -> None:
    """A card payment the terminal never settled, a dispute, and the second half of the
    file: offline, his tablet does not know what Julie's consumed."""
    s.tablet.register_open(FLOAT)
    due = s.arrive("M-A-0003")
    ref = s.card("M-A-0003", due)
    s.leave("M-A-0003")
    s.tell(
        "{m} : {due} par carte ({ref}), mais le terminal n'a jamais remis ce paiement.",
        "{m}: {due} by card ({ref}), but the terminal never settled this payment.",
        m=s.id("M-A-0003"),
        due=due,
        ref=ref,
    )
    s.nothing_due(
        "M-A-0005",
        "appel à 19 h 30, majoration de nuit payée par l'assistance, rien à encaisser.",
        "7:30 pm call, night surcharge paid by the ordering party, nothing to collect.",
    )
    due = s.arrive("M-B-0001")
    s.cash("M-B-0001", due, D("110.00"))
    s.leave("M-B-0001")
    s.tell(
        "{m} : {due} en espèces (110,00 € remis).",
        "{m}: {due} in cash (€110.00 handed over).",
        m=s.id("M-B-0001"),
        due=due,
    )
    mission = s.id("LITIGE")
    due = s.arrive("LITIGE")
    s.tablet.collect(mission, "cheque", wire(due), {"cheque_number": "0081552", "bank": "BNP"})
    s.tablet.dispute(mission, "Le client affirme que son assistance couvre le treuillage.")
    s.leave("LITIGE")
    s.tell(
        "{m} : {due} par chèque ; le client conteste le treuillage, Marc signale un litige.",
        "{m}: {due} by cheque; the customer disputes the winching, Marc raises a dispute.",
        m=mission,
        due=due,
    )
    _shared_file(s, ("PLAFOND-3", "PLAFOND-4"))
    s.close_register()


def _shared_file(s: Shift, keys: tuple[str, ...]) -> None:
    for key in keys:
        due = s.arrive(key)
        s.card(key, due)
        s.leave(key)
    s.tell(
        "{a} et {b} (même dossier ASSIST-B, plafonné) : {due} par carte chacune.",
        "{a} and {b} (one ASSIST-B file, with a cap): {due} by card each.",
        a=s.id(keys[0]),
        b=s.id(keys[1]),
        due=due,
    )


# --- a link that drops ----------------------------------------------------------------------


class DroppingLink(HTTPAdapter):
    """The truck drives into a tunnel: the second push reaches the server but its answer
    is lost, and the link stays down."""

    def __init__(self) -> None:
        super().__init__()
        self.pushes = 0
        self.down = False

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            raise requests.ConnectionError("link down (simulated)")
        answer = super().send(request, *args, **kwargs)
        if (request.path_url or "").endswith(PUSH_PATH):
            self.pushes += 1
            if self.pushes == 2:
                self.down = True
                raise requests.ConnectionError("answer lost (simulated)")
        return answer


def _client(
    url: str, tablet: Tablet, lang: str, link: requests.Session | None = None
) -> SyncClient:
    """A sync client; on the dropping link, one quick retry so the drop shows at once."""
    device = tablet.device_id if tablet.enrolled else None
    if link is None:
        return SyncClient(url, device_id=device, lang=lang)
    return SyncClient(url, device_id=device, session=link, lang=lang, retries=1, backoff=0.05)


# --- the day ---------------------------------------------------------------------------------


@dataclass
class TabletState:
    slug: str
    name: str
    driver: str
    home: str
    device_id: str
    entries: int = 0
    verified: bool = False
    pending: int = 0


@dataclass
class DayResult:
    day: int
    url: str
    finished_at: str
    tablets: list[TabletState]
    story: dict[str, list[Text]]  # per tablet slug, and "office"
    missions: dict[str, str]  # plan key → mission id

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "url": self.url,
            "finished_at": self.finished_at,
            "tablets": [vars(t) for t in self.tablets],
            "story": {k: [[t.fr, t.en] for t in v] for k, v in self.story.items()},
            "missions": self.missions,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DayResult:
        return cls(
            day=int(data["day"]),
            url=str(data["url"]),
            finished_at=str(data["finished_at"]),
            tablets=[TabletState(**t) for t in data["tablets"]],
            story={k: [Text(fr, en) for fr, en in v] for k, v in data["story"].items()},
            missions=dict(data["missions"]),
        )


def read_marker(folder: Path) -> DayResult | None:
    try:
        return DayResult.from_json(json.loads((folder / MARKER).read_text("utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: simulate a fresh day rather than fail


def write_marker(folder: Path, result: DayResult) -> None:
    temporary = folder / (MARKER + ".tmp")
    temporary.write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2), "utf-8")
    temporary.replace(folder / MARKER)


def still_there(office: Office, result: DayResult) -> bool:
    """Whether the server still knows the marker's tablets (not a new database)."""
    known = {d["id"] for d in office.get("/api/v1/devices", "admin")}
    return all(t.device_id in known for t in result.tablets)


def next_day(office: Office, after: int) -> int:
    day = after + 1
    while office.exists(f"/api/v1/missions/J{day}-{PROBE}", "bureau") is not None:
        day += 1
    return day


def free_home(folder: Path, slug: str, day: int) -> Path:
    """A folder no earlier tablet uses: a new tablet is a new folder, old ones are kept."""
    base = slug if day == 1 else f"{slug}-j{day}"
    home, n = folder / base, 2
    while home.exists() and any(home.iterdir()):
        home, n = folder / f"{base}-{n}", n + 1
    return home


def plan_missions(office: Office, day: int, say: Say) -> dict[str, str]:
    """Create the day's made-up missions (day 1 also takes the demo's example missions,
    when they are still assigned as the demo made them)."""
    ids: dict[str, str] = {}
    created = 0
    for planned in PLAN:
        if planned.seeded and day == 1:
            held = office.exists(f"/api/v1/missions/{planned.key}", "bureau")
            if held is not None and held.get("driver_id") == planned.driver:
                ids[planned.key] = planned.key
                continue
        document = mission_document(planned, day)
        if planned.seeded:  # the demo's mission is gone or reassigned: work a copy
            document["id"] = f"J{day}-{planned.key}"
        office.post(
            "/api/v1/missions", "bureau", {"document": document, "driver_id": planned.driver}
        )
        ids[planned.key] = document["id"]
        created += 1
    say(
        line(
            "Le bureau crée {n} missions pour la journée.",
            "The office creates {n} missions for the day.",
            n=created,
        )
    )
    return ids


def enrol(office: Office, crew: Crew, home: Path, day: int, lang: str) -> Tablet:
    label = f"Tablette de {crew.name}" + (f" (jour {day})" if day > 1 else "")
    code = office.post(
        "/api/v1/enrolment-codes", "admin", {"driver_ids": [crew.driver], "label": label}
    )["code"]
    tablet = Tablet(Home(home))
    syncing.enroll(tablet, office.url, code, label=label, client=_client(office.url, tablet, lang))
    tablet.login(crew.driver, crew.pin)
    return tablet


def simulate_day(
    office: Office, folder: Path, *, after: int = 0, lang: str = "fr", say: Say | None = None
) -> DayResult:
    """Run one whole day against the server; returns what happened (kept in the marker)."""
    tell = say or (lambda _text: None)
    folder.mkdir(parents=True, exist_ok=True)
    day = next_day(office, after)
    tell(line("Journée n° {d}.", "Day {d}.", d=day))
    ids = plan_missions(office, day, tell)
    shifts: dict[str, Shift] = {}
    try:
        for crew in CREWS:
            home = free_home(folder, crew.slug, day)
            tablet = enrol(office, crew, home, day, lang)
            shifts[crew.slug] = Shift(crew, tablet, ids, day)
            syncing.sync(tablet, _client(office.url, tablet, lang))
            for planned in PLAN:
                if planned.driver == crew.driver:
                    tablet.mission(ids[planned.key])  # received, or UnknownMission
            tell(
                line(
                    "{name} : tablette enrôlée ({device}), synchronisée, puis hors ligne.",
                    "{name}: tablet enrolled ({device}), synced, then offline.",
                    name=crew.name,
                    device=tablet.device_id,
                )
            )
        codes = _manager_codes(office, shifts["julie"])
        office_story = [
            line(
                "Le matin, le gérant donne à Julie deux codes d'accord par téléphone :"
                " remise de {discount} sur {a}, facturation plus tard de {later} sur {b}.",
                "In the morning, the manager gives Julie two approval codes over the phone:"
                " a {discount} discount on {a}, {later} billed later on {b}.",
                discount=codes["REMISE"][1],
                a=ids["REMISE"],
                later=codes["PLUS-TARD"][1],
                b=ids["PLUS-TARD"],
            )
        ]
        karim(shifts["karim"])
        julie(shifts["julie"], codes)
        marc(shifts["marc"])
        tell(
            line(
                "Journée terminée hors ligne ; retour au réseau.", "Day done offline; back online."
            )
        )
        for slug in ("karim", "julie"):
            syncing.sync(shifts[slug].tablet, _client(office.url, shifts[slug].tablet, lang))
        _sync_with_a_drop(office.url, shifts["marc"], lang)
        office_story.append(_settlements(office, shifts, ids, day))
        tablets = [_state(s) for s in shifts.values()]
    finally:
        for shift in shifts.values():
            shift.tablet.close()
    story = {slug: s.story for slug, s in shifts.items()}
    story["office"] = office_story
    return DayResult(
        day=day,
        url=office.url,
        finished_at=utc_timestamp(datetime.now(UTC)),
        tablets=tablets,
        story=story,
        missions=ids,
    )


def _manager_codes(office: Office, shift: Shift) -> dict[str, tuple[str, Decimal]]:
    """The manager's codes, asked for while the tablet is still online."""
    wanted = {"REMISE": ("discount", D("20.00")), "PLUS-TARD": ("deferral", None)}
    codes = {}
    for key, (kind, amount) in wanted.items():
        if amount is None:  # bill later: all that is due
            money = shift.tablet.view(shift.id(key)).money
            assert money is not None
            amount = money.remaining
        answer = office.post(
            "/api/v1/approvals",
            "gerant",
            {
                "device_id": shift.tablet.device_id,
                "mission_id": shift.id(key),
                "kind": kind,
                "amount": wire(amount),
            },
        )
        codes[key] = (str(answer["code"]), amount)
    return codes


def _sync_with_a_drop(url: str, shift: Shift, lang: str) -> None:
    link = DroppingLink()
    session = requests.Session()
    session.mount("http://", link)
    session.mount("https://", link)
    tablet = shift.tablet
    try:
        syncing.sync(tablet, _client(url, tablet, lang, session), batch_size=10)
    except ServerUnreachable:
        pass
    else:
        raise AssertionError("the simulated link should have dropped")
    waiting = tablet.pending_count()
    report = syncing.sync(tablet, _client(url, tablet, lang))
    shift.tell(
        "Synchronisation coupée en plein envoi ({waiting} entrées encore en attente) ;"
        " la suivante reprend sans perte ni doublon ({pushed} envoyées).",
        "Sync cut off mid-push ({waiting} entries still waiting); the next one resumes"
        " with no loss and no duplicate ({pushed} sent).",
        waiting=waiting,
        pushed=report.pushed,
    )


def _card_collections(shift: Shift) -> Iterator[tuple[str, str, Decimal, str]]:
    """(day, terminal reference, amount, mission) of every card collection on the tablet."""
    for row in shift.tablet.ledger().rows():
        if row.type == "collection" and row.payload.get("method") == "card":
            payload = row.payload
            yield row.at[:10], payload["terminal_ref"], D(payload["amount"]), payload["mission_id"]


def _settlements(office: Office, shifts: dict[str, Shift], ids: dict[str, str], day: int) -> Text:
    """The card terminal's settlement file: every card payment but one (Marc's M-A-0003)."""
    missing = ids["M-A-0003"]
    lines = sorted(c for s in shifts.values() for c in _card_collections(s) if c[3] != missing)
    content = "date;reference;amount\n" + "".join(
        f"{d};{ref};{wire(amount)}\n" for d, ref, amount, _ in lines
    )
    office.post(
        "/api/v1/settlements",
        "bureau",
        {"file_name": f"remises-terminal-jour-{day}.csv", "content": content},
    )
    office.reconciled()  # the card payments are checked by a job after the import
    return line(
        "Le bureau importe les remises du terminal carte : {n} paiements ; celui de {m}"
        " n'y est pas.",
        "The office imports the card terminal's settlements: {n} payments; {m}'s is not there.",
        n=len(lines),
        m=missing,
    )


def _state(shift: Shift) -> TabletState:
    tablet = shift.tablet
    report = verify(tablet)
    return TabletState(
        slug=shift.crew.slug,
        name=shift.crew.name,
        driver=shift.crew.driver,
        home=str(tablet.home.path),
        device_id=tablet.device_id,
        entries=report.entries,
        verified=report.ok,
        pending=tablet.pending_count(),
    )


def resync(office: Office, result: DayResult, lang: str = "fr") -> list[tuple[str, int]]:
    """Sync the day's tablets again (after the office resolved anomalies): how many
    office decisions each applied. Updates the tablets' states in `result`."""
    applied = []
    for index, state in enumerate(result.tablets):
        tablet = Tablet(Home(Path(state.home)))
        try:
            report = syncing.sync(tablet, _client(office.url, tablet, lang))
            crew = next(c for c in CREWS if c.slug == state.slug)
            result.tablets[index] = _state(Shift(crew, tablet, {}, result.day))
        finally:
            tablet.close()
        applied.append((state.name, report.decisions))
    return applied

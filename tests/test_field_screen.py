"""The driver's screen (`towline-field serve`), through Flask's test client: sign-in and
the PIN lock-out, a phone day at the gate, the evidence each method asks for, bad input
that records nothing, approvals, another driver's missions, CSRF, English, the register,
the sync, and the command that serves it."""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fieldclient import store
from fieldclient.cli import main as field
from fieldclient.home import Home
from fieldclient.screen import create_app
from fieldclient.screen.app import SECRET_NAME
from fieldclient.tablet import Tablet
from shared.approvals import Kind
from shared.payment_terms import Method
from shared.payments import EVIDENCE
from tests.field_support import Clock, approval_code, offline_tablet
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
OWED = "M-A-0004"  # ASSIST-A: the customer pays the winching, 96,00 € before leaving
PRIVATE = "M-P-0001"  # a private customer: every method, 180,00 €


class Screen:
    """The screen over an offline tablet (drivers d1 Karim 1111 with the collect right,
    d2 Julie 2222 without; every example mission is Karim's)."""

    def __init__(self, home: Path, clock: Clock, **options: Any) -> None:
        self.home = home
        self.clock = clock
        self.app = create_app(home, clock=clock, **options)
        self.app.testing = True  # a bug raises here instead of becoming a 500 page

    def client(self) -> Any:
        return self.app.test_client()

    def journal(self) -> int:
        db = store.connect(Home(self.home).database)
        try:
            return int(db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
        finally:
            db.close()

    def tablet(self) -> Tablet:
        return Tablet(Home(self.home), clock=self.clock)


@pytest.fixture
def screen(tmp_path: Path) -> Screen:
    clock = Clock()
    offline_tablet(tmp_path / "tablet", clock, signed_in=None).close()
    return Screen(tmp_path / "tablet", clock)


def text(answer: Any) -> str:
    """The page as a person reads it: tags out, entities decoded, spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body))


def token(client: Any, path: str = "/login") -> str:
    found = TOKEN.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def post(client: Any, path: str, data: dict[str, str]) -> Any:
    """POST a form the way the browser does: with the session's CSRF token."""
    return client.post(path, data={"csrf_token": token(client), **data})


def sign_in(client: Any, driver: str = "d1", pin: str = "1111") -> Any:
    return post(client, "/login", {"driver": driver, "pin": pin})


def signed_in(screen: Screen, driver: str = "d1", pin: str = "1111") -> Any:
    client = screen.client()
    assert sign_in(client, driver, pin).status_code == 302
    return client


def form_fields(page: str, form_class: str) -> set[str]:
    """The names of the inputs of the form whose class list holds `form_class`."""
    found = re.search(
        rf'<form[^>]*class="[^"]*\b{form_class}\b[^"]*"[^>]*>(.*?)</form>', page, re.S
    )
    assert found, f"no {form_class} form"
    return set(re.findall(r'name="([a-z_]+)"', found.group(1)))


def on_site(client: Any, mission: str = OWED) -> None:
    for step in ("en_route", "on_site"):
        answer = post(client, f"/missions/{mission}/step", {"to": step})
        assert answer.status_code == 302, text(answer)


# --- signing in --------------------------------------------------------------------------------


def test_sign_in_with_the_pin_then_sign_out(screen):
    client = screen.client()
    assert client.get("/").headers["Location"] == "/login"
    assert client.get("/missions").headers["Location"] == "/login"
    page = text(client.get("/login"))
    assert "Karim" in page and "Julie" in page and "Code PIN" in page

    wrong = sign_in(client, "d1", "0000")
    assert wrong.status_code == 401
    assert "Code PIN incorrect (4 essai(s) restant(s))." in text(wrong)
    right = sign_in(client, "d1", "1111")
    assert right.status_code == 302 and right.headers["Location"] == "/missions"
    page = text(client.get("/missions"))
    assert "Bonjour Karim." in page and OWED in page
    assert screen.tablet().meta("signed_in") == "d1"

    out = post(client, "/logout", {})
    assert out.headers["Location"] == "/login"
    assert screen.tablet().meta("signed_in") is None
    assert client.get(f"/missions/{OWED}").headers["Location"] == "/login"


def test_five_wrong_pins_lock_the_driver_out_for_fifteen_minutes(screen):
    client = screen.client()
    for _ in range(5):
        assert sign_in(client, "d1", "9999").status_code == 401
    locked = sign_in(client, "d1", "1111")  # even the right PIN
    assert locked.status_code == 401
    assert "Trop de codes PIN faux : réessayez dans 15 minutes" in text(locked)
    assert client.get("/missions").status_code == 302
    screen.clock.advance(minutes=16)
    assert sign_in(client, "d1", "1111").status_code == 302


def test_a_tablet_not_enrolled_says_how_to_enrol(tmp_path):
    app = create_app(tmp_path / "blank")
    answer = app.test_client().get("/login")
    assert answer.status_code == 409
    assert "towline-field enroll ADRESSE_DU_SERVEUR CODE" in text(answer)


def test_the_session_secret_is_kept_owner_only_and_reused(screen):
    secret = screen.home / SECRET_NAME
    assert secret.stat().st_mode & 0o777 == 0o600
    again = create_app(screen.home, clock=screen.clock)
    assert again.config["SECRET_KEY"] == screen.app.config["SECRET_KEY"]
    assert len(screen.app.config["SECRET_KEY"]) == 32


def test_a_form_without_its_csrf_token_is_refused_and_records_nothing(screen):
    client = signed_in(screen)
    before = screen.journal()
    answer = client.post(f"/missions/{OWED}/step", data={"to": "en_route"})
    assert answer.status_code == 400
    assert "Formulaire expiré ou invalide" in text(answer)
    forged = client.post(f"/missions/{OWED}/step", data={"to": "en_route", "csrf_token": "x"})
    assert forged.status_code == 400
    assert screen.journal() == before
    assert screen.client().post("/login", data={"driver": "d1", "pin": "1111"}).status_code == 400


def test_a_request_addressed_to_another_host_name_is_refused(screen):
    answer = screen.client().get("/login", headers={"Host": "attacker.example"})
    assert answer.status_code == 400


# --- missions --------------------------------------------------------------------------------


def test_the_missions_of_the_day_show_step_party_and_what_remains(screen):
    client = signed_in(screen)
    answer = client.get("/missions")
    assert "mardi 10 mars 2026 · 5 à encaisser" in text(answer)
    owed = card_text(answer, OWED)
    assert "ASSIST-A" in owed and "96,00 € à encaisser" in owed and "attribuée" in owed
    private = card_text(answer, PRIVATE)
    assert "Particulier" in private and "180,00 €" in private
    assert "Rien à encaisser" in card_text(answer, "M-A-0001")


def card_text(answer: Any, mission: str) -> str:
    card = re.search(rf'data-mission="{mission}">(.*?)</a>', answer.get_data(as_text=True), re.S)
    assert card, f"no card for {mission}"
    return text_of(card.group(1))


def text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def test_the_mission_page_says_who_pays_what_and_why(screen):
    client = signed_in(screen)
    page = text(client.get(f"/missions/{OWED}"))
    assert "Reste à encaisser 96,00 €" in page
    assert "ASSIST-A paie 144,00 €" in page
    assert "Le client paie 96,00 €" in page
    assert "WIN.VL.P à la charge du bénéficiaire, règle n° 2." in page  # shared.explain
    assert "Convention ASSIST-A version 1, valable le 10/03/2026." in page


# --- a phone day at the gate ------------------------------------------------------------------


def test_the_gate_refuses_leaving_the_scene_until_the_card_payment_is_recorded(screen):
    client = signed_in(screen)
    on_site(client)
    page = client.get(f"/missions/{OWED}").get_data(as_text=True)
    locked = re.search(r'<button[^>]*data-step="departed"[^>]*>(.*?)</button>', page, re.S)
    assert locked and 'class="step locked"' in locked.group(0)
    assert "Encaissez 96,00 € avant de quitter les lieux" in text_of(locked.group(1))

    before = screen.journal()
    refused = post(client, f"/missions/{OWED}/step", {"to": "departed"})
    assert refused.status_code == 409
    assert "Impossible de quitter les lieux" in text(refused)
    assert "Montant restant à encaisser : 96,00 €" in text(refused)
    assert screen.journal() == before

    opened = post(client, "/register/open", {"float": "50,00", "next": f"/missions/{OWED}"})
    assert opened.headers["Location"] == f"/missions/{OWED}"
    form = client.get(f"/missions/{OWED}?method=card").get_data(as_text=True)
    assert form_fields(form, "collect-form") == {"csrf_token", "method", "amount", "terminal_ref"}
    paid = post(
        client,
        f"/missions/{OWED}/collect",
        {"method": "card", "amount": "96,00", "terminal_ref": "AUT-7731"},
    )
    assert paid.status_code == 302, text(paid)
    assert paid.headers["Location"] == f"/missions/{OWED}/receipts/1"  # shown to the customer
    page = text(client.get(f"/missions/{OWED}"))
    assert "Encaissé : 96,00 € (carte bancaire). Reste à encaisser : 0,00 €." in page
    assert "Tout est réglé 0,00 €" in page

    moved = post(client, f"/missions/{OWED}/step", {"to": "departed"})
    assert moved.status_code == 302
    assert "Étape enregistrée : départ des lieux." in text(client.get(f"/missions/{OWED}"))
    tablet = screen.tablet()
    assert tablet.view(OWED).step.value == "departed"
    collected = [r.payload for r in tablet.ledger().money_rows(("collection",))]
    assert collected == [
        {
            "mission_id": OWED,
            "method": "card",
            "amount": "96.00",
            "terminal_ref": "AUT-7731",
            "vat": collected[0]["vat"],
            "receipt": {"number": 1, "settled_before": "0.00"},  # the tablet's first receipt
        }
    ]


@pytest.mark.parametrize("method", list(Method))
def test_each_method_asks_exactly_its_evidence(screen, method):
    client = signed_in(screen)
    post(client, "/register/open", {"float": "0"})
    page = client.get(f"/missions/{PRIVATE}?method={method.value}").get_data(as_text=True)
    assert form_fields(page, "collect-form") == {
        "csrf_token",
        "method",
        "amount",
        *EVIDENCE[method],
    }


def test_choosing_the_method_comes_first_and_a_method_the_contract_refuses_is_not_offered(screen):
    client = signed_in(screen)
    post(client, "/register/open", {"float": "0"})
    page = client.get(f"/missions/{OWED}").get_data(as_text=True)
    offered = set(re.findall(r'class="method[^"]*" href="[^"]*" data-method="([a-z_]+)"', page))
    assert offered == {"cash", "card", "cheque", "payment_link"}  # ASSIST-A: no transfer
    assert "collect-form" not in page
    refused = client.get(f"/missions/{OWED}?method=transfer")
    assert refused.status_code == 400
    assert "Ce mode de règlement n'est pas accepté pour cette mission" in text(refused)
    assert "collect-form" not in refused.get_data(as_text=True)


BAD_COLLECTIONS = [
    ({"method": "card", "amount": "abc", "terminal_ref": "A1"}, 400, "est illisible : « abc »"),
    ({"method": "card", "amount": "0", "terminal_ref": "A1"}, 400, "doit être supérieur à zéro"),
    ({"method": "card", "amount": "-5", "terminal_ref": "A1"}, 400, "doit être supérieur à zéro"),
    ({"method": "card", "amount": "96,001", "terminal_ref": "A1"}, 400, "est illisible"),
    ({"method": "card", "amount": "96,00", "terminal_ref": " "}, 400, "Indiquez la référence"),
    ({"method": "card", "amount": "96,00"}, 400, "Indiquez la référence d'autorisation"),
    (
        {"method": "cheque", "amount": "96,00", "cheque_number": "1234567"},
        400,
        "Indiquez la banque du chèque.",
    ),
    ({"method": "cash", "amount": "96,00"}, 400, "Indiquez le montant remis par le client."),
    (
        {"method": "card", "amount": "96,00", "terminal_ref": "A1", "cheque_number": "12"},
        400,
        "Information sans objet pour ce mode de règlement : cheque_number.",
    ),
    ({"method": "", "amount": "96,00"}, 400, "Choisissez d'abord le mode de règlement."),
    ({"method": "card", "amount": "500,00", "terminal_ref": "A1"}, 409, "dépasse le reste"),
    (
        {"method": "transfer", "amount": "96,00", "reference": "VIR-1"},
        409,
        "Le règlement par virement n'est pas accepté pour cette mission.",
    ),
    (
        {"method": "cheque", "amount": "96,00", "cheque_number": "12AB", "bank": "BNP"},
        409,
        "Le numéro du chèque ne doit contenir que des chiffres",
    ),
]


@pytest.mark.parametrize(("form", "status", "words"), BAD_COLLECTIONS)
def test_a_bad_collection_says_why_keeps_what_was_typed_and_records_nothing(
    screen, form, status, words
):
    client = signed_in(screen)
    post(client, "/register/open", {"float": "50,00"})
    before = screen.journal()
    answer = post(client, f"/missions/{OWED}/collect", form)
    assert answer.status_code == status
    assert words in text(answer)
    assert screen.journal() == before
    if form["method"] in ("card", "cheque"):  # the form is shown again with what was typed
        assert f'value="{form["amount"]}"' in answer.get_data(as_text=True)


def test_collecting_needs_an_open_register(screen):
    client = signed_in(screen)
    page = client.get(f"/missions/{OWED}")
    assert "Ouvrez d'abord votre caisse avec son fond de caisse." in text(page)
    assert "collect-form" not in page.get_data(as_text=True)
    before = screen.journal()
    refused = post(
        client, f"/missions/{OWED}/collect", {"method": "card", "amount": "96", "terminal_ref": "A"}
    )
    assert refused.status_code == 409 and screen.journal() == before


def test_cash_gives_the_change_and_the_register_follows_to_its_closing(screen):
    client = signed_in(screen)
    post(client, "/register/open", {"float": "50,00"})
    paid = post(
        client, f"/missions/{OWED}/collect", {"method": "cash", "amount": "96", "tendered": "100"}
    )
    assert paid.status_code == 302
    assert "Monnaie à rendre : 4,00 €." in text(client.get(f"/missions/{OWED}"))
    page = text(client.get("/register"))
    assert "Espèces attendues dans le tiroir 146,00 €" in page
    assert "Espèces 96,00 €" in page

    bad = post(client, "/register/deposit", {"amount": "100", "reference": ""})
    assert bad.status_code == 400 and "Indiquez le numéro du bordereau de dépôt." in text(bad)
    too_much = post(client, "/register/deposit", {"amount": "500", "reference": "BORD-1"})
    assert too_much.status_code == 409 and "refusé" in text(too_much)
    assert (
        post(client, "/register/deposit", {"amount": "100", "reference": "BORD-1"}).status_code
        == 302
    )
    assert "Espèces attendues dans le tiroir 46,00 €" in text(client.get("/register"))
    closed = post(client, "/register/close", {"counted": "40,00"})
    assert closed.status_code == 302
    page = text(client.get("/register"))
    assert "Caisse fermée. Compté : 40,00 €. Écart : -6,00 €." in page
    assert "fermée" in page and "Ouvrir la caisse" in page


# --- approvals and disputes -------------------------------------------------------------------


def test_a_discount_with_a_wrong_code_is_refused_and_the_managers_code_opens_the_gate(screen):
    client = signed_in(screen)
    on_site(client)
    before = screen.journal()
    wrong = post(
        client,
        f"/missions/{OWED}/approval",
        {"kind": "discount", "amount": "96,00", "code": "ABCDE-FGHJK"},
    )
    assert wrong.status_code == 409
    assert "Essais restants : 4." in text(wrong)  # counted: one `approval_refused` entry
    assert 'value="ABCDE-FGHJK"' in wrong.get_data(as_text=True)
    assert screen.journal() == before + 1

    code = approval_code(OWED, Kind.DISCOUNT, "20.00", screen.clock.now)
    other_amount = post(
        client, f"/missions/{OWED}/approval", {"kind": "discount", "amount": "30", "code": code}
    )
    assert other_amount.status_code == 409 and screen.journal() == before + 2
    granted = post(
        client, f"/missions/{OWED}/approval", {"kind": "discount", "amount": "20,00", "code": code}
    )
    assert granted.status_code == 302
    assert "Remise de 20,00 € enregistrée. Reste à encaisser : 76,00 €." in text(
        client.get(f"/missions/{OWED}")
    )

    later = approval_code(OWED, Kind.DEFERRAL, "76.00", screen.clock.now)
    deferred = post(
        client, f"/missions/{OWED}/approval", {"kind": "deferral", "amount": "76", "code": later}
    )
    assert deferred.status_code == 302
    assert post(client, f"/missions/{OWED}/step", {"to": "departed"}).status_code == 302


def test_a_dispute_goes_to_the_office_and_an_empty_one_is_refused(screen):
    client = signed_in(screen)
    before = screen.journal()
    empty = post(client, "/missions/M-A-0001/dispute", {"reason": "  "})
    assert empty.status_code == 400 and screen.journal() == before
    sent = post(client, "/missions/M-A-0001/dispute", {"reason": "Péage inclus selon le client"})
    assert sent.status_code == 302
    disputes = [r.payload for r in screen.tablet().ledger().rows() if r.type == "dispute"]
    assert disputes == [
        {"mission_id": "M-A-0001", "reason": "Péage inclus selon le client", "due": "0.00"}
    ]


# --- two drivers on one tablet ----------------------------------------------------------------


def test_another_drivers_missions_are_not_found_and_the_first_session_ends(screen):
    karim = signed_in(screen, "d1", "1111")
    julie = signed_in(screen, "d2", "2222")
    page = julie.get("/missions")
    assert "Aucune mission pour vous sur cette tablette." in text(page)
    assert OWED not in page.get_data(as_text=True)
    assert julie.get(f"/missions/{OWED}").status_code == 404
    before = screen.journal()
    for path, data in (
        (f"/missions/{OWED}/step", {"to": "en_route"}),
        (f"/missions/{OWED}/dispute", {"reason": "pas à moi"}),
        (f"/missions/{OWED}/collect", {"method": "card", "amount": "96", "terminal_ref": "X"}),
    ):
        assert post(julie, path, data).status_code == 404
    assert screen.journal() == before
    # Julie signed in on the tablet: Karim's open page no longer acts in his name.
    ended = karim.get(f"/missions/{OWED}")
    assert ended.status_code == 302 and ended.headers["Location"] == "/login"
    assert "Votre session est terminée" in text(karim.get("/login"))


# --- English --------------------------------------------------------------------------------------


def test_english_is_chosen_with_lang_and_remembered(screen):
    client = signed_in(screen)
    on_site(client)
    page = text(client.get(f"/missions/{OWED}?lang=en"))
    assert "Remaining to collect €96.00" in page
    assert "Collect €96.00 before leaving the scene" in page
    assert "The customer pays €96.00" in page
    later = text(client.get("/missions"))  # no ?lang: the cookie remembers
    assert "My missions" in later and "€96.00 to collect" in later
    refused = post(client, f"/missions/{OWED}/step", {"to": "departed"})
    assert "You cannot leave the scene yet" in text(refused)
    assert "Mes missions" in text(client.get("/missions?lang=fr"))


# --- sync --------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sync_sends_what_waits_and_a_dropped_link_loses_nothing(world, tmp_path):  # noqa: F811
    tablet = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(tablet)  # Karim's missions and contracts
    tablet.close()
    screen = Screen(tmp_path / "karim", world.clock, sync_client=lambda t, _lang: world.client(t))
    client = signed_in(screen)
    on_site(client)
    page = text(client.get("/sync"))
    assert "3 entrée(s) en attente d'envoi au bureau" in page  # valuation + two steps
    assert "10/03/2026 08:30" in page  # the sync above, on the tablet's wall clock (Paris)

    world.clock.advance(minutes=20)
    world.link.inject("cut")
    down = post(client, "/sync", {})
    assert down.status_code == 503
    assert "Serveur injoignable" in text(down)
    assert "3 entrée(s) restent sur la tablette" in text(down)
    assert screen.tablet().pending_count() == 3

    world.link.heal()
    synced = post(client, "/sync", {})
    assert synced.status_code == 302
    page = text(client.get("/sync"))
    assert "Synchronisé : 3 entrée(s) envoyée(s)" in page
    assert "Tout est envoyé au bureau." in page
    assert "10/03/2026 08:50" in page  # this sync, on the tablet's wall clock
    device = screen.tablet().device_id
    assert [e.entry.type for e in world.server_chain(device)] == [
        "valuation_recorded",
        "mission_step",
        "mission_step",
    ]


# --- the command -------------------------------------------------------------------------


def test_serve_has_help_and_refuses_any_address_but_loopback(tmp_path):
    runner = CliRunner()
    helped = runner.invoke(field, ["serve", "--help"])
    assert helped.exit_code == 0 and "Example" in helped.output and "127.0.0.1" in helped.output
    for host in ("0.0.0.0", "192.168.1.10", "::1", "office.example"):
        refused = runner.invoke(field, ["serve", "--home", str(tmp_path), "--host", host])
        assert refused.exit_code == 2, host
        assert "never the network" in refused.output
    blank = runner.invoke(field, ["serve", "--lang", "fr", "--home", str(tmp_path / "blank")])
    assert blank.exit_code == 3 and "n'est pas enrôlée" in blank.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_prints_its_url_and_serves_the_screen_on_loopback(tmp_path):
    offline_tablet(tmp_path / "tablet", signed_in=None).close()
    port = free_port()
    served = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fieldclient.cli import main; main()",
            "serve",
            "--home",
            str(tmp_path / "tablet"),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TOWLINE_LANG": "fr"},
    )
    try:
        assert served.stdout is not None
        line = served.stdout.readline()
        assert (
            line.strip() == f"Écran du chauffeur : http://127.0.0.1:{port}/  (Ctrl-C pour arrêter)"
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as page:
                    body = page.read().decode("utf-8")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert "Écran du chauffeur" in body and "Karim" in body
    finally:
        served.terminate()
        served.wait(timeout=10)
    # A second server on the same port is refused in words (exit 2).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        busy = CliRunner().invoke(
            field,
            ["serve", "--lang", "fr", "--home", str(tmp_path / "tablet"), "--port", str(port)],
        )
    assert busy.exit_code == 2 and f"Port {port} indisponible" in busy.output


def test_money_on_the_screen_is_decimal_to_the_cent(screen):
    client = signed_in(screen)
    post(client, "/register/open", {"float": "0"})
    paid = post(
        client,
        f"/missions/{PRIVATE}/collect",
        {"method": "transfer", "amount": "0,10", "reference": "VIR-1"},
    )
    assert paid.status_code == 302
    remaining = screen.tablet().view(PRIVATE).money
    assert remaining is not None and remaining.remaining == Decimal("179.90")

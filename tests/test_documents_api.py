"""Invoices through the API and the command line, on SQLite and PostgreSQL: the seller's
identity (checked with python-stdnum), a mission synced by a tablet invoiced once, the
PDF and the Factur-X PDF served as issued, credit notes, each tenant seeing only its own
documents, each act needing its right."""

from __future__ import annotations

import json
from pathlib import Path

import facturx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.office import office_journal
from server.people import identity
from server.platform import keys
from server.platform.tables import documents
from shared import journal, signing
from shared.chain_verifier import verify_chain
from shared.contract_schema import load_contract
from shared.mission import load_mission
from shared.valuation import value
from tests.conftest import example
from tests.invoicing_support import NOW, SELLER, SIREN, VAT, pdf_text, set_up
from tests.server_support import PASSWORD, enrol, world  # noqa: F401
from tests.storage import engine  # noqa: F401

MISSION = example("missions", "a-saturday-accident-winching")  # M-A-0003
CONTRACT = example("contracts", "assist-a")


@pytest.fixture
def shop(world):  # noqa: F811
    """acme with ASSIST-A, its contracts and M-A-0003 (not valued yet, no seller
    identity), an `office` and a `manager` user; the clock on the mission's day."""
    with world.engine.begin() as conn:
        set_up(conn, with_seller=False, valued=False)
        for login in ("office", "manager"):
            identity.create_user(
                conn, "acme", login, login.title(), PASSWORD, login, actor="t", now=NOW
            )
    world.clock.now = NOW
    for tenant, login in (
        ("acme", "admin"),
        ("acme", "clerk"),
        ("acme", "office"),
        ("acme", "manager"),
        ("other", "admin"),
    ):
        world.tokens[f"{tenant}.{login}"] = world.login(tenant, login).json["token"]
    return world


def push(w, device, type_, payload):
    """One signed entry of the tablet, pushed."""
    entries = device.setdefault("entries", [])
    head = entries[-1].head if entries else journal.genesis(device["device_id"])
    signed = journal.append(
        head,
        type=type_,
        at=journal.utc_timestamp(NOW),
        driver_id="D1",
        payload=payload,
        private_key=device["key"],
    )
    entries.append(signed)
    answer = w.client.post(
        "/api/v1/sync/push",
        json={
            "protocol": 1,
            "device_id": device["device_id"],
            "entries": [journal.to_wire(signed)],
        },
        headers={"Authorization": f"Bearer {device['token']}"},
    )
    assert answer.status_code == 200, answer.json
    return signed


def sync_mission(w, collected="100.00"):
    """The tablet records its valuation of M-A-0003 and a collection, and syncs."""
    device = enrol(w, ["D1"])
    valued = value(load_mission(MISSION), load_contract(CONTRACT)).to_wire()
    push(w, device, "valuation_recorded", {"mission_id": "M-A-0003", "valuation": valued})
    push(
        w,
        device,
        "collection",
        {"mission_id": "M-A-0003", "method": "cash", "amount": collected},
    )
    return device


def put_seller(w, body, who="acme.admin", lang="fr"):
    return w.client.put(
        "/api/v1/tenant/seller", json=body, headers={**w.auth(who), "Accept-Language": lang}
    )


def invoice(w, mission_id="M-A-0003", who="acme.admin", lang="fr"):
    return w.client.post(
        f"/api/v1/missions/{mission_id}/invoice",
        headers={**w.auth(who), "Accept-Language": lang},
    )


# --- the seller's identity -----------------------------------------------------------


def test_the_sellers_identity_is_checked_and_needed_to_invoice(shop):
    missing = shop.client.get("/api/v1/tenant/seller", headers=shop.auth("acme.clerk"))
    assert (missing.status_code, missing.json["code"]) == (404, "seller_identity_missing")
    refused = invoice(shop, lang="en")
    assert (refused.status_code, refused.json["code"]) == (409, "seller_identity_missing")
    assert "seller's identity" in refused.json["message"] and "SIRET" in refused.json["message"]
    assert "identité du vendeur" in invoice(shop).json["message"]

    bad = put_seller(
        shop,
        {**SELLER, "siret": SELLER["siret"][:-1] + "9", "vat_number": "FR00" + SIREN},
        lang="en",
    )
    assert (bad.status_code, bad.json["code"]) == (422, "invalid_document")
    by_path = {p["path"]: p["message"] for p in bad.json["problems"]}
    assert set(by_path) == {"siret", "vat_number"}
    assert "check digits do not match" in by_path["siret"]
    unknown = put_seller(shop, {**SELLER, "colour": "red"})
    assert (unknown.status_code, unknown.json["code"]) == (422, "invalid_request")
    assert put_seller(shop, SELLER, who="acme.clerk").status_code == 403
    assert put_seller(shop, SELLER, who="acme.office").status_code == 403  # manage_users

    made = put_seller(shop, {**SELLER, "vat_number": VAT.lower().replace("fr", "FR ")})
    assert made.status_code == 200, made.json
    assert (made.json["siren"], made.json["vat_number"], made.json["capital"]) == (
        SIREN,
        VAT,
        "10000.00",
    )
    shown = shop.client.get("/api/v1/tenant/seller", headers=shop.auth("acme.clerk"))
    assert shown.json == made.json
    other = shop.client.get("/api/v1/tenant/seller", headers=shop.auth("other.admin"))
    assert other.status_code == 404  # every tenant its own


# --- from a synced mission to its documents ------------------------------------------


def test_a_synced_mission_is_invoiced_once_and_its_documents_served(shop):
    assert put_seller(shop, SELLER).status_code == 200
    early = invoice(shop, lang="en")
    assert (early.status_code, early.json["code"]) == (409, "valuation_missing")
    sync_mission(shop, collected="100.00")

    made = invoice(shop)
    assert made.status_code == 201, made.json
    assert [(d["number"], d["recipient_kind"], d["total"]["incl_vat"]) for d in made.json] == [
        ("F2026-000001", "ordering_party", "250.00"),
        ("F2026-000002", "beneficiary", "164.00"),
    ]
    # numbered in the request's transaction, their PDFs made after it (here: at its end)
    assert [(d["files"], d["pdf_sha256"]) for d in made.json] == [("preparing", None)] * 2
    again = invoice(shop, who="acme.office")
    assert [d["files"] for d in again.json] == ["ready", "ready"]
    unchanged = {"files", "pdf_sha256", "facturx_sha256"}
    assert again.status_code == 200
    assert [{k: v for k, v in d.items() if k not in unchanged} for d in again.json] == [
        {k: v for k, v in d.items() if k not in unchanged} for d in made.json
    ]

    listed = shop.client.get(
        "/api/v1/documents?mission_id=M-A-0003", headers=shop.auth("acme.office")
    )
    assert [d["number"] for d in listed.json] == ["F2026-000001", "F2026-000002"]
    none = shop.client.get("/api/v1/documents?kind=credit_note", headers=shop.auth("acme.admin"))
    assert none.json == []

    one = shop.client.get("/api/v1/documents/F2026-000002", headers=shop.auth("acme.office"))
    assert one.status_code == 200
    assert one.json["balance"] == {
        "number": "F2026-000002",
        "total": "164.00",
        "paid": "100.00",
        "paid_in_office": "0.00",  # payments the office recorded (docs/customer-debts.md)
        "discounted": "0.00",
        "deferred": "0.00",
        "credited": "0.00",
        "open": "64.00",
        "overpaid": "0.00",
        "status": "partly_paid",
    }
    assert one.json["seller"]["vat_number"] == VAT
    assert one.json["service_date"] == "2026-03-14"

    pdf = shop.client.get("/api/v1/documents/F2026-000002/pdf", headers=shop.auth("acme.office"))
    assert (pdf.status_code, pdf.mimetype) == (200, "application/pdf")
    assert pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    assert "Déjà réglé sur place : 100,00 €" in text and "Reste à payer : 64,00 €" in text

    fx = shop.client.get("/api/v1/documents/F2026-000001/facturx", headers=shop.auth("acme.office"))
    assert (fx.status_code, fx.mimetype) == (200, "application/pdf")
    _, xml = facturx.get_facturx_xml_from_pdf(fx.data, check_xsd=True)
    assert b"<ram:GrandTotalAmount>250.00</ram:GrandTotalAmount>" in xml
    none_for_them = shop.client.get(
        "/api/v1/documents/F2026-000002/facturx", headers=shop.auth("acme.office")
    )
    assert (none_for_them.status_code, none_for_them.json["code"]) == (404, "no_facturx")

    # the rest is credited: the beneficiary's invoice is settled
    note = shop.client.post(
        "/api/v1/documents/F2026-000002/credit-note",
        json={"amount": "64.00", "reason": "Geste commercial"},
        headers=shop.auth("acme.office"),
    )
    assert note.status_code == 201, note.json
    assert (note.json["number"], note.json["corrects"], note.json["total"]["incl_vat"]) == (
        "A2026-000001",
        "F2026-000002",
        "64.00",
    )
    settled = shop.client.get("/api/v1/documents/F2026-000002", headers=shop.auth("acme.admin"))
    assert settled.json["balance"]["status"] == "paid"
    assert settled.json["credited"] == "64.00"
    beyond = shop.client.post(
        "/api/v1/documents/F2026-000002/credit-note",
        json={"amount": "100.01", "reason": "x"},
        headers={**shop.auth("acme.office"), "Accept-Language": "en"},
    )
    assert (beyond.status_code, beyond.json["code"]) == (409, "credit_exceeds_invoice")
    assert "100.01" in beyond.json["message"] and "100.00" in beyond.json["message"]
    for body in ({"amount": 5.5, "reason": "x"}, {"amount": "5.00"}, {"reason": " "}):
        wrong = shop.client.post(
            "/api/v1/documents/F2026-000001/credit-note", json=body, headers=shop.auth("acme.admin")
        )
        assert (wrong.status_code, wrong.json["code"]) == (422, "invalid_request"), body
    total = shop.client.post(
        "/api/v1/documents/F2026-000001/credit-note",
        json={"reason": "Erreur de convention"},
        headers=shop.auth("acme.admin"),
    )
    assert total.json["total"]["incl_vat"] == "250.00" and total.json["files"] == "preparing"
    # Its files are made after the commit (issue 18); once made, the document names them.
    made_later = shop.client.get(
        f"/api/v1/documents/{total.json['number']}", headers=shop.auth("acme.office")
    )
    assert made_later.json["files"] == "ready" and made_later.json["facturx_sha256"]

    with shop.engine.connect() as conn:
        chain = office_journal.entries(conn, "acme")
    issuing = ("invoice_issued", "credit_note_issued")  # beside them, `document_rendered`
    assert [e.entry.payload["number"] for e in chain if e.entry.type in issuing] == [
        "F2026-000001",
        "F2026-000002",
        "A2026-000001",
        "A2026-000002",
    ]
    # signed with the installation's key, the one VAR_DIR holds
    assert verify_chain(chain, device_id="server:acme", public_key=_public_key(shop)) == ()


def _public_key(w):
    """The installation's public key, from the key file in the app's VAR_DIR."""
    return signing.public_key_of(keys.server_key(Path(w.client.application.config["VAR_DIR"])))


# --- tenants and rights --------------------------------------------------------------


def test_another_tenants_documents_are_not_found(shop):
    put_seller(shop, SELLER)
    sync_mission(shop)
    assert invoice(shop).status_code == 201
    theirs = shop.auth("other.admin")
    for path in (
        "/api/v1/documents/F2026-000001",
        "/api/v1/documents/F2026-000001/pdf",
        "/api/v1/documents/F2026-000001/facturx",
    ):
        answer = shop.client.get(path, headers=theirs)
        assert (answer.status_code, answer.json["code"]) == (404, "not_found"), path
    assert shop.client.get("/api/v1/documents", headers=theirs).json == []
    credit = shop.client.post(
        "/api/v1/documents/F2026-000001/credit-note", json={"reason": "x"}, headers=theirs
    )
    assert credit.status_code == 404
    assert invoice(shop, who="other.admin").status_code == 404  # acme's mission
    assert shop.count(documents, tenant_id="other") == 0
    assert shop.count(documents, tenant_id="acme") == 2


def test_each_act_needs_its_right(shop):
    put_seller(shop, SELLER)
    sync_mission(shop)
    assert invoice(shop, who="acme.clerk").status_code == 403
    assert invoice(shop, who="acme.manager").status_code == 201  # reconcile
    for path in ("/api/v1/documents", "/api/v1/documents/F2026-000001"):
        assert shop.client.get(path, headers=shop.auth("acme.clerk")).status_code == 403
        assert shop.client.get(path).status_code == 401

    def credit(who):
        return shop.client.post(
            "/api/v1/documents/F2026-000001/credit-note",
            json={"amount": "1.00", "reason": "x"},
            headers=shop.auth(who),
        ).status_code

    assert [credit(who) for who in ("acme.clerk", "acme.manager", "acme.office")] == [
        403,
        403,  # the manager reconciles but issues no credit note
        201,
    ]


# --- the command line ----------------------------------------------------------------


def test_documents_from_the_command_line(tmp_path, monkeypatch):
    from server.app import DEFAULTS
    from server.cli.documents import documents_issue
    from server.cli.main import main
    from server.people import hashing
    from server.platform.db import make_engine

    monkeypatch.setattr(hashing, "N", 2**8)
    url = f"sqlite:///{tmp_path}/cli.db"
    var_dir = tmp_path / "var"
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, [*args, "--database", url])

    def run_signed(*args):
        return run(*args, "--var-dir", str(var_dir))

    assert run("init-db").exit_code == 0
    assert run("tenants", "create", "acme", "--name", "Acme", "--payments").exit_code == 0
    with make_engine(url).begin() as conn:
        set_up(conn, with_seller=False)
    assert run("documents", "seller", "show", "acme").exit_code == 3
    assert run_signed("documents", "issue", "acme", "M-A-0003").exit_code == 3  # no seller

    seller_args = [
        "--name",
        SELLER["name"],
        "--address",
        SELLER["address"],
        "--postcode",
        SELLER["postcode"],
        "--city",
        SELLER["city"],
        "--vat",
        VAT,
    ]
    wrong = run("documents", "seller", "set", "acme", *seller_args, "--siret", "73282932000018")
    assert wrong.exit_code == 2 and "clé de contrôle" in wrong.output
    done = run(
        "documents", "seller", "set", "acme", *seller_args, "--siret", SELLER["siret"], "--json"
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["siren"] == SIREN
    assert (
        run(
            "documents", "seller", "set", "nowhere", *seller_args, "--siret", SELLER["siret"]
        ).exit_code
        == 3
    )

    issued = run_signed("documents", "issue", "acme", "M-A-0003", "--json")
    assert issued.exit_code == 0, issued.output
    assert [d["number"] for d in json.loads(issued.output)] == ["F2026-000001", "F2026-000002"]
    again = run_signed("documents", "issue", "acme", "M-A-0003", "--lang", "en")
    assert again.exit_code == 0 and "Already invoiced" in again.output
    assert run_signed("documents", "issue", "acme", "M-404").exit_code == 3

    listed = run("documents", "list", "acme", "--mission", "M-A-0003", "--json")
    assert [d["number"] for d in json.loads(listed.output)] == ["F2026-000001", "F2026-000002"]
    shown = run("documents", "show", "acme", "F2026-000002")
    assert shown.exit_code == 0 and "164,00" in shown.output and "open" in shown.output
    assert run("documents", "show", "acme", "F2026-000404").exit_code == 3

    out = tmp_path / "f1.pdf"
    assert (
        run("documents", "pdf", "acme", "F2026-000001", "--out", str(out), "--facturx").exit_code
        == 0
    )
    assert facturx.get_facturx_xml_from_pdf(out.read_bytes())[0] == "factur-x.xml"
    plain = tmp_path / "f2.pdf"
    assert run("documents", "pdf", "acme", "F2026-000002", "--out", str(plain)).exit_code == 0
    assert "FACTURE N° F2026-000002" in pdf_text(plain.read_bytes())
    no_fx = run("documents", "pdf", "acme", "F2026-000002", "--out", str(plain), "--facturx")
    assert no_fx.exit_code == 3

    blank = run_signed("documents", "credit-note", "acme", "F2026-000001", "--reason", " ")
    assert blank.exit_code == 2
    beyond = run_signed(
        "documents", "credit-note", "acme", "F2026-000001", "--reason", "x", "--amount", "250.01"
    )
    assert beyond.exit_code == 3 and "250,00" in beyond.output
    note = run_signed(
        "documents", "credit-note", "acme", "F2026-000001", "--reason", "Geste", "--amount", "10"
    )
    assert note.exit_code == 0 and "A2026-000001" in note.output

    # the CLI signs with the key in --var-dir, by default the folder `run` uses (VAR_DIR)
    [option] = [p for p in documents_issue.params if p.name == "var_dir"]
    assert (option.default, option.envvar) == (DEFAULTS["VAR_DIR"], "TOWLINE_VAR_DIR")
    with make_engine(url).connect() as conn:
        chain = office_journal.entries(conn, "acme")
        count = conn.execute(sa.select(sa.func.count()).select_from(documents)).scalar_one()
    public = signing.public_key_of(keys.server_key(var_dir))
    assert verify_chain(chain, device_id="server:acme", public_key=public) == ()
    issued = [e for e in chain if e.entry.type != "document_rendered"]
    assert len(issued) == count == 3
    assert len(chain) == 6  # each document's files signed once made (the command made them)

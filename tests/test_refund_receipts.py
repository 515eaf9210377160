"""A void when no invoice bills the customer still gives them a document (issue 16), on
SQLite and PostgreSQL: a refund receipt numbered in its own gapless series per tenant,
signed in the server journal, offered as a PDF by the API and the desk's mission page;
when an invoice bills the customer, the void issues none."""

from __future__ import annotations

import html
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli.main import main
from server.office import issued_documents, refund_receipts
from server.platform.web import SERVER_PRIVATE_KEY
from shared.chain_verifier import verify_chain
from tests.desk_support import sign_in
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal


def on_site_paid(w: World, tmp_path: Path, *payments: tuple[str, str]):
    """Karim on site on M-A-0004 (96.00 due), paid by card in `payments` (ref, amount)."""
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    w.sync(karim)
    karim.register_open(D("0.00"))
    for step in ("en_route", "on_site"):
        karim.step("M-A-0004", step)
    paid = [
        karim.collect("M-A-0004", "card", amount, {"terminal_ref": ref}) for ref, amount in payments
    ]
    w.sync(karim)
    return karim, paid


def void(w: World, device_id: str, seq: int, reason: str = "Payé deux fois") -> dict:
    answer = w.office.post(
        f"/api/v1/collections/{device_id}/{seq}/void",
        json={"reason": reason},
        headers=w.as_user("gerant"),
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_a_void_without_invoice_issues_numbered_refund_receipts_with_their_pdf(
    world,  # noqa: F811
    tmp_path: Path,
):
    w = world
    karim, paid = on_site_paid(w, tmp_path, ("AUT-1", "40.00"), ("AUT-2", "56.00"))
    first = void(w, karim.device_id, paid[0].seq)
    second = void(w, karim.device_id, paid[1].seq, "Carte refusée ensuite")
    assert (first["refund_receipt"], second["refund_receipt"]) == (
        "RR2026-000001",
        "RR2026-000002",
    )

    listed = w.office.get(
        "/api/v1/missions/M-A-0004/refund-receipts", headers=w.as_user("bureau")
    ).get_json()
    assert [(r["number"], r["amount"], r["method"], r["reason"]) for r in listed] == [
        ("RR2026-000001", "40.00", "card", "Payé deux fois"),
        ("RR2026-000002", "56.00", "card", "Carte refusée ensuite"),
    ]
    assert listed[0]["collection"]["seq"] == paid[0].seq
    assert listed[0]["decision"] == first["id"]
    assert listed[0]["receipt_number"] == paid[0].payload["receipt"]["number"]

    # Signed in the server journal, which still verifies.
    chain = w.server_chain("server:demo")
    [signed] = [e for e in chain if e.entry.payload.get("number") == "RR2026-000001"]
    assert signed.entry.type == "office_decision"
    assert signed.entry.payload["act"] == "refund_receipt"
    public = w.app.extensions[SERVER_PRIVATE_KEY].public_key()
    assert verify_chain(chain, device_id="server:demo", public_key=public) == ()

    pdf = w.office.get(
        "/api/v1/refund-receipts/RR2026-000002/pdf?lang=en", headers=w.as_user("bureau")
    )
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    missing = w.office.get("/api/v1/refund-receipts/RR2026-000009", headers=w.as_user("bureau"))
    assert missing.status_code == 404

    clerk = w.app.test_client()
    sign_in(clerk, "bureau")
    page = html.unescape(clerk.get("/desk/missions/M-A-0004").get_data(as_text=True))
    assert 'data-refund-receipt="RR2026-000001"' in page
    assert "/desk/refund-receipts/RR2026-000002.pdf" in page
    assert clerk.get("/desk/refund-receipts/RR2026-000001.pdf").data.startswith(b"%PDF")


def test_a_void_on_an_invoiced_mission_issues_no_refund_receipt(world, tmp_path: Path):  # noqa: F811
    w = world
    karim, [paid] = on_site_paid(w, tmp_path, ("AUT-1", "96.00"))
    for step in ("departed", "delivered", "closed"):
        karim.step("M-A-0004", step)
    w.sync(karim)
    with w.engine.connect() as conn:
        invoices = issued_documents.list_documents(conn, "demo", mission_id="M-A-0004")
        assert any(d["recipient_kind"] == "beneficiary" for d in invoices)
    done = void(w, karim.device_id, paid.seq)
    assert done["refund_receipt"] is None
    with w.engine.connect() as conn:
        assert refund_receipts.of_mission(conn, "demo", "M-A-0004") == []


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_command_line_void_says_which_refund_receipt_it_issued(world, tmp_path: Path):  # noqa: F811
    w = world
    karim, [paid] = on_site_paid(w, tmp_path, ("AUT-1", "96.00"))
    help_text = CliRunner().invoke(main, ["void", "--help"]).output
    assert "refund receipt" in help_text and "Example:" in help_text
    answer = CliRunner().invoke(
        main,
        [
            "void",
            "demo",
            karim.device_id,
            str(paid.seq),
            "--reason",
            "Payé deux fois",
            "--database",
            str(w.engine.url),
            "--var-dir",
            str(tmp_path / "var"),
            "--lang",
            "en",
        ],
    )
    assert answer.exit_code == 0, answer.output
    assert "Refund receipt RR2026-000001 issued to the customer." in answer.output
    chain = w.server_chain("server:demo")
    public = w.app.extensions[SERVER_PRIVATE_KEY].public_key()
    assert verify_chain(chain, device_id="server:demo", public_key=public) == ()

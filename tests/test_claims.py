"""Claims on SQLite and PostgreSQL: an ordering party's invoice opens a claim, the office
takes it through the status table (each cell a check), the documents the party requires
are checked before it is submitted (the refusal names what is missing), the party's
messages validate or reject it, credit notes reduce or cancel it, and every action is on
the file's log. Also the API (rights, tenants) and the documented table."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.office import invoicing, missions
from server.parties import claim_documents, claim_reading, claim_states, claims
from server.parties import files as party_files
from server.parties.claim_states import MOVES, Action, Status
from server.people import hashing, identity
from server.platform.errors import Conflict, NotFound, Unprocessable
from server.platform.tables import attachments, claim_requirements, file_events
from server.platform.tables import claims as claims_table
from shared.file_lifecycle import Event, State
from tests.conftest import example
from tests.invoicing_support import KEY, NOW, render, set_up, store_valuation
from tests.server_support import PASSWORD, Clock, World
from tests.storage import engine  # noqa: F401

ASSIST_A = example("contracts", "assist-a")
# mission id → (its file, what ASSIST-A pays incl. VAT)
MISSIONS = {
    "M-A-0003": ("ASSIST-A-2026-0003", "250.00"),
    "M-A-0001": ("ASSIST-A-2026-0001", "144.00"),
    "M-A-0002": ("ASSIST-A-2026-0002", "198.00"),
    "M-A-0005": ("ASSIST-A-2026-0005", "216.00"),
}
EXTRA = ("a-tuesday-30km", "a-tuesday-80km", "a-tuesday-evening")
FILE = "ASSIST-A-2026-0003"


def prepare(conn: sa.Connection, tenant: str = "acme") -> None:
    """The tenant of tests.invoicing_support plus three more valued ASSIST-A missions,
    and the ordering party's order recorded for each mission's file."""
    set_up(conn, tenant)
    for name in EXTRA:
        document = example("missions", name)
        missions.create(conn, tenant, document, None, actor="t", now=NOW)
        store_valuation(conn, tenant, document, ASSIST_A)
    for file_number, _ in MISSIONS.values():
        party_files.record(
            conn,
            tenant,
            "ASSIST-A",
            file_number,
            Event.ORDER,
            source="party",
            actor="ASSIST-A",
            now=NOW,
            message_id=f"order-{file_number}",
        )


@pytest.fixture
def shop(engine):  # noqa: F811
    with engine.begin() as conn:
        prepare(conn)
        prepare(conn, "other")
    return engine


def issue(eng, mission_id="M-A-0003", tenant="acme", now=NOW):
    """Invoice the mission; the number of the ordering party's invoice."""
    with eng.begin() as conn:
        made = invoicing.issue_for_mission(conn, tenant, mission_id, key=KEY, actor="u1", now=now)
    render(eng, now)  # its PDF, as a worker makes it after the commit
    return next(d["number"] for d in made if d["recipient_kind"] == "ordering_party")


def credit(eng, number, amount=None, tenant="acme", now=NOW):
    with eng.begin() as conn:
        made = invoicing.credit_note(
            conn, tenant, number, amount=amount, reason="Geste", key=KEY, actor="u1", now=now
        )
    render(eng, now)
    return made


def act(eng, number, action, tenant="acme", reasons=None, now=NOW):
    with eng.begin() as conn:
        return claims.act(conn, tenant, number, action, actor="bureau", now=now, reasons=reasons)


def get(eng, number, tenant="acme"):
    with eng.connect() as conn:
        return claim_reading.get_claim(conn, tenant, number)


def require(eng, kinds, party="ASSIST-A", tenant="acme"):
    with eng.begin() as conn:
        return claim_documents.set_requirements(conn, tenant, party, kinds, actor="admin", now=NOW)


_ids = itertools.count(1)


def attach(eng, mission_id, kind, *, complete=True, tenant="acme"):
    """An attachment row as the tablet upload leaves it (complete or still arriving)."""
    with eng.begin() as conn:
        conn.execute(
            sa.insert(attachments).values(
                tenant_id=tenant,
                id=f"att-{next(_ids)}",
                mission_id=mission_id,
                device_id="dev_a",
                kind=kind,
                content_type="image/jpeg",
                size=1000,
                sha256="0" * 64,
                received=1000 if complete else 400,
                taken_at="2026-03-14T10:30:00+01:00",
                announced_at=NOW,
                completed_at=NOW if complete else None,
            )
        )


def file_state(eng, file_number=FILE, tenant="acme"):
    with eng.connect() as conn:
        return party_files.state_of(conn, tenant, "ASSIST-A", file_number)


def file_log(eng, file_number=FILE, tenant="acme"):
    with eng.connect() as conn:
        return party_files.history(conn, tenant, "ASSIST-A", file_number)


def set_status(eng, number, status, tenant="acme"):
    with eng.begin() as conn:
        conn.execute(
            sa.update(claims_table)
            .where(claims_table.c.tenant_id == tenant, claims_table.c.invoice_number == number)
            .values(status=status)
        )


# --- an invoice opens a claim ----------------------------------------------------------------


def test_an_ordering_party_invoice_opens_a_claim_and_puts_the_file_on_it(shop):
    number = issue(shop)
    claim = get(shop, number)
    assert (claim["status"], claim["party_id"], claim["file_number"]) == (
        "to_create",
        "ASSIST-A",
        FILE,
    )
    assert (claim["amount"], claim["paid"], claim["credited"], claim["open"]) == (
        "250.00",
        "0.00",
        "0.00",
        "250.00",
    )
    assert claim["issued_on"] == "2026-03-14"  # the invoice's local date
    assert claim["next_actions"] == ["create"]
    assert claim["party_name"] == "Assistance A"
    # only the ordering party's invoice is a claim, not the beneficiary's (F2026-000002)
    with shop.connect() as conn:
        assert [c["invoice_number"] for c in claim_reading.list_claims(conn, "acme")] == [number]
        assert claim_reading.list_claims(conn, "other") == []
    assert file_state(shop) is State.INTEGRATED
    log = [(e["source"], e["event"]) for e in file_log(shop)]
    assert log == [
        ("party", "order"),
        ("claim", "claim_opened"),
        ("office", "used_in_document"),
    ]


def test_an_invoice_on_a_file_waiting_for_its_order_is_issued_with_a_warning(shop):
    with shop.begin() as conn:
        party_files.record(
            conn,
            "acme",
            "ASSIST-A",
            "ASSIST-A-2026-0099",
            Event.OPENING_REQUEST,
            source="party",
            actor="p",
            now=NOW,
            message_id="open-99",
        )
        document = {**example("missions", "a-tuesday-30km"), "id": "M-A-0099"}
        document["file_number"] = "ASSIST-A-2026-0099"
        missions.create(conn, "acme", document, None, actor="t", now=NOW)
        store_valuation(conn, "acme", document, ASSIST_A)
    number = issue(shop, "M-A-0099")  # issued all the same: the invoicing is not refused
    assert get(shop, number)["status"] == "to_create"
    assert file_state(shop, "ASSIST-A-2026-0099") is State.WAITING_FOR_ORDER
    last = file_log(shop, "ASSIST-A-2026-0099")[-1]
    assert (last["source"], last["event"]) == ("office", "document_refused_by_file")
    assert last["detail"]["document"] == number
    assert "attend l'ordre de mission" in last["detail"]["warning"]["fr"]
    assert "waiting for the mission order" in last["detail"]["warning"]["en"]
    # and the claim is not sent while the file refuses it
    act(shop, number, "create")
    with pytest.raises(Exception, match="rien à envoyer"):
        act(shop, number, "submit")
    assert get(shop, number)["status"] == "created"


def test_a_file_towline_never_heard_of_keeps_its_log_but_no_lifecycle(shop):
    with shop.begin() as conn:
        document = {**example("missions", "a-tuesday-30km"), "id": "M-A-0098"}
        document["file_number"] = "ASSIST-A-2026-0098"
        missions.create(conn, "acme", document, None, actor="t", now=NOW)
        store_valuation(conn, "acme", document, ASSIST_A)
    number = issue(shop, "M-A-0098")
    act(shop, number, "create")
    act(shop, number, "submit")
    assert file_state(shop, "ASSIST-A-2026-0098") is None
    assert [e["event"] for e in file_log(shop, "ASSIST-A-2026-0098")] == [
        "claim_opened",
        "claim_create",
        "claim_submit",
    ]


# --- required documents ------------------------------------------------------------------


def test_a_claim_is_not_submitted_while_a_required_photo_is_missing_and_says_which(shop):
    require(shop, ["invoice_pdf", "vehicle_photo", "signature"])
    number = issue(shop)
    act(shop, number, "create")
    attach(shop, "M-A-0003", "signature")
    attach(shop, "M-A-0003", "vehicle_photo", complete=False)  # still arriving
    attach(shop, "M-A-0001", "vehicle_photo")  # another mission's
    attach(shop, "M-A-0003", "vehicle_photo", tenant="other")  # another tenant's
    before = len(file_log(shop))
    for action in ("submit", "attach_check"):
        with pytest.raises(Conflict) as refused:
            act(shop, number, action)
        assert refused.value.code == "documents_missing"
        assert refused.value.message("fr") == (
            f"Pièces manquantes pour la demande {number} : photo du véhicule. Les photos et"
            " signatures arrivent avec la synchronisation de la tablette."
        )
        assert "Documents missing for claim F2026-000001: vehicle photo." in (
            refused.value.message("en")
        )
    claim = get(shop, number)
    assert claim["status"] == "created" and claim["missing"] == ["vehicle_photo"]
    assert [d["present"] for d in claim["documents"]] == [True, False, True]
    assert len(file_log(shop)) == before  # a refusal writes nothing
    assert file_state(shop) is State.INTEGRATED

    attach(shop, "M-A-0003", "vehicle_photo")  # the upload completed
    assert act(shop, number, "attach_check")["status"] == "documents_attached"
    done = act(shop, number, "submit")
    assert done["status"] == "to_validate" and done["missing"] == []
    assert file_state(shop) is State.SENT
    sent = [e for e in file_log(shop) if e["event"] == "document_sent"]
    assert [(e["source"], e["state_before"], e["state_after"]) for e in sent] == [
        ("claim", "integrated", "sent")
    ]
    submitted = next(e for e in file_log(shop) if e["event"] == "claim_submit")
    assert submitted["detail"]["documents"] == ["invoice_pdf", "vehicle_photo", "signature"]
    assert submitted["detail"]["requirements_version"] == 1


def test_free_named_kinds_are_named_as_they_are(shop):
    require(shop, ["invoice_pdf", "towing_ticket", "handover_report"])
    number = issue(shop)
    act(shop, number, "create")
    with pytest.raises(Conflict) as refused:
        act(shop, number, "submit")
    assert "towing_ticket, signed handover report" in refused.value.message("en")
    assert "towing_ticket, procès-verbal de remise signé" in refused.value.message("fr")


def test_requirements_are_versioned_per_party(shop):
    with shop.connect() as conn:
        assert claim_documents.requirements(conn, "acme", "ASSIST-A")["kinds"] == ["invoice_pdf"]
    first = require(shop, ["invoice_pdf", "vehicle_photo", "vehicle_photo"])
    assert (first["version"], first["kinds"]) == (1, ["invoice_pdf", "vehicle_photo"])
    assert require(shop, ["invoice_pdf", "vehicle_photo"])["version"] == 1  # same: no version
    second = require(shop, ["vehicle_photo"])
    assert (second["version"], second["kinds"]) == (2, ["vehicle_photo"])
    with shop.connect() as conn:
        rows = conn.execute(
            sa.select(claim_requirements.c.version, claim_requirements.c.kinds).where(
                claim_requirements.c.tenant_id == "acme"
            )
        ).all()
        assert claim_documents.requirements(conn, "other", "ASSIST-A")["version"] == 0
    assert sorted((r.version, list(r.kinds)) for r in rows) == [
        (1, ["invoice_pdf", "vehicle_photo"]),
        (2, ["vehicle_photo"]),
    ]
    with pytest.raises(Unprocessable):
        require(shop, ["Vehicle Photo"])
    with pytest.raises(NotFound):
        require(shop, ["invoice_pdf"], party="NOBODY")


# --- the status table ----------------------------------------------------------------------

# Written out by hand, independently of MOVES: what the office may do from each status.
OFFICE_ALLOWED = {
    ("to_create", "create"): "created",
    ("created", "attach_check"): "documents_attached",
    ("created", "submit"): "to_validate",
    ("documents_attached", "submit"): "to_validate",
    ("to_validate", "validate"): "validated",
    ("to_validate", "reject"): "rejected",
    ("validated", "reject"): "rejected",
    ("rejected", "resubmit"): "to_validate",
}
OPEN = ("to_create", "created", "documents_attached", "to_validate", "validated", "rejected")


def test_the_table_holds_exactly_the_documented_moves():
    office = {
        (s.value, a.value): t.value
        for (s, a), t in MOVES.items()
        if a in claim_states.OFFICE_ACTIONS
    }
    assert office == OFFICE_ALLOWED
    for status in Status:
        for action, target in (
            ("party_validated", "validated"),
            ("party_rejected", "rejected"),
            ("paid_in_full", "paid"),
            ("credited_in_full", "cancelled"),
        ):
            cell = MOVES.get((status, Action(action)))
            assert (cell.value if cell else None) == (target if status in OPEN else None), (
                status,
                action,
            )
    assert claim_states.next_actions(Status.REJECTED) == [Action.RESUBMIT]
    assert claim_states.next_actions(Status.PAID) == []


def test_every_office_action_from_every_status_does_what_the_table_says(shop):
    number = issue(shop)
    for status, action in itertools.product(Status, claim_states.OFFICE_ACTIONS):
        target = OFFICE_ALLOWED.get((status.value, action.value))
        with shop.connect() as conn:
            trans = conn.begin()
            conn.execute(
                sa.update(claims_table)
                .where(claims_table.c.invoice_number == number)
                .values(status=status.value)
            )
            events = conn.execute(sa.select(sa.func.count()).select_from(file_events)).scalar()
            try:
                with conn.begin_nested():
                    done = claims.act(
                        conn, "acme", number, action, actor="b", now=NOW, reasons=["Photo floue"]
                    )
            except Conflict as refused:
                assert target is None, (status, action, refused)
                assert refused.code == "claim_action_refused"
                label = claim_states.STATUS_LABELS[status]
                assert f"est « {label.fr} »" in refused.message("fr")
                assert f"is '{label.en}'" in refused.message("en")
                now_status = conn.execute(
                    sa.select(claims_table.c.status).where(claims_table.c.invoice_number == number)
                ).scalar()
                assert now_status == status.value
                count = conn.execute(sa.select(sa.func.count()).select_from(file_events)).scalar()
                assert count == events
            else:
                assert done["status"] == target, (status, action)
                last = party_files.history(conn, "acme", "ASSIST-A", FILE)[-1]
                assert last["event"] == f"claim_{action.value}"
                assert (last["detail"]["from"], last["detail"]["to"]) == (status.value, target)
            finally:
                trans.rollback()


def test_an_unknown_action_or_claim_is_a_404(shop):
    number = issue(shop)
    with pytest.raises(NotFound):
        act(shop, number, "pay")
    with pytest.raises(NotFound):
        act(shop, number, "party_validated")  # a message, not an office action
    with pytest.raises(NotFound):
        act(shop, "F2026-999999", "create")
    with pytest.raises(NotFound):
        act(shop, number, "create", tenant="other")


def test_a_rejection_needs_reasons_and_a_rejected_claim_is_corrected_and_resubmitted(shop):
    number = issue(shop)
    for action in ("create", "submit"):
        act(shop, number, action)
    with pytest.raises(Unprocessable):
        act(shop, number, "reject", reasons=["  "])
    rejected = act(shop, number, "reject", reasons=["Photo illisible", "Km non justifiés"])
    assert rejected["status"] == "rejected"
    assert rejected["rejection"]["reasons"] == ["Photo illisible", "Km non justifiés"]
    assert rejected["rejection"]["by"] == "office"
    assert rejected["next_actions"] == ["resubmit"]
    # the file follows: back to integrated, with a warning naming the rejection
    with shop.connect() as conn:
        stored = party_files.get_file(conn, "acme", "ASSIST-A", FILE)
    assert stored["state"] == "integrated"
    assert f"Rejet de la facture {number} saisi au bureau" in stored["warning"]["fr"]
    again = act(shop, number, "resubmit")
    assert again["status"] == "to_validate"
    assert file_state(shop) is State.SENT
    assert act(shop, number, "validate")["status"] == "validated"
    assert file_state(shop) is State.AWAITING_PAYMENT
    claim_events = [e["event"] for e in file_log(shop) if e["source"] == "claim"]
    assert claim_events == [
        "claim_opened",
        "claim_create",
        "document_sent",
        "claim_submit",
        "claim_reject",
        "document_sent",
        "claim_resubmit",
        "claim_validate",
    ]


# --- the ordering party's messages ----------------------------------------------------------


def message(eng, event, *, invoice=None, reasons=None, file_number=FILE, message_id="m"):
    """What the messages code does: record the message on the file, then move claims."""
    with eng.begin() as conn:
        recorded = party_files.record(
            conn,
            "acme",
            "ASSIST-A",
            file_number,
            event,
            source="party",
            actor="ASSIST-A",
            now=NOW,
            message_id=message_id,
            message_name="SD 37",
        )
        if recorded.duplicate:
            return []
        return claims.on_file_event(
            conn,
            "acme",
            "ASSIST-A",
            file_number,
            event,
            actor="ASSIST-A",
            now=NOW,
            invoice_number=invoice,
            reasons=reasons,
            message_name="SD 37",
        )


def test_the_partys_messages_validate_or_reject_any_open_claim_and_never_refuse(shop):
    number = issue(shop)
    act(shop, number, "create")
    # a rejection before the office even submitted (the party got the Factur-X anyway)
    [touched] = message(
        shop, Event.INVOICE_REJECTED, reasons=["Franchise non déduite"], message_id="r1"
    )
    assert touched["status"] == "rejected"
    assert touched["rejection"]["reasons"] == ["Franchise non déduite"]
    assert touched["rejection"]["by"] == "party"
    assert message(shop, Event.INVOICE_REJECTED, reasons=["x"], message_id="r1") == []  # dup
    [touched] = message(shop, Event.INVOICE_VALIDATED, invoice=number, message_id="v1")
    assert touched["status"] == "validated"
    assert message(shop, Event.FOLLOW_UP, message_id="f1") == []  # not about claims
    set_status(shop, number, "paid")
    [late] = message(
        shop, Event.INVOICE_REJECTED, invoice=number, reasons=["late"], message_id="r2"
    )
    assert late["status"] == "paid"
    last = [e for e in file_log(shop) if e["source"] == "claim"][-1]
    assert last["event"] == "claim_message_ignored"
    assert last["detail"]["event"] == "invoice_rejected"
    # without an invoice number, a message on a file leaves its paid claims alone
    assert message(shop, Event.INVOICE_VALIDATED, message_id="v2") == []


# --- credit notes ----------------------------------------------------------------------------


def test_a_partial_credit_note_reduces_the_claim_and_a_total_one_cancels_it(shop):
    number = issue(shop)
    act(shop, number, "create")
    credit(shop, number, "50.00")
    claim = get(shop, number)
    assert (claim["status"], claim["credited"], claim["open"]) == ("created", "50.00", "200.00")
    assert file_state(shop) is State.INTEGRATED  # the invoice still holds the file
    credit(shop, number)  # the rest
    claim = get(shop, number)
    assert (claim["status"], claim["credited"], claim["open"]) == (
        "cancelled",
        "250.00",
        "0.00",
    )
    assert claim["next_actions"] == []
    assert file_state(shop) is State.NOT_INTEGRATED  # ready to be invoiced again
    note = [e for e in file_log(shop) if e["event"] == "credit_note_issued"]
    assert [(e["source"], e["state_before"]) for e in note] == [("office", "integrated")]
    credited = [e["detail"] for e in file_log(shop) if e["event"] == "claim_credited"]
    assert [(d["credited"], d["open"], d["to"]) for d in credited] == [
        ("50.00", "200.00", "created"),
        ("200.00", "0.00", "cancelled"),
    ]


def test_the_beneficiarys_credit_notes_leave_claims_alone(shop):
    number = issue(shop)
    credit(shop, "F2026-000002")  # the beneficiary's invoice
    assert get(shop, number)["credited"] == "0.00"
    assert file_state(shop) is State.INTEGRATED


# --- the API -------------------------------------------------------------------------------


@pytest.fixture
def api(engine, tmp_path, monkeypatch):  # noqa: F811
    """The app, acme and other prepared, users of every role signed in, the clock on the
    invoices' day."""
    from server.app import create_app
    from tests.server_support import seed

    monkeypatch.setattr(hashing, "N", 2**8)
    clock = Clock(NOW)
    app = create_app(
        {"ENGINE": engine, "VAR_DIR": str(tmp_path / "var"), "SECRET_KEY": "t", "CLOCK": clock}
    )
    app.config["TESTING"] = True
    seed(engine)
    with engine.begin() as conn:
        prepare(conn)
        prepare(conn, "other")
        for login in ("office", "manager"):
            identity.create_user(
                conn, "acme", login, login.title(), PASSWORD, login, actor="t", now=NOW
            )
    w = World(app.test_client(), clock, engine)
    for tenant, login in (
        ("acme", "admin"),
        ("acme", "clerk"),
        ("acme", "office"),
        ("acme", "manager"),
        ("other", "admin"),
    ):
        answer = w.login(tenant, login)
        assert answer.status_code == 200, answer.json
        w.tokens[f"{tenant}.{login}"] = answer.json["token"]
    return w


def test_the_api_lists_shows_and_moves_claims(api):
    number = issue(api.engine)
    office = api.auth("acme.office")
    listed = api.client.get("/api/v1/claims?status=to_create&party_id=ASSIST-A", headers=office)
    assert listed.status_code == 200
    assert [c["invoice_number"] for c in listed.json] == [number]
    assert api.client.get("/api/v1/claims?status=paid", headers=office).json == []
    shown = api.client.get(f"/api/v1/claims/{number}", headers=office)
    assert shown.status_code == 200
    assert shown.json["missing"] == [] and shown.json["open"] == "250.00"
    assert [e["event"] for e in shown.json["log"]][-2:] == ["claim_opened", "used_in_document"]

    put = api.client.put(
        "/api/v1/ordering-parties/ASSIST-A/claim-requirements",
        json={"kinds": ["invoice_pdf", "vehicle_photo"]},
        headers=office,
    )
    assert put.status_code == 200 and put.json["version"] == 1
    assert api.client.post(f"/api/v1/claims/{number}/create", headers=office).json["status"] == (
        "created"
    )
    refused = api.client.post(
        f"/api/v1/claims/{number}/submit", headers={**office, "Accept-Language": "en"}
    )
    assert refused.status_code == 409
    assert refused.json["code"] == "documents_missing"
    assert "vehicle photo" in refused.json["message"]
    attach(api.engine, "M-A-0003", "vehicle_photo")
    assert api.client.post(f"/api/v1/claims/{number}/attach-check", headers=office).status_code == (
        200
    )
    assert api.client.post(f"/api/v1/claims/{number}/submit", headers=office).json["status"] == (
        "to_validate"
    )
    bad = api.client.post(f"/api/v1/claims/{number}/reject", json={"reasons": []}, headers=office)
    assert bad.status_code == 422
    rejected = api.client.post(
        f"/api/v1/claims/{number}/reject", json={"reasons": ["Photo floue"]}, headers=office
    )
    assert rejected.json["status"] == "rejected"
    assert (
        api.client.post(f"/api/v1/claims/{number}/resubmit", headers=office).json["status"]
        == "to_validate"
    )
    assert (
        api.client.post(f"/api/v1/claims/{number}/validate", headers=office).json["status"]
        == "validated"
    )
    twice = api.client.post(f"/api/v1/claims/{number}/validate", headers=office)
    assert twice.status_code == 409 and twice.json["code"] == "claim_action_refused"


def test_the_api_checks_rights_and_tenants(api):
    number = issue(api.engine)
    clerk, manager = api.auth("acme.clerk"), api.auth("acme.manager")
    assert api.client.get("/api/v1/claims", headers=clerk).status_code == 403
    assert api.client.post(f"/api/v1/claims/{number}/create", headers=clerk).status_code == 403
    assert api.client.get("/api/v1/claims").status_code == 401
    # the manager reconciles but does not edit the parties' terms
    assert api.client.get(
        "/api/v1/ordering-parties/ASSIST-A/claim-requirements", headers=manager
    ).json["kinds"] == ["invoice_pdf"]
    assert (
        api.client.put(
            "/api/v1/ordering-parties/ASSIST-A/claim-requirements",
            json={"kinds": ["vehicle_photo"]},
            headers=manager,
        ).status_code
        == 403
    )
    other = api.auth("other.admin")
    assert api.client.get(f"/api/v1/claims/{number}", headers=other).status_code == 404
    assert api.client.post(f"/api/v1/claims/{number}/create", headers=other).status_code == 404
    assert api.client.get("/api/v1/claims", headers=other).json == []
    assert (
        api.client.put(
            "/api/v1/ordering-parties/NOBODY/claim-requirements",
            json={"kinds": ["vehicle_photo"]},
            headers=api.auth("acme.admin"),
        ).status_code
        == 404
    )
    assert (
        api.client.put(
            "/api/v1/ordering-parties/ASSIST-A/claim-requirements",
            json={"kinds": ["Bad Kind"], "extra": 1},
            headers=api.auth("acme.admin"),
        ).status_code
        == 422
    )


# --- the documented table --------------------------------------------------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "claims-and-payments.md"


def test_the_documented_table_is_the_code():
    text = DOC.read_text("utf-8")
    start, end = "<!-- generated: claim_states.markdown_table() -->\n", "<!-- end generated -->"
    assert text.split(start, 1)[1].split(end, 1)[0] == claim_states.markdown_table()
    for status in Status:
        assert f"`{status}`" in text

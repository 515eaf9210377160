"""The anomaly desk: the list and its filters, one anomaly and only the actions that fit
it, the resolution in one action with a reason and a confirmation, refusals that change
nothing, rights, tenants and languages."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from server.people import identity
from server.platform.tables import anomalies, decisions
from tests.anomaly_refs import anomaly_ref
from tests.desk_support import post, sign_in
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_office_day import create_missions, forged, mission_doc, value_first

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)

D = Decimal


def a_day(w: World, tmp_path: Path) -> dict[str, int]:
    """Karim takes 40.00 on a mission the ordering party pays in full (a fictitious
    collection); Julie grants a 20.00 discount citing a code nobody issued."""
    create_missions(w, "d1", [mission_doc("a-tuesday-30km", "FICT-1")])
    create_missions(w, "d2", [mission_doc("a-tuesday-winching-breakdown", "DISC-1")])
    karim = w.tablet(tmp_path / "karim", "d1", "1111")
    julie = w.tablet(tmp_path / "julie", "d2", "2222")
    for tablet in (karim, julie):
        w.sync(tablet)
        tablet.register_open(D("50.00"))
    value_first(karim, "FICT-1")
    forged(
        karim,
        "collection",
        {
            "mission_id": "FICT-1",
            "method": "cash",
            "amount": "40.00",
            "tendered": "40.00",
            "change": "0.00",
        },
    )
    value_first(julie, "DISC-1")
    julie.collect("DISC-1", "card", "76.00", {"terminal_ref": "AUT-D1"})
    forged(julie, "discount", {"mission_id": "DISC-1", "amount": "20.00", "approval_ref": "1:0000"})
    w.sync(karim)
    w.sync(julie)
    return {row.kind: row.id for row in open_rows(w)}


def open_rows(w: World) -> list[Any]:
    with w.engine.connect() as conn:
        return conn.execute(
            sa.select(anomalies).where(anomalies.c.status == "open").order_by(anomalies.c.id)
        ).all()


def status_of(w: World, anomaly_id: int) -> str:
    with w.engine.connect() as conn:
        return str(
            conn.execute(
                sa.select(anomalies.c.status).where(anomalies.c.id == anomaly_id)
            ).scalar_one()
        )


def decision_count(w: World) -> int:
    with w.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one())


def text(answer: Any) -> str:
    """The page as a person reads it: entities decoded, spaces made plain."""
    return html.unescape(answer.get_data(as_text=True)).replace("\u00a0", " ")


def drivers_of(page: str) -> list[str]:
    """The driver shown on each row of a list page."""
    return re.findall(r'<td class="driver"[^>]*>([^<]*)</td>', page)


def rows_of(page: str) -> list[str]:
    """The anomaly ids listed on a list page, in order."""
    return re.findall(r'data-anomaly="(\d+)"', page)


@pytest.fixture
def day(world, tmp_path):  # noqa: F811
    return a_day(world, tmp_path)


@pytest.fixture
def refs(world, day):  # noqa: F811
    """The number the desk shows and takes for each anomaly of `day` (not its row id)."""
    return {kind: str(anomaly_ref(world.app, row_id)) for kind, row_id in day.items()}


def test_the_list_shows_open_anomalies_with_their_sentence_and_counts(world, refs):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    answer = client.get("/desk/anomalies")
    assert answer.status_code == 200
    page = text(answer)
    assert rows_of(page) == [refs["discount_without_approval"], refs["fictitious_collection"]]
    assert "Encaissement fictif" in page and "Remise sans accord" in page
    assert "Encaissement fictif : 40,00 € encaissé alors que le bénéficiaire ne devait rien" in page
    assert 'href="/desk/missions/FICT-1"' in page
    assert re.search(r"Encaissement fictif <b>1</b>", page)
    assert drivers_of(page) == ["Julie", "Karim"]


def test_filters_by_kind_driver_mission_and_status(world, refs):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    fict, disc = refs["fictitious_collection"], refs["discount_without_approval"]
    assert rows_of(text(client.get("/desk/anomalies?kind=fictitious_collection"))) == [fict]
    by_julie = text(client.get("/desk/anomalies?driver_id=d2"))
    assert rows_of(by_julie) == [disc] and drivers_of(by_julie) == ["Julie"]
    assert rows_of(text(client.get("/desk/anomalies?mission_id=FICT-1"))) == [fict]
    assert rows_of(text(client.get("/desk/anomalies?status=resolved"))) == []
    assert rows_of(text(client.get("/desk/anomalies?status=all&driver_id=d1"))) == [fict]
    # The counts follow the other filters, not the kind (they help choose it).
    counts = text(client.get("/desk/anomalies?kind=fictitious_collection&driver_id=d2"))
    assert rows_of(counts) == []
    assert re.search(r"Remise sans accord <b>1</b>", counts)
    assert "Encaissement fictif <b>" not in counts


def test_a_bad_filter_is_refused_with_a_message(world, day):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    answer = client.get("/desk/anomalies?status=gone")
    assert answer.status_code == 400
    assert "Statut inconnu : « gone »" in text(answer)
    assert client.get("/desk/anomalies?kind=nonsense").status_code == 400


def test_english_labels_on_request(world, refs):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    page = text(client.get("/desk/anomalies?lang=en"))
    assert "Fictitious collection" in page and "Discount without approval" in page
    assert "Fictitious collection: €40.00 collected although the beneficiary owed nothing" in page
    assert "Encaissement fictif" not in page
    detail = text(client.get(f"/desk/anomalies/{refs['fictitious_collection']}"))
    assert "Void the collection" in detail and "Reason (required)" in detail


def test_the_detail_shows_the_evidence_and_only_the_actions_that_fit(world, refs):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    fict = text(client.get(f"/desk/anomalies/{refs['fictitious_collection']}"))
    assert 'name="action" value="void"' in fict
    assert re.findall(r'name="action" value="(\w+)"', fict) == ["void"]
    assert "Encaissement" in fict and "40,00 €" in fict and "Espèces" in fict
    disc = text(client.get(f"/desk/anomalies/{refs['discount_without_approval']}"))
    # The office role may refuse it; approving needs the manager's right.
    assert re.findall(r'name="action" value="(\w+)"', disc) == ["refuse"]
    assert "Droit requis : « accorder une remise »" in disc
    assert "1:0000" in disc  # the code the driver cited
    manager = world.app.test_client()
    sign_in(manager, "gerant")
    disc = text(manager.get(f"/desk/anomalies/{refs['discount_without_approval']}"))
    assert re.findall(r'name="action" value="(\w+)"', disc) == ["approve", "refuse"]


def test_voiding_asks_for_confirmation_then_goes_to_the_mission(world, day, refs):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    anomaly_id, ref = day["fictitious_collection"], refs["fictitious_collection"]
    path = f"/desk/anomalies/{ref}/resolve"
    first = post(client, path, {"action": "void", "reason": "Le client n'a rien payé"})
    assert first.status_code == 200
    page = text(first)
    assert "Confirmer : annuler l'encaissement de 40,00 € de Karim ?" in page
    # Nothing bills this customer: the sentence names the refund receipt, and only it.
    assert "Le client reçoit un reçu de remboursement." in page
    assert "La facture du client répond" not in page
    assert 'name="confirm" value="1"' in page
    assert status_of(world, anomaly_id) == "open" and decision_count(world) == 0

    done = post(
        client, path, {"action": "void", "reason": "Le client n'a rien payé", "confirm": "1"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/desk/missions/FICT-1"
    assert status_of(world, anomaly_id) == "resolved" and decision_count(world) == 1
    mission = text(client.get("/desk/missions/FICT-1"))
    assert f"Anomalie n° {ref} (Encaissement fictif) résolue" in mission
    assert "Décision envoyée à la tablette de Karim (dec_" in mission
    # Nothing was invoiced on this mission: the customer gets a refund receipt.
    assert "Documents émis : RR2026-000001 (reçu de remboursement, 40,00 €)" in mission
    after = text(client.get(f"/desk/anomalies/{ref}"))
    assert "Résolue par Béatrice Bureau" in after and "Le client n'a rien payé" in after
    assert 'name="action"' not in after  # no action on a resolved anomaly


def test_a_wrong_action_for_the_kind_is_refused_and_changes_nothing(world, day, refs):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "admin")
    anomaly_id, ref = day["fictitious_collection"], refs["fictitious_collection"]
    for confirm in ("", "1"):
        answer = post(
            client,
            f"/desk/anomalies/{ref}/resolve",
            {"action": "approve", "reason": "Pourquoi pas", "confirm": confirm},
        )
        assert answer.status_code == 409
        assert (
            "« Approuver » ne s'applique pas à une anomalie « Encaissement fictif » : rien n'a"
            " été fait. Possibles : Annuler l'encaissement." in text(answer)
        )
    unknown = post(client, f"/desk/anomalies/{ref}/resolve", {"action": "delete"})
    assert unknown.status_code == 422 and "Action inconnue" in text(unknown)
    assert status_of(world, anomaly_id) == "open" and decision_count(world) == 0


def test_a_missing_reason_shows_the_form_again_and_changes_nothing(world, day, refs):  # noqa: F811
    client = world.app.test_client()
    sign_in(client, "bureau")
    anomaly_id, ref = day["fictitious_collection"], refs["fictitious_collection"]
    for reason in ("", "   "):
        answer = post(
            client,
            f"/desk/anomalies/{ref}/resolve",
            {"action": "void", "reason": reason, "confirm": "1"},
        )
        # Post/Redirect/Get: back to the anomaly's form; a reload posts nothing.
        assert answer.status_code == 303
        assert answer.headers["Location"] == f"/desk/anomalies/{ref}/resolve?refused=1"
        for _ in range(2):  # the page, then a reload
            shown = client.get(answer.headers["Location"])
            assert shown.status_code == 200
            page = text(shown)
            assert "Indiquez le motif : il est enregistré avec la décision." in page
            assert 'name="action" value="void"' in page  # the form, to fill in again
            assert "Confirmer" not in page
    assert status_of(world, anomaly_id) == "open" and decision_count(world) == 0
    # Without a refusal kept (a link, a bookmark), the address is the anomaly page.
    plain = client.get(f"/desk/anomalies/{ref}/resolve")
    assert plain.status_code == 302 and plain.headers["Location"] == f"/desk/anomalies/{ref}"


def test_approving_what_is_owed_offers_deferral_or_discount(world, tmp_path):  # noqa: F811
    create_missions(world, "d3", [mission_doc("a-tuesday-winching-breakdown", "GATE-1")])
    marc = world.tablet(tmp_path / "marc", "d3", "3333")
    world.sync(marc)
    value_first(marc, "GATE-1")
    marc.step("GATE-1", "on_site")
    forged(
        marc,
        "mission_step",
        {"mission_id": "GATE-1", "from": "on_site", "to": "departed", "remaining": "96.00"},
    )
    world.sync(marc)
    gate = next(r for r in open_rows(world) if r.kind == "gate_bypassed")
    client = world.app.test_client()
    sign_in(client, "gerant")
    page = text(client.get(f"/desk/anomalies/{anomaly_ref(world.app, gate.id)}"))
    assert re.findall(r'name="action" value="(\w+)"', page) == ["approve", "refuse", "acknowledge"]
    assert '<option value="deferral"' in page and '<option value="discount"' in page
    path = f"/desk/anomalies/{anomaly_ref(world.app, gate.id)}/resolve"
    bad = post(client, path, {"action": "approve", "reason": "Accord  du chef", "as_kind": "gift"})
    assert bad.status_code == 303 and decision_count(world) == 0
    again = client.get(bad.headers["Location"]).get_data(as_text=True)
    assert "Choisissez « facturer plus tard » ou « remise »." in html.unescape(again)
    assert ">Accord du chef</textarea>" in again  # the reason as typed (spaces made one)
    asked = post(client, path, {"action": "approve", "reason": "Accord", "as_kind": "discount"})
    assert "Confirmer : accorder une remise de 96,00 € sur la mission GATE-1 ?" in text(asked)
    done = post(
        client,
        path,
        {"action": "approve", "reason": "Accord", "as_kind": "discount", "confirm": "1"},
    )
    assert done.status_code == 302
    with world.engine.connect() as conn:
        made = conn.execute(sa.select(decisions.c.type, decisions.c.mission_id)).all()
    assert [(r.type, r.mission_id) for r in made] == [("discount", "GATE-1")]


def test_without_the_void_right_voiding_is_forbidden(world, day, refs):  # noqa: F811
    with world.engine.begin() as conn:
        tenant = identity.get_tenant(conn, "demo")
        assert tenant is not None
        identity.set_role(conn, tenant, "checker", ["reconcile"], actor="test", now=START)
        identity.create_user(
            conn, "demo", "cora", "Cora Contrôle", "pass-cora-1", "checker", actor="t", now=START
        )
    client = world.app.test_client()
    sign_in(client, "cora", password="pass-cora-1")
    anomaly_id, ref = day["fictitious_collection"], refs["fictitious_collection"]
    page = text(client.get(f"/desk/anomalies/{ref}"))
    assert 'name="action" value="void"' not in page
    assert "Droit requis : « annuler un encaissement »" in page
    for confirm in ("", "1"):
        answer = post(
            client,
            f"/desk/anomalies/{ref}/resolve",
            {"action": "void", "reason": "Essai", "confirm": confirm},
        )
        assert answer.status_code == 403
        assert "Droit requis : « annuler un encaissement »" in text(answer)
    assert status_of(world, anomaly_id) == "open" and decision_count(world) == 0


def test_another_tenants_anomaly_is_not_found(world, day, refs):  # noqa: F811
    with world.engine.begin() as conn:
        identity.create_tenant(conn, "autre", "Autre SARL", payments_enabled=True, now=START)
        identity.create_user(
            conn, "autre", "chef", "Chef Autre", "pass-autre-1", "admin", actor="t", now=START
        )
    client = world.app.test_client()
    sign_in(client, "chef", tenant="autre", password="pass-autre-1")
    anomaly_id, ref = day["fictitious_collection"], refs["fictitious_collection"]
    assert client.get(f"/desk/anomalies/{ref}").status_code == 404
    answer = post(
        client,
        f"/desk/anomalies/{ref}/resolve",
        {"action": "void", "reason": "Essai", "confirm": "1"},
    )
    assert answer.status_code == 404
    listed = text(client.get("/desk/anomalies?status=all"))
    assert rows_of(listed) == [] and "FICT-1" not in listed
    assert status_of(world, anomaly_id) == "open" and decision_count(world) == 0

"""The office approves after the fact a fact a driver kept for it (anomaly
`site_fact_beyond_tolerance` without a code), on SQLite and PostgreSQL, with the real
field client syncing with the app: the server values the mission again at once with the
fact counted, the tablet that recorded it does too at its next pull (the price moves,
the gate follows), both digests agree; the approval needs its right, a reason, and is
given once, signed in the server journal and logged; the anomaly is named by its ref
(server/platform/public_ids.py) in URLs, answers, refusals and pages, never its row id."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from server.office import site_facts
from server.office.anomalies import open_anomaly
from server.platform.tables import anomalies, audit_log, journal_entries, valuations
from shared.errors import Refused
from shared.site_facts_found import Found
from tests.anomaly_refs import anomaly_ref
from tests.desk_support import post, sign_in
from tests.office_world import START, world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
MISSION = "M-A-0002"  # Julie's: 80 km loaded ordered, ASSIST-A (+10 % or +5 km alone)


def _server_digests(w) -> list[str]:
    with w.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(valuations.c.digest)
                .where(valuations.c.mission_id == MISSION, valuations.c.source == "server")
                .order_by(valuations.c.id)
            ).scalars()
        )


def _held(w) -> int:
    with w.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(anomalies.c.id).where(
                    anomalies.c.kind == site_facts.BEYOND, anomalies.c.status == "open"
                )
            ).scalar_one()
        )


@pytest.fixture
def kept(world, tmp_path):  # noqa: F811
    """Julie finds 92 km and winching on site and keeps them for the office: no price
    change yet, the anomaly is open on the server."""
    julie = world.tablet(tmp_path / "julie", "d2", "2222")
    world.sync(julie)
    before = julie.view(MISSION).valuation
    for step in ("en_route", "on_site"):
        julie.step(MISSION, step)
    found = Found(distance_km={"loaded": D("92")}, add_services=("WIN",))
    done = julie.record_site_facts(MISSION, found, for_office=True)
    assert len(done.held) == 2
    assert julie.view(MISSION).valuation.digest == before.digest  # kept: nothing moves
    world.sync(julie)
    return julie, before


def test_the_office_approval_counts_the_fact_on_the_server_then_on_the_tablet(world, kept):  # noqa: F811
    julie, before = kept
    anomaly = _held(world)
    ref = anomaly_ref(world.app, anomaly)
    assert ref != anomaly
    answer = world.office.post(
        f"/api/v1/anomalies/{ref}/approve-site-facts",
        json={"reason": "Accord d'Assistance A au téléphone : déviation et treuillage"},
        headers=world.as_user("gerant"),
    )
    assert answer.status_code == 200, answer.get_json()
    done = answer.get_json()
    assert done["anomaly"] == ref
    # 92 km loaded: 42 extra × 1.50 = 63.00; winching without accident: the customer's.
    assert done["revalued"]["beneficiary_due"] == "96.00"
    server_digest = _server_digests(world)[-1]
    assert server_digest != before.digest
    assert julie.view(MISSION).money.remaining == D("0.00")  # the tablet does not know yet
    with pytest.raises(Refused):  # …and once it knows, the gate holds Julie until she is paid
        report = world.sync(julie)
        assert report.decisions == 1
        julie.step(MISSION, "departed")
    view = julie.view(MISSION)
    assert view.valuation.digest == server_digest  # same mission, same money, same digest
    assert view.money.remaining == D("96.00")
    assert [s.code for s in view.mission.services] == ["TOW", "WIN"]
    assert view.mission.distance_km["loaded"] == D("92")
    restated = [r for r in julie.ledger().rows() if r.type == "site_facts"][-1]
    assert restated.payload["approval_ref"] == f"office:{done['decisions'][0]}"
    world.sync(julie)  # the tablet's new valuation reaches the server: no mismatch
    assert "valuation_mismatch" not in world.anomaly_kinds()
    assert world.anomaly_kinds().count(site_facts.BEYOND) == 1  # resolved, none new
    with world.engine.connect() as conn:
        status = conn.execute(
            sa.select(anomalies.c.status).where(anomalies.c.id == anomaly)
        ).scalar_one()
        journaled = conn.execute(
            sa.select(journal_entries.c.type).where(
                journal_entries.c.device_id.startswith("server:"),
                journal_entries.c.mission_id == MISSION,
            )
        ).scalars()
        logged = conn.execute(
            sa.select(audit_log.c.action).where(
                audit_log.c.target.in_([str(anomaly), done["decisions"][0]])
            )
        ).scalars()
        assert status == "resolved"
        assert "office_decision" in list(journaled)
        assert {"decision.site_facts_approval", "anomaly.approve"} <= set(logged)
    assert _server_digests(world)[-1] == server_digest


def test_the_approval_needs_the_right_a_reason_and_is_given_once(world, kept):  # noqa: F811
    anomaly = _held(world)
    ref = anomaly_ref(world.app, anomaly)
    url = f"/api/v1/anomalies/{ref}/approve-site-facts"
    no_right = world.office.post(url, json={"reason": "ok"}, headers=world.as_user("bureau"))
    assert no_right.status_code == 403
    no_reason = world.office.post(url, json={"reason": ""}, headers=world.as_user("gerant"))
    assert no_reason.status_code == 422
    assert _server_digests(world)[-1:] == _server_digests(world)[-1:]
    first = world.office.post(url, json={"reason": "accord"}, headers=world.as_user("gerant"))
    assert first.status_code == 200
    again = world.office.post(url, json={"reason": "accord"}, headers=world.as_user("gerant"))
    assert again.status_code == 409 and again.get_json()["code"] == "anomaly_not_open"
    assert again.get_json()["message"] == (
        f"L'anomalie {ref} n'est plus ouverte (resolved) : rien n'a été fait."
    )


def test_a_row_id_a_forged_ref_or_another_kind_is_refused_by_ref(world, kept):  # noqa: F811
    anomaly = _held(world)
    gerant = world.as_user("gerant")
    for number in (anomaly, anomaly_ref(world.app, anomaly) ^ 1, 4294967295):
        answer = world.office.post(
            f"/api/v1/anomalies/{number}/approve-site-facts", json={"reason": "x"}, headers=gerant
        )
        assert answer.status_code == 404 and answer.get_json()["code"] == "not_found"
        assert answer.get_json()["message"] == f"Anomalie introuvable : {number}"
    assert (
        world.office.post(
            "/api/v1/anomalies/99999999999/approve-site-facts", json={"reason": "x"}, headers=gerant
        ).status_code
        == 404
    )  # beyond 10 digits: no route
    with world.engine.begin() as conn:
        open_anomaly(conn, tenant_id="demo", kind="register_variance", detail={}, now=START)
        other = int(conn.execute(sa.select(sa.func.max(anomalies.c.id))).scalar_one())
    ref = anomaly_ref(world.app, other)
    unfit = world.office.post(
        f"/api/v1/anomalies/{ref}/approve-site-facts", json={"reason": "x"}, headers=gerant
    )
    assert unfit.status_code == 409 and unfit.get_json()["code"] == "action_unfit"
    assert unfit.get_json()["message"].startswith(f"L'anomalie {ref} n'est pas un constat")
    assert _held(world) == anomaly  # nothing done


def test_the_desk_shows_order_against_site_and_approves_with_a_reason(world, kept):  # noqa: F811
    desk = world.app.test_client()
    sign_in(desk, "gerant")
    page = desk.get(f"/desk/missions/{MISSION}?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:500]
    assert 'data-fact="distance" data-verdict="held"' in html
    assert "80 km" in html and "92 km" in html and "Julie" in html
    anomaly = _held(world)
    ref = anomaly_ref(world.app, anomaly)
    assert f'data-approve="{ref}"' in html and f'data-approve="{anomaly}"' not in html
    by_row_id = f"/desk/missions/{MISSION}/site-facts/{anomaly}/approve"
    refused = post(desk, by_row_id, {"reason": "accord", "confirm": "yes"})
    assert refused.status_code == 303 and _held(world) == anomaly  # a number nobody was given
    assert f"Anomaly not found: {anomaly}" in desk.get(f"/desk/missions/{MISSION}").get_data(
        as_text=True
    )
    url = f"/desk/missions/{MISSION}/site-facts/{ref}/approve"
    unconfirmed = post(desk, url, {"reason": "accord"})
    assert unconfirmed.status_code == 303 and _held(world) == anomaly  # nothing done
    done = post(desk, url, {"reason": "accord", "confirm": "yes"})
    assert done.status_code == 303
    html = desk.get(f"/desk/missions/{MISSION}?lang=en").get_data(as_text=True)
    assert 'data-fact="distance" data-verdict="office"' in html
    assert "Fact approved" in html

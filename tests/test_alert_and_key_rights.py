"""Two rights of their own (the API; the desk's side is tests/test_desk_security_alerts.py):
acting on a security alert (journal fork, invalid journal, quarantined push) needs
`acknowledge_alerts`, not only the clerk's `reconcile`; ordering parties' API keys need
`manage_party_keys`, not `edit_contracts`. The default roles: admin has both, manager the
alerts one, office neither."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.office.anomalies import open_anomaly
from server.people import identity
from server.people import ordering_parties as parties
from server.platform.tables import anomalies
from tests.anomaly_refs import anomaly_ref
from tests.server_support import PASSWORD, START, world  # noqa: F401
from tests.storage import engine  # noqa: F401

SECURITY_KINDS = ("journal_fork", "journal_invalid", "quarantined_push")


def sign_in_as(w, login, role):
    with w.engine.begin() as conn:
        identity.create_user(
            conn, "acme", login, login.title(), PASSWORD, role, actor="t", now=START
        )
    return {"Authorization": f"Bearer {w.login('acme', login).json['token']}"}


def alert(w, kind):
    with w.engine.begin() as conn:
        open_anomaly(
            conn, tenant_id="acme", kind=kind, detail={"why": "test"}, now=START, device_id="dev_x"
        )
        return int(conn.execute(sa.select(sa.func.max(anomalies.c.id))).scalar_one())


def status_of(w, anomaly_id):
    with w.engine.connect() as conn:
        return conn.execute(
            sa.select(anomalies.c.status).where(anomalies.c.id == anomaly_id)
        ).scalar_one()


def acknowledge(w, anomaly_id, headers):
    return w.client.post(
        f"/api/v1/anomalies/{anomaly_ref(w.client.application, anomaly_id)}/resolve",
        json={"action": "acknowledge", "reason": "Vu avec le chauffeur"},
        headers=headers,
    )


@pytest.mark.parametrize("kind", SECURITY_KINDS)
def test_the_reconcile_right_alone_does_not_acknowledge_a_security_alert(world, kind):  # noqa: F811
    clerk = sign_in_as(world, "bureau", "office")  # reconcile, not acknowledge_alerts
    anomaly_id = alert(world, kind)
    assert (
        world.client.get(
            f"/api/v1/anomalies/{anomaly_ref(world.client.application, anomaly_id)}", headers=clerk
        ).status_code
        == 200
    )
    refused = acknowledge(world, anomaly_id, {**clerk, "Accept-Language": "en"})
    assert (refused.status_code, refused.json["code"]) == (403, "right_missing")
    assert "'handle security alerts'" in refused.json["message"]
    assert status_of(world, anomaly_id) == "open"

    manager = sign_in_as(world, "gerant", "manager")
    done = acknowledge(world, anomaly_id, manager)
    assert done.status_code == 200, done.json
    assert status_of(world, anomaly_id) == "resolved"


def test_other_anomalies_still_need_only_reconcile(world):  # noqa: F811
    clerk = sign_in_as(world, "bureau", "office")
    anomaly_id = alert(world, "register_variance")
    done = acknowledge(world, anomaly_id, clerk)
    assert done.status_code == 200, done.json


def test_api_keys_need_their_own_right(world):  # noqa: F811
    with world.engine.begin() as conn:
        parties.create_party(conn, "acme", "ASSIST-B", "Assist B", actor="t", now=START)
    clerk = sign_in_as(world, "bureau", "office")  # edit_contracts, not manage_party_keys
    path = "/api/v1/parties/ASSIST-B/api-keys"
    for answer in (
        world.client.get(path, headers=clerk),
        world.client.post(path, json={"label": "Plateforme"}, headers=clerk),
    ):
        assert (answer.status_code, answer.json["code"]) == (403, "right_missing")
        assert "« gérer les clés d'API des donneurs d'ordre »" in answer.json["message"]
    made = world.client.post(path, json={"label": "Plateforme"}, headers=world.auth("acme.admin"))
    assert made.status_code == 201, made.json
    revoke = f"{path}/{made.json['id']}/revoke"
    assert world.client.post(revoke, headers=clerk).status_code == 403
    assert world.client.post(revoke, headers=world.auth("acme.admin")).status_code == 200
    # Cleaning rules stay with edit_contracts.
    assert (
        world.client.get("/api/v1/parties/ASSIST-B/cleaning-rules", headers=clerk).status_code
        == 200
    )

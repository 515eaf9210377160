"""On the desk, a security alert (journal fork, invalid journal, quarantined push) is seen
with `reconcile` but acted on only with `acknowledge_alerts` (the API's side is
tests/test_alert_and_key_rights.py): the clerk sees which right is missing instead of
the form, a forged POST is refused and changes nothing, the manager acknowledges it."""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from server.office.anomalies import open_anomaly
from server.platform.tables import anomalies
from tests.anomaly_refs import anomaly_ref
from tests.desk_support import post, sign_in
from tests.office_world import START, world  # noqa: F401
from tests.storage import engine  # noqa: F401

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def alert(w, kind="quarantined_push"):
    with w.engine.begin() as conn:
        open_anomaly(
            conn, tenant_id="demo", kind=kind, detail={"why": "test"}, now=START, device_id="dev_x"
        )
        return int(conn.execute(sa.select(sa.func.max(anomalies.c.id))).scalar_one())


def status_of(w, anomaly_id):
    with w.engine.connect() as conn:
        return conn.execute(
            sa.select(anomalies.c.status).where(anomalies.c.id == anomaly_id)
        ).scalar_one()


def text(answer):
    return html.unescape(answer.get_data(as_text=True)).replace("\u00a0", " ")


def test_the_clerk_sees_a_security_alert_but_cannot_acknowledge_it(world):  # noqa: F811
    anomaly_id = alert(world)
    ref = anomaly_ref(world.app, anomaly_id)
    clerk = world.app.test_client()
    sign_in(clerk, "bureau")  # role office: reconcile, not acknowledge_alerts
    page = clerk.get(f"/desk/anomalies/{ref}")
    assert page.status_code == 200
    assert 'name="action" value="acknowledge"' not in text(page)
    assert "Droit requis : « traiter les alertes de sécurité »" in text(page)
    for confirm in ("", "1"):
        refused = post(
            clerk,
            f"/desk/anomalies/{ref}/resolve",
            {"action": "acknowledge", "reason": "Vu", "confirm": confirm},
        )
        assert refused.status_code == 403
        assert "Droit requis : « traiter les alertes de sécurité »" in text(refused)
    assert status_of(world, anomaly_id) == "open"


def test_the_manager_acknowledges_a_security_alert(world):  # noqa: F811
    anomaly_id = alert(world, "journal_fork")
    ref = anomaly_ref(world.app, anomaly_id)
    manager = world.app.test_client()
    sign_in(manager, "gerant")
    page = text(manager.get(f"/desk/anomalies/{ref}"))
    assert 'name="action" value="acknowledge"' in page
    done = post(
        manager,
        f"/desk/anomalies/{ref}/resolve",
        {"action": "acknowledge", "reason": "Tablette restaurée, vu avec Karim", "confirm": "1"},
    )
    assert done.status_code == 302
    assert done.headers["Location"] == f"/desk/anomalies/{ref}"
    assert status_of(world, anomaly_id) == "resolved"


def test_the_clerk_still_acknowledges_other_anomalies(world):  # noqa: F811
    anomaly_id = alert(world, "register_variance")
    ref = anomaly_ref(world.app, anomaly_id)
    clerk = world.app.test_client()
    sign_in(clerk, "bureau")
    assert 'name="action" value="acknowledge"' in text(clerk.get(f"/desk/anomalies/{ref}"))

"""A journal alert raised at a push (issue 16), on SQLite and PostgreSQL: a forked journal
and an invalid batch name the tablet by its label and the drivers whose entries they
concern, and say in a sentence what happened and what to do."""

from __future__ import annotations

import html
import re

import pytest

from server.office.anomalies import open_anomaly
from tests.desk_support import sign_in
from tests.office_world import START, world  # noqa: F401
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import Tablet, add_driver, add_tenant, anomalies_of, enrol, send


@pytest.fixture
def tablet(engine):  # noqa: F811
    add_tenant(engine, crew=("d1", "d2"))
    t = Tablet("dev-1")
    enrol(engine, t, drivers=("d1", "d2"), label="Camion 3")
    return t


def test_a_fork_names_the_tablet_by_its_label_and_both_drivers(engine, tablet):  # noqa: F811
    tablet.write(3)  # by d1
    send(engine, tablet, tablet.wire())
    copy = Tablet("dev-1", key=tablet.key)
    copy.entries = tablet.entries[:1]
    copy.write(1, driver_id="d2", mission_id="M-9", amount="80.00")
    send(engine, tablet, copy.wire(1, 2))
    [alert] = anomalies_of(engine, "journal_fork")
    assert alert.detail["tablet"] == {"device_id": "dev-1", "label": "Camion 3", "revoked": False}
    assert alert.detail["drivers"] == [{"id": "d1", "name": "D1"}, {"id": "d2", "name": "D2"}]
    assert alert.detail["drivers_from"] == "entries"
    assert alert.detail["fr"].startswith(
        "Journal réécrit sur la tablette « Camion 3 » (dev-1) : elle a envoyé une autre"
        " entrée n° 2 que celle déjà reçue"
    )
    assert "Chauffeurs concernés : D1 (d1), D2 (d2)." in alert.detail["fr"]
    assert "revoke it" in alert.detail["en"]
    assert alert.driver_id == "d2"  # the column keeps the received entry's, as the push named it


def test_an_invalid_batch_names_the_tablet_its_finding_and_its_driver(engine, tablet):  # noqa: F811
    tablet.write(3)
    wire = tablet.wire()
    wire[-1]["sig"] = "ab" * 64
    send(engine, tablet, wire)
    [alert] = anomalies_of(engine, "journal_invalid")
    assert alert.detail["tablet"]["label"] == "Camion 3"
    # Nothing of the batch is stored and the tablet has no entry yet: nobody is named
    # by an entry, and the tablet's latest drivers are none.
    assert (alert.detail["drivers"], alert.detail["drivers_from"]) == ([], "tablet")
    assert "Journal invalide sur la tablette « Camion 3 » (dev-1) :" in alert.detail["fr"]
    assert "aucun chauffeur connu" in alert.detail["fr"]
    finding = alert.detail["findings"][0]["fr"]
    assert finding in alert.detail["fr"]


def test_an_entry_sent_again_altered_names_the_driver_who_wrote_it(engine, tablet):  # noqa: F811
    with engine.begin() as conn:
        add_driver(conn, "acme", "d3", name="Nina")
    tablet.write(2, driver_id="d3")
    send(engine, tablet, tablet.wire())
    wire = tablet.wire()
    wire[1]["payload"] = {**wire[1]["payload"], "amount": "999.00"}
    send(engine, tablet, wire)
    [alert] = anomalies_of(engine, "journal_invalid")
    assert alert.detail["drivers"] == [{"id": "d3", "name": "Nina"}]
    assert alert.driver_id == "d3"
    assert "Chauffeurs concernés : Nina (d3)." in alert.detail["fr"]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_desk_lists_the_alert_with_its_sentence_and_offers_to_revoke_the_tablet(
    world,  # noqa: F811
    tmp_path,
):
    """On the desk: the list shows the sentence; the alert's page offers to revoke the
    tablet to whoever may manage tablets, and names the right to whoever may not."""
    karim = world.tablet(tmp_path / "karim", "d1", "1111")
    world.sync(karim)
    with world.engine.begin() as conn:
        open_anomaly(
            conn,
            tenant_id="demo",
            kind="journal_fork",
            device_id=karim.device_id,
            detail={"seq": 1, "stored_hash": "a" * 64, "received_hash": "b" * 64},
            now=START,
        )
    manager = world.app.test_client()
    sign_in(manager, "admin")
    listed = html.unescape(manager.get("/desk/anomalies").get_data(as_text=True))
    assert "Journal réécrit sur la tablette « Tablette d1 »" in listed
    [link] = re.findall(r'data-kind="journal_fork">\s*<td><a href="([^"]+)"', listed)
    page = html.unescape(manager.get(link).get_data(as_text=True))
    assert f'action="/desk/devices/{karim.device_id}/revoke"' in page
    clerk = world.app.test_client()
    sign_in(clerk, "bureau")
    seen = html.unescape(clerk.get(link).get_data(as_text=True))
    assert "/revoke" not in seen
    assert "Droit requis : « gérer les tablettes »" in seen

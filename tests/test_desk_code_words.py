"""Words, not codes, on the desk's pages (issue 14), checked one by one: a valuation
mismatch's lines side by side (which service, the tablet's figures and the server's), no
digest or JSON; an anomaly's other evidence named in words; the users page's roles. On
SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.office.anomalies import open_anomaly
from server.platform.tables import anomalies
from tests.anomaly_refs import anomaly_ref
from tests.desk_support import sign_in
from tests.office_world import START, World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_desk_no_raw_codes import visible


def line(code: str, fr: str, en: str, quantity: str, amount: str, party: str, due: str) -> Any:
    return {
        "code": code,
        "label": {"fr": fr, "en": en},
        "quantity": quantity,
        "amount": amount,
        "shares": {"ordering_party": party, "beneficiary": due},
        "vat_rate": "20",
    }


MISMATCH = {
    "device_digest": "aaaa1111bbbb2222cccc",
    "server_digest": "dddd3333eeee4444ffff",
    "contract": {
        "device": {"id": "ASSIST-B", "version": 1, "digest": "d1"},
        "server": {"id": "ASSIST-B", "version": 2, "digest": "d2"},
    },
    "lines": [
        {
            "index": 1,
            "device": line("KM", "Kilomètres en sus", "Extra km", "30", "45.00", "45.00", "0.00"),
            "server": line("KM", "Kilomètres en sus", "Extra km", "30", "45.00", "0.00", "45.00"),
        },
        {
            "index": 2,
            "device": None,
            "server": line("WIN", "Treuillage", "Winching", "1", "60.00", "0.00", "60.00"),
        },
    ],
    "payers": {
        "device": {"ordering_party": {"incl_vat": "200.00"}, "beneficiary": {"incl_vat": "0.00"}},
        "server": {"ordering_party": {"incl_vat": "146.00"}, "beneficiary": {"incl_vat": "54.00"}},
    },
    "due": 5400,
    "fr": "La valorisation de la tablette diffère de celle du serveur.",
    "en": "The tablet's valuation differs from the server's.",
}


def raise_mismatch(w: World) -> int:
    with w.engine.begin() as conn:
        open_anomaly(
            conn,
            tenant_id="demo",
            kind="valuation_mismatch",
            detail=MISMATCH,
            now=START,
            mission_id="M-X",
            amount_cents=-5400,
        )
        return int(
            conn.execute(
                sa.select(sa.func.max(anomalies.c.id)).where(
                    anomalies.c.kind == "valuation_mismatch"
                )
            ).scalar_one()
        )


def test_a_valuation_mismatch_shows_the_differing_lines_side_by_side_in_words(
    world: World,  # noqa: F811
):
    ref = anomaly_ref(world.app, raise_mismatch(world))
    client = world.app.test_client()
    assert sign_in(client, "admin").status_code == 302
    french = visible(client.get(f"/desk/anomalies/{ref}?lang=fr").get_data(as_text=True)).text()
    english = visible(client.get(f"/desk/anomalies/{ref}?lang=en").get_data(as_text=True)).text()
    for shown in (french, english):
        assert "aaaa1111" not in shown and "dddd3333" not in shown  # no digest
        assert '"' not in shown and "{" not in shown  # no JSON
        assert "server_digest" not in shown and "ordering_party" not in shown
    # The line that differs: who pays the 45 € moved from the ordering party to the customer.
    assert (
        "Kilomètres en sus Tablette 30 45,00 € 45,00 € 0,00 € Serveur 30 45,00 € 0,00 € 45,00 €"
        in french
    )
    # A line only the server has.
    assert "Treuillage Tablette pas de cette ligne Serveur 1 60,00 € 0,00 € 60,00 €" in french
    assert "Winching Tablet no such line Server 1 €60.00 €0.00 €60.00" in english
    # The contracts and who pays what in all, tablet then server.
    assert "Convention Convention ASSIST-B version 1 Convention ASSIST-B version 2" in french
    assert "Bénéficiaire (TTC) 0,00 € 54,00 €" in french
    assert "Beneficiary (incl. VAT) €0.00 €54.00" in english
    # The rest of the evidence is named in words.
    assert "Dû 54,00 €" in french and "Due €54.00" in english


def test_the_users_page_names_the_roles_in_words(world: World):  # noqa: F811
    client = world.app.test_client()
    assert sign_in(client, "admin").status_code == 302
    french = visible(client.get("/desk/users?lang=fr").get_data(as_text=True)).text()
    english = visible(client.get("/desk/users?lang=en").get_data(as_text=True)).text()
    assert "Rôle de bureau administrateur chauffeur gérant bureau" in french
    assert "manager" not in french.split() and "driver" not in french.split()
    assert "administrator driver manager office" in english


def test_a_file_log_names_the_api_key_by_its_label(world: World):  # noqa: F811
    from tests.conftest import example

    made = world.office.post(
        "/api/v1/parties/ASSIST-B/api-keys",
        json={"label": "Plateforme"},
        headers=world.as_user("admin"),
    )
    assert made.status_code == 201, made.get_json()
    key = made.get_json()["key"]
    order = example("orders", "assist-b-order")
    sent = world.office.post(
        "/api/v1/party/orders", json=order, headers={"Authorization": f"Bearer {key}"}
    )
    assert sent.status_code == 201, sent.get_json()
    client = world.app.test_client()
    assert sign_in(client, "admin").status_code == 302
    path = f"/desk/files/ASSIST-B/{order['file_number']}"
    french = visible(client.get(f"{path}?lang=fr").get_data(as_text=True)).text()
    english = visible(client.get(f"{path}?lang=en").get_data(as_text=True)).text()
    key_id = key.split(".", 1)[0]
    assert key_id not in french and key_id not in english
    assert "Clé d'API « Plateforme » de ASSIST-B" in french
    assert "API key 'Plateforme' of ASSIST-B" in english

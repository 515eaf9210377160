"""The driver's screen and "bill later" for a customer who owes (issue 14): the sentence
above the form, the button off under "block", a refused post recording nothing; the
tenant's newer choice wins over the one the mission came with (fieldclient.debtors)."""

from __future__ import annotations

from pathlib import Path

from fieldclient import debtors, store
from fieldclient.home import Home
from tests.field_support import Clock, offline_tablet
from tests.test_field_screen import OWED, Screen, on_site, post, signed_in, text


def _told(screen: Screen, change: dict) -> None:
    """What a pull would keep (fieldclient.syncing.apply_change)."""
    db = store.connect(Home(screen.home).database)
    try:
        with store.write(db):
            keep = debtors.keep if change["kind"] == debtors.KIND else debtors.keep_setting
            assert keep(db, change)
    finally:
        db.close()


OWES = {
    "seq": 7,
    "kind": "debtor",
    "id": OWED,
    "data": {
        "mission_id": OWED,
        "customer": "GH-482-KL",
        "owed": "180.00",
        "invoices": 2,
        "deferral": "block",
    },
}


def test_the_screen_refuses_bill_later_for_a_debtor_then_warns_when_the_office_allows(
    tmp_path: Path,
):
    clock = Clock()
    offline_tablet(tmp_path / "tablet", clock, signed_in=None).close()
    screen = Screen(tmp_path / "tablet", clock)
    client = signed_in(screen)
    on_site(client)
    _told(screen, OWES)
    page = client.get(f"/missions/{OWED}").get_data(as_text=True)
    assert 'value="deferral" class="outline" disabled' in page
    said = text(client.get(f"/missions/{OWED}"))
    assert "Le client GH-482-KL doit déjà 180,00 € sur 2 factures impayées" in said
    before = screen.journal()
    refused = post(
        client,
        f"/missions/{OWED}/approval",
        {"kind": "deferral", "amount": "96,00", "code": "AAAAA-BBBBB"},
    )
    assert refused.status_code in (400, 409, 422)
    assert "refuse de facturer plus tard un client débiteur" in text(refused)
    assert screen.journal() == before  # no entry, no code attempt spent

    # The office switches to "warn" (a newer change than the mission's own): a warning.
    _told(screen, {"seq": 9, "kind": "debtor_deferral", "id": "demo",
                   "data": {"debtor_deferral": "warn", "version": 2}})  # fmt: skip
    page = client.get(f"/missions/{OWED}").get_data(as_text=True)
    assert 'value="deferral" class="outline">' in page
    assert "Attention : Le client GH-482-KL doit déjà 180,00 €" in text(
        client.get(f"/missions/{OWED}")
    )


def test_an_unreadable_debtor_change_is_skipped_and_an_older_choice_does_not_win(
    tmp_path: Path,
):
    clock = Clock()
    offline_tablet(tmp_path / "tablet", clock, signed_in=None).close()
    screen = Screen(tmp_path / "tablet", clock)
    db = store.connect(Home(screen.home).database)
    try:
        with store.write(db):
            assert not debtors.keep(db, {**OWES, "data": {**OWES["data"], "owed": -3}})
            assert not debtors.keep(db, {**OWES, "data": {**OWES["data"], "deferral": "x"}})
            assert debtors.known(db, OWED) == (None, "warn")
            assert debtors.keep(db, OWES)
            old = {"seq": 3, "kind": "debtor_deferral", "id": "demo",
                   "data": {"debtor_deferral": "warn", "version": 1}}  # fmt: skip
            assert debtors.keep_setting(db, old)
            flag, choice = debtors.known(db, OWED)
    finally:
        db.close()
    assert choice == "block"  # the mission's change (seq 7) is newer than seq 3
    assert flag is not None and str(flag.owed) == "180.00"

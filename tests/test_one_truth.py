"""One truth across tablets (issue 13): a driver who changes tablets, or two tablets on one
mission, see the same money. The server announces each mission's money when a push
stores it (pull feed kind `mission_money`); a tablet folds what the others recorded, so
it never offers to collect again what another one collected once that one has synced.
With both offline, each collects in good faith and the office sees the over-collection.
On SQLite and PostgreSQL (the `engine` fixture through tests.office_world)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldclient import elsewhere, store
from server.platform.tables import anomalies
from shared.errors import Refused
from tests.field_support import feed, offline_tablet
from tests.mission_money_support import another_tablet
from tests.office_world import world  # noqa: F401
from tests.storage import engine  # noqa: F401

D = Decimal
MISSION = "M-A-0004"  # d1's winching without accident: the beneficiary owes 96,00 €


def on_site_with_register(tablet) -> None:  # type: ignore[no-untyped-def]
    tablet.register_open(D("50.00"))
    for step in ("en_route", "on_site"):
        tablet.step(MISSION, step)


def test_the_second_tablet_never_offers_to_collect_what_the_first_collected_and_synced(
    world,  # noqa: F811
    tmp_path,
):
    first = world.tablet(tmp_path / "camion", "d1", "1111")
    second = another_tablet(world, tmp_path / "secours", "d1", "1111", "Tablette de secours")
    world.sync(first)
    world.sync(second)
    assert second.view(MISSION).money.remaining == D("96.00")

    # Both offline (neither syncs). The first collects everything; the second knows nothing.
    on_site_with_register(first)
    first.collect(MISSION, "card", "96.00", {"terminal_ref": "AUT-1"})
    assert second.view(MISSION).money.remaining == D("96.00")

    # The first comes back online and syncs; then the second does.
    world.sync(first)
    world.sync(second)
    view = second.view(MISSION)
    assert (view.money.net_collected, view.money.remaining) == (D("96.00"), D("0.00"))
    row = next(r for r in second.mission_rows() if r["id"] == MISSION)
    assert (row["due"], row["remaining"]) == ("96.00", "0.00")
    second.register_open(D("20.00"))
    with pytest.raises(Refused) as refused:
        second.collect(MISSION, "cash", "10.00", {"tendered": "10.00"})
    assert "tout ce qui était dû est réglé" in refused.value.message("fr")
    for step in ("en_route", "on_site", "departed"):  # the gate is open on the second too
        second.step(MISSION, step)
    note = elsewhere.note(second.db, MISSION, second.device_id, "en")
    assert note == "Of which €96.00 settled on another tablet (per the office)."
    # The first's own money is its journal's, never counted twice.
    assert first.view(MISSION).money.net_collected == D("96.00")
    assert second.register("d1").net_by_method == {}  # the other tablet's card is not here


def test_a_driver_on_a_new_tablet_sees_what_the_old_one_collected(world, tmp_path):  # noqa: F811
    old = world.tablet(tmp_path / "ancienne", "d1", "1111")
    world.sync(old)
    on_site_with_register(old)
    old.collect(MISSION, "cash", "40.00", {"tendered": "50.00"})
    world.sync(old)

    new = another_tablet(world, tmp_path / "nouvelle", "d1", "1111", "Tablette neuve")
    world.sync(new)
    assert new.view(MISSION).money.remaining == D("56.00")
    with pytest.raises(Refused) as refused:
        new.register_open(D("0.00"))
        new.collect(MISSION, "card", "96.00", {"terminal_ref": "AUT-9"})
    assert "reste à encaisser (56,00\u00a0€)" in refused.value.message("fr")
    # The old tablet's void reaches the new one as soon as the old one applied it.
    voided = world.office.post(
        f"/api/v1/collections/{old.device_id}/"
        f"{next(r.seq for r in old.ledger().rows() if r.type == 'collection')}/void",
        json={"reason": "Billet faux"},
        headers=world.as_user("bureau"),
    )
    assert voided.status_code in (200, 201), voided.get_json()
    world.sync(old)  # records the reversal and pushes it
    world.sync(new)
    assert new.view(MISSION).money.remaining == D("96.00")


def test_both_offline_both_collect_and_the_office_sees_the_over_collection(
    world,  # noqa: F811
    tmp_path,
):
    first = world.tablet(tmp_path / "camion", "d1", "1111")
    second = another_tablet(world, tmp_path / "secours", "d1", "1111", "Tablette de secours")
    world.sync(first)
    world.sync(second)
    for tablet, ref in ((first, "AUT-1"), (second, "AUT-2")):
        on_site_with_register(tablet)
        tablet.collect(MISSION, "card", "96.00", {"terminal_ref": ref})
    world.sync(first)
    world.sync(second)
    with world.engine.connect() as conn:
        found = conn.execute(
            sa.select(anomalies.c.kind, anomalies.c.amount_cents, anomalies.c.status).where(
                anomalies.c.mission_id == MISSION, anomalies.c.kind == "over_collection"
            )
        ).all()
    assert [tuple(r) for r in found] == [("over_collection", 9600, "open")]
    world.sync(first)  # the first learns what the second collected
    for tablet in (first, second):
        money = tablet.view(MISSION).money
        assert (money.net_collected, money.overpaid) == (D("192.00"), D("96.00"))


# --- the tablet's side of the announcement, without a server --------------------------------


def announcement(seq: int, entries: list[dict[str, object]]) -> dict[str, object]:
    return {
        "kind": "mission_money",
        "id": MISSION,
        "seq": seq,
        "data": {"mission_id": MISSION, "entries": entries},
    }


def collection(device: str, ref: str, amount: str) -> dict[str, object]:
    return {
        "device_id": device,
        "seq": 1,
        "hash": ref,
        "type": "collection",
        "method": "cash",
        "amount": amount,
    }


def test_an_older_announcement_never_replaces_a_newer_one(tmp_path):
    tablet = offline_tablet(tmp_path / "t")
    feed(tablet, [announcement(9, [collection("dev_other", "h1", "30.00")])])
    feed(tablet, [announcement(4, [])])  # a page replayed late
    assert tablet.view(MISSION).money.remaining == D("66.00")
    feed(
        tablet,
        [
            announcement(
                12,
                [
                    collection("dev_other", "h1", "30.00"),
                    {
                        "device_id": "dev_other",
                        "seq": 2,
                        "hash": "h2",
                        "type": "reversal",
                        "reverses": "h1",
                    },
                ],
            )
        ],
    )
    assert tablet.view(MISSION).money.remaining == D("96.00")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["dev_other", "dev_test_tablet"]), st.integers(1, 4000)),
        max_size=6,
    )
)
def test_only_the_other_tablets_count_and_each_once(tmp_path_factory, amounts):  # type: ignore[no-untyped-def]
    """Whatever the announcement says about this tablet's own entries, the fold counts
    the other tablets' only: the tablet's own money is its journal's."""
    tablet = offline_tablet(tmp_path_factory.mktemp("t"))
    entries = [
        collection(device, f"h{i}", f"{cents // 100}.{cents % 100:02d}")
        for i, (device, cents) in enumerate(amounts)
    ]
    feed(tablet, [announcement(1, entries)])
    others = sum((D(c) / 100 for d, c in amounts if d == "dev_other"), D(0))
    money = tablet.view(MISSION).money
    assert money.net_collected == others
    assert elsewhere.settled_elsewhere(tablet.db, MISSION, tablet.device_id) == others
    with store.write(tablet.db):
        held = tablet.db.execute(
            "SELECT settled_cents FROM money_elsewhere WHERE mission_id = ?", [MISSION]
        ).fetchone()
    assert held[0] == int(others * 100)
    tablet.close()

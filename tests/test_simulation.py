"""The demo's simulated day (`towline-simulate`, run by `make run`), against a real HTTP
server: the anomalies its summary promises are really open on the server, every tablet's
journal verifies and reached the server whole, running it again changes nothing, and
what the desk resolves reaches the tablets (`--sync`)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from fieldclient.home import Home
from fieldclient.tablet import Tablet
from server.platform.tables import anomalies, devices, journal_entries
from simulation import day as simulated
from simulation.cli import main
from tests.browser import LiveServer
from tests.office_world import World, assert_in_agreement, world  # noqa: F401
from tests.storage import engine  # noqa: F401

# What day 1 leaves for the desk, by kind: the missions (or driver) concerned.
PROMISED = {
    "card_unmatched": {"M-A-0003"},
    "discount_without_approval": {"J1-SANS-ACCORD"},
    "dispute_raised": {"J1-LITIGE"},
    "fictitious_collection": {"M-A-0001"},
    "file_cap_exceeded": {"J1-PLAFOND-4"},
    "over_collection": {"J1-TROP-PERCU"},
    "register_variance": {"d1"},
    # Marc's tablet valued the file's last two missions without knowing Julie's.
    "valuation_mismatch": {"J1-PLAFOND-3", "J1-PLAFOND-4"},
}

RESOLVE = {  # docs/demo-day.md: how the desk resolves each kind
    "fictitious_collection": ("void", {}),
    "over_collection": ("void", {}),
    "register_variance": ("acknowledge", {}),
    "discount_without_approval": ("approve", {}),
    "card_unmatched": ("void", {}),
    "under_collection": ("approve", {"as_kind": "deferral"}),
    "dispute_raised": ("refuse", {}),
    "file_cap_exceeded": ("invoice_overrun", {}),
    "valuation_mismatch": ("acknowledge", {}),
}


def open_on_server(w: World) -> dict[str, set[str]]:
    with w.engine.connect() as conn:
        rows = conn.execute(sa.select(anomalies).where(anomalies.c.status == "open")).all()
    found: dict[str, set[str]] = {}
    for r in rows:
        found.setdefault(r.kind, set()).add(r.mission_id or r.driver_id)
    return found


def counts(w: World) -> tuple[int, ...]:
    with w.engine.connect() as conn:
        return tuple(
            int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
            for t in (anomalies, devices, journal_entries)
        )


def run(url: str, folder: Path, *options: str) -> Any:
    return CliRunner().invoke(main, ["--url", url, "--dir", str(folder), *options])


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_day_leaves_what_it_promises_runs_once_and_takes_the_desks_decisions(
    world,  # noqa: F811
    tmp_path: Path,
):
    folder = tmp_path / "simulation"
    live = LiveServer(world.app)
    try:
        first = run(live.url, folder, "--json")
        assert first.exit_code == 0, first.output
        body = json.loads(first.stdout)
        assert open_on_server(world) == PROMISED
        # The summary's figures are the server's, read back over the API.
        assert body["open_anomalies"] == {k: len(v) for k, v in PROMISED.items()}
        assert body["already_done"] is False and body["day"] == 1
        assert body["desk"] == live.url + "/desk/"
        with world.engine.connect() as conn:
            variance = conn.execute(
                sa.select(anomalies.c.amount_cents).where(anomalies.c.kind == "register_variance")
            ).scalar_one()
        assert variance == -2000  # Karim's count is 20.00 short

        # Every tablet's journal verifies, nothing waits, and the server holds it whole
        # (Marc's sync dropped once: no entry lost, none twice).
        assert [(t["name"], t["verified"], t["pending"]) for t in body["tablets"]] == [
            ("Karim", True, 0),
            ("Julie", True, 0),
            ("Marc", True, 0),
        ]
        for state in body["tablets"]:
            assert Path(state["home"]) == folder / state["slug"]
            tablet = Tablet(Home(Path(state["home"])))
            try:
                held = assert_in_agreement(world, tablet)
                assert len(held) == state["entries"] > 20
            finally:
                tablet.close()
        assert "cut off mid-push" in " ".join(t[1] for t in body["story"]["marc"])

        # Again, without --again: the summary, and nothing changes anywhere.
        before = counts(world)
        marker = (folder / "day.json").read_bytes()
        again = run(live.url, folder, "--lang", "en")
        assert again.exit_code == 0, again.output
        assert "already done" in again.stdout
        assert "Open anomalies at the desk: 9" in again.stdout
        assert f"{live.url}/desk/" in again.stdout and "demo-towline" in again.stdout
        assert counts(world) == before
        assert (folder / "day.json").read_bytes() == marker
        assert open_on_server(world) == PROMISED

        # The desk resolves each in one action (docs/demo-day.md); voiding the unsettled
        # card payment leaves it owed, billed later in a second round.
        closed: set[int] = set()  # resolved with their cause (docs/anomalies.md)
        for _ in range(2):
            for row in world.office.get(
                "/api/v1/anomalies?status=open", headers=world.as_user("admin")
            ).get_json():
                if row["id"] in closed:
                    continue
                action, extra = RESOLVE[row["kind"]]
                done = world.office.post(
                    f"/api/v1/anomalies/{row['id']}/resolve",
                    json={"action": action, "reason": "Vu au bureau", **extra},
                    headers=world.as_user("admin"),
                )
                assert done.status_code == 200, done.get_json()
                closed.update(done.get_json().get("linked", []))
        synced = run(live.url, folder, "--sync", "--json")
        assert synced.exit_code == 0, synced.output
        body = json.loads(synced.stdout)
        assert body["open_anomalies"] == {}
        # Karim: two voids. Marc: the card void, then the bill-later of what it left owed,
        # and the bill-later of the file's overrun. Julie's discount was approved as it
        # stands: nothing for her tablet to record.
        assert body["decisions_applied"] == {"Karim": 2, "Julie": 0, "Marc": 3}
        for state in body["tablets"]:
            tablet = Tablet(Home(Path(state["home"])))
            try:
                assert_in_agreement(world, tablet)
            finally:
                tablet.close()
    finally:
        live.close()


def test_an_unreachable_server_is_a_clear_refusal(tmp_path: Path):
    answer = run("http://127.0.0.1:9", tmp_path, "--lang", "en")
    assert answer.exit_code == 3
    assert "Server unreachable (http://127.0.0.1:9)" in answer.output
    assert not (tmp_path / "day.json").exists()


def test_a_later_day_works_copies_on_new_tablets(tmp_path: Path):
    planned = next(p for p in simulated.PLAN if p.key == "M-B-0001")
    assert simulated.mission_id(planned, 1) == "M-B-0001"
    copy = simulated.mission_document(planned, 2)
    # Its own id and its own file: yesterday's file cap is not consumed again.
    assert (copy["id"], copy["file_number"]) == ("J2-M-B-0001", "ASSIST-B-2026-0001-J2-M-B-0001")
    shared = [
        simulated.mission_document(p, 3)["file_number"] for p in simulated.PLAN if p.shared_file
    ]
    assert shared == ["ASSIST-B-J3-PLAFOND"] * 4
    (tmp_path / "karim").mkdir()
    (tmp_path / "karim" / "towline-field.db").write_bytes(b"")
    assert simulated.free_home(tmp_path, "karim", 1) == tmp_path / "karim-2"
    assert simulated.free_home(tmp_path, "karim", 2) == tmp_path / "karim-j2"


def test_the_simulation_talks_to_the_server_only_over_http():
    """It plays a tablet and a clerk: it must not reach into the server's code."""
    package = Path(simulated.__file__).parent
    imported = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert "server" not in imported
    assert {"fieldclient", "sync", "shared", "requests"} <= imported

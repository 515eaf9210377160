"""One cause, one anomaly (docs/anomalies.md "Linked anomalies"): a file's cap consumed
twice by two tablets valuing offline makes one 76 € problem, the overrun; the valuation
mismatch it causes on the same mission is shown with it and closed by its resolution. On
SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from server.platform.tables import anomalies, audit_log
from tests.anomaly_refs import anomaly_ref
from tests.desk_support import sign_in
from tests.office_world import World, world  # noqa: F401
from tests.storage import engine  # noqa: F401
from tests.test_office_day import create_missions, mission_doc, value_first

D = Decimal


def cap_day(w: World, tmp_path: Path) -> None:
    """Julie values the file's first two missions, Marc (offline, the cap untouched for
    him) the last two: the server finds the cap consumed twice on the fourth."""
    create_missions(
        w,
        "d2",
        [mission_doc("b-tuesday-80km", f"CAP-{n}", file_number="F-CAP") for n in (1, 2)],
    )
    create_missions(
        w,
        "d3",
        [mission_doc("b-tuesday-80km", f"CAP-{n}", file_number="F-CAP") for n in (3, 4)],
    )
    julie = w.tablet(tmp_path / "julie", "d2", "2222")
    marc = w.tablet(tmp_path / "marc", "d3", "3333")
    for t in (julie, marc):
        w.sync(t)
        t.register_open(D("50.00"))
    for t, missions in ((julie, ("CAP-1", "CAP-2")), (marc, ("CAP-3", "CAP-4"))):
        for mission in missions:
            due = value_first(t, mission)
            t.collect(mission, "card", str(due), {"terminal_ref": f"AUT-{mission}"})
            for step in ("on_site", "departed", "delivered", "closed"):
                t.step(mission, step)
    w.sync(julie)
    w.sync(marc)


def rows(w: World) -> list[Any]:
    with w.engine.connect() as conn:
        return conn.execute(sa.select(anomalies).order_by(anomalies.c.id)).all()


def resolve(w: World, anomaly_id: int, action: str) -> Any:
    return w.office.post(
        f"/api/v1/anomalies/{anomaly_ref(w.office.application, anomaly_id)}/resolve",
        json={"action": action, "reason": "Plafond consommé deux fois"},
        headers=w.as_user("admin"),
    )


def test_one_76_euro_problem_is_one_row_and_one_resolution_closes_both(world, tmp_path: Path):  # noqa: F811
    w = world
    cap_day(w, tmp_path)
    open_now = {(r.kind, r.mission_id): r for r in rows(w) if r.status == "open"}
    overrun = open_now[("file_cap_exceeded", "CAP-4")]
    mismatch = open_now[("valuation_mismatch", "CAP-4")]
    # One problem: the tablet asked 76 € less than the server, the cap's overrun.
    assert (overrun.amount_cents, mismatch.amount_cents) == (7600, -7600)
    app = w.office.application
    ref = {r.id: anomaly_ref(app, r.id) for r in (overrun, mismatch)}

    # The API shows the link both ways, as refs.
    listed = {
        a["id"]: a
        for a in w.office.get(
            "/api/v1/anomalies?status=open", headers=w.as_user("admin")
        ).get_json()
    }
    assert listed[ref[mismatch.id]]["caused_by"] == ref[overrun.id]
    assert listed[ref[overrun.id]]["linked"] == [ref[mismatch.id]]
    assert listed[ref[overrun.id]]["caused_by"] is None
    one = w.office.get(f"/api/v1/anomalies/{ref[mismatch.id]}", headers=w.as_user("admin"))
    assert one.get_json()["caused_by"] == ref[overrun.id]
    # CAP-3's mismatch (same due, other lines) has no cause: it stays its own.
    cap3 = open_now[("valuation_mismatch", "CAP-3")]
    assert listed[anomaly_ref(app, cap3.id)]["caused_by"] is None

    # The desk: one row for the cause, the mismatch under it ("also").
    sign_in(w.office, "bureau")
    page = w.office.get("/desk/anomalies?lang=en").get_data(as_text=True)
    assert f'data-anomaly="{ref[overrun.id]}"' in page
    assert f'data-anomaly="{ref[mismatch.id]}"' not in page
    assert f'data-also="{ref[mismatch.id]} "' in page
    assert "Also, from the same cause:" in page
    # Filtered to mismatches only, it keeps its row and names its cause.
    page = w.office.get("/desk/anomalies?kind=valuation_mismatch&lang=en").get_data(as_text=True)
    assert f'data-anomaly="{ref[mismatch.id]}"' in page
    assert f'data-follows="{ref[overrun.id]}"' in page
    # Each anomaly's page shows the other.
    page = w.office.get(f"/desk/anomalies/{ref[mismatch.id]}?lang=en").get_data(as_text=True)
    assert f'data-caused-by="{ref[overrun.id]}"' in page
    page = w.office.get(f"/desk/anomalies/{ref[overrun.id]}?lang=en").get_data(as_text=True)
    assert f'data-linked="{ref[mismatch.id]} "' in page

    # One resolution closes both, each with its own record naming the cause.
    done = resolve(w, overrun.id, "invoice_overrun")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["linked"] == [ref[mismatch.id]]
    status = {r.id: r.status for r in rows(w)}
    assert (status[overrun.id], status[mismatch.id], status[cap3.id]) == (
        "resolved",
        "resolved",
        "open",
    )
    with w.engine.connect() as conn:
        records = conn.execute(
            sa.select(audit_log.c.target, audit_log.c.action, audit_log.c.detail).where(
                audit_log.c.action.startswith("anomaly.")
            )
        ).all()
    by_target = {r.target: r for r in records}
    assert by_target[str(mismatch.id)].action == "anomaly.invoice_overrun"
    assert by_target[str(mismatch.id)].detail["caused_by"] == overrun.id
    assert (
        by_target[str(mismatch.id)].detail["journal_seq"]
        == by_target[str(overrun.id)].detail["journal_seq"]
    )
    page = w.office.get(f"/desk/anomalies/{ref[mismatch.id]}?lang=en").get_data(as_text=True)
    assert "with anomaly" in page and "Resolved by" in page
    again = resolve(w, mismatch.id, "acknowledge")
    assert again.status_code == 409 and again.get_json()["code"] == "anomaly_not_open"


def test_a_mismatch_resolved_alone_first_is_not_resolved_again(world, tmp_path: Path):  # noqa: F811
    w = world
    cap_day(w, tmp_path)
    open_now = {(r.kind, r.mission_id): r for r in rows(w) if r.status == "open"}
    overrun = open_now[("file_cap_exceeded", "CAP-4")]
    mismatch = open_now[("valuation_mismatch", "CAP-4")]
    assert resolve(w, mismatch.id, "acknowledge").status_code == 200
    done = resolve(w, overrun.id, "invoice_overrun")
    assert done.status_code == 200 and done.get_json().get("linked", []) == []
    with w.engine.connect() as conn:
        records = (
            conn.execute(
                sa.select(audit_log.c.action).where(audit_log.c.target == str(mismatch.id))
            )
            .scalars()
            .all()
        )
    assert records == ["anomaly.acknowledge"]

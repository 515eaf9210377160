"""The reconciliation rules on plain values: each anomaly kind found when it should be,
and none on a clean mission (property-tested: any clean mission is clean)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.office.reconcile_rules import (
    Item,
    MissionFacts,
    card_findings,
    mission_findings,
    register_findings,
    reused_approvals,
)
from shared.payment_terms import PayWhen

M = "M-1"
_seq = iter(range(1, 10_000_000))


def item(type_: str, **payload: object) -> Item:
    n = next(_seq)
    return Item(
        "dev_a",
        n,
        type_,
        "2026-03-10T10:00:00.000Z",
        "d1",
        {"mission_id": M, **payload},
        f"h{n:063d}",
    )


def euros(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def facts(
    due: int | None, *items: Item, device_due: int | None = None, **kw: object
) -> MissionFacts:
    return MissionFacts(
        mission_id=M,
        office_status="assigned",
        due_cents=due,
        device_due_cents=due if device_due is None else device_due,
        pays=PayWhen.BEFORE_DEPARTURE,
        items=items,
        **kw,  # type: ignore[arg-type]
    )


def kinds(f: MissionFacts) -> list[str]:
    return sorted(x.kind for x in mission_findings(f))


def step(frm: str, to: str, remaining: str = "0.00") -> Item:
    return item("mission_step", **{"from": frm, "to": to, "remaining": remaining})


def test_a_collection_where_nothing_was_due_is_fictitious():
    found = mission_findings(facts(0, item("collection", method="card", amount="50.00")))
    assert [(f.kind, f.amount_cents) for f in found] == [("fictitious_collection", 5000)]
    assert "rien" in found[0].text.fr and "owed nothing" in found[0].text.en


def test_a_voided_collection_is_not_counted():
    paid = item("collection", method="card", amount="50.00")
    assert kinds(facts(0, paid, voided=frozenset({paid.hash}))) == []
    reversal = item("reversal", reverses={"hash": paid.hash}, method="card", amount="50.00")
    assert kinds(facts(0, paid, reversal)) == []


def test_over_and_under_collection():
    over = mission_findings(facts(9600, item("collection", method="cash", amount="100.00")))
    assert [(f.kind, f.amount_cents) for f in over] == [("over_collection", 400)]
    short = facts(
        9600,
        item("collection", method="cash", amount="90.00"),
        step("on_site", "departed"),
        step("departed", "delivered"),
        device_due=9000,  # the tablet valued lower: it honoured its own gate
    )
    assert [(f.kind, f.amount_cents) for f in mission_findings(short)] == [
        ("under_collection", 600)
    ]


def test_moving_past_the_gate_while_owed_is_caught():
    found = mission_findings(facts(9600, step("on_site", "departed", remaining="96.00")))
    assert [(f.kind, f.amount_cents) for f in found] == [("gate_bypassed", 9600)]
    # A tablet that says 0 remained although its own valuation said otherwise: caught too.
    found = mission_findings(facts(9600, step("on_site", "departed")))
    assert [f.kind for f in found] == ["gate_bypassed"]


def test_a_discount_needs_an_approval_the_office_gave():
    discount = item("discount", amount="20.00", approval_ref="1:ABCDEFGHJK")
    paid = item("collection", method="card", amount="76.00")
    assert kinds(facts(9600, paid, discount)) == ["discount_without_approval"]
    given_ = frozenset({("dev_a", "1:ABCDEFGHJK", "discount", 2000)})
    assert kinds(facts(9600, paid, discount, approvals=given_)) == []
    other_amount = frozenset({("dev_a", "1:ABCDEFGHJK", "discount", 1000)})
    assert kinds(facts(9600, paid, discount, approvals=other_amount)) == [
        "discount_without_approval"
    ]


def test_a_code_used_twice_is_reused():
    a = item("discount", amount="20.00", approval_ref="1:ABCDEFGHJK")
    b = item("discount", amount="20.00", approval_ref="1:ABCDEFGHJK")
    c = item("deferral", amount="5.00", approval_ref="office:dec_1")
    found = reused_approvals([a, b, c, c])
    assert [(f.kind, f.subject, f.amount_cents) for f in found] == [
        ("approval_reused", "1:ABCDEFGHJK", 2000)
    ]


def test_a_file_cap_consumed_twice_offline_is_named_as_such():
    f = facts(
        5000,
        item("collection", method="card", amount="20.00"),
        step("on_site", "departed"),
        step("departed", "delivered"),
        device_due=2000,
        file_cap_gap_cents=3000,
    )
    assert [(x.kind, x.amount_cents) for x in mission_findings(f)] == [("file_cap_exceeded", 3000)]


def test_register_variance_and_card_matching():
    closed = Item(
        "dev_a",
        9,
        "register_closed",
        "2026-03-10T19:00:00.000Z",
        "d1",
        {"counted": "149.00", "expected": "150.00", "variance": "-1.00"},
        "h" * 64,
    )
    even = Item(
        "dev_a",
        10,
        "register_closed",
        "2026-03-11T19:00:00.000Z",
        "d1",
        {"counted": "10.00", "expected": "10.00", "variance": "0.00"},
        "g" * 64,
    )
    assert [(f.kind, f.amount_cents) for f in register_findings([closed, even])] == [
        ("register_variance", -100)
    ]
    one = item("collection", method="card", amount="50.00", terminal_ref="aut-1")
    two = item("collection", method="card", amount="50.00", terminal_ref="AUT 1")
    found = card_findings([one, two], {("AUT1", 5000): 1})  # one line: matches once
    assert [f.subject for f in found] == [f"dev_a:{two.seq}"]


def test_a_dispute_is_put_in_front_of_the_office():
    found = mission_findings(facts(0, item("dispute", reason="péage inclus", due="0.00")))
    assert [f.kind for f in found] == ["dispute_raised"] and "péage" in found[0].text.fr


@given(
    due=st.integers(min_value=0, max_value=500_000),
    parts=st.lists(st.integers(min_value=1, max_value=100_000), max_size=4),
    discount=st.integers(min_value=0, max_value=50_000),
)
def test_a_clean_mission_raises_nothing(due, parts, discount):
    """Settled exactly (collections + an approved discount), then completed: clean."""
    discount = min(discount, due)
    rest = due - discount
    amounts, left = [], rest
    for p in parts:
        if left <= 0:
            break
        amounts.append(min(p, left))
        left -= amounts[-1]
    if left > 0:
        amounts.append(left)
    items = [item("collection", method="card", amount=euros(a)) for a in amounts]
    approvals = frozenset()
    if discount:
        items.append(item("discount", amount=euros(discount), approval_ref="1:CODE"))
        approvals = frozenset({("dev_a", "1:CODE", "discount", discount)})
    items += [step("on_site", "departed"), step("departed", "delivered")]
    assert mission_findings(facts(due, *items, approvals=approvals)) == []

"""A driver's day through the whole pure core, as the tablet will run it: value, hit the
gate, collect with evidence, get a discount by phone code, dispute, close the register
and the day, and verify the signed chain. Every piece of issue 3 working together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared import journal, signing
from shared.approvals import (
    Attempts,
    DeviceKey,
    Keyring,
    Kind,
    Request,
    check_code,
    issue_code,
)
from shared.balance import fold
from shared.chain_verifier import verify_chain
from shared.closings import Period, close, record_of
from shared.errors import Refused
from shared.gate import step_payload
from shared.payment_terms import Method
from shared.payments import (
    collection_payload,
    discount_payload,
    dispute_payload,
    event_from_entry,
)
from shared.register import closed_payload, opened_payload, replay
from shared.register import event_from_entry as register_event
from shared.steps import Step
from shared.valuation import value

D = Decimal
DEVICE = "TAB-01"
KEY = signing.private_key_from_bytes(bytes(range(32)))
APPROVAL_KEY = DeviceKey(1, b"s" * 32)
START = datetime(2026, 3, 14, 8, 0, tzinfo=UTC)


class Tablet:
    """Just enough of a tablet: a chain of signed entries and a clock."""

    def __init__(self) -> None:
        self.entries: list[journal.SignedEntry] = []
        self.head = journal.genesis(DEVICE)
        self.now = START

    def record(self, type_: str, payload: dict, minutes: int = 5) -> journal.SignedEntry:
        self.now += timedelta(minutes=minutes)
        signed = journal.append(
            self.head,
            type=type_,
            at=journal.utc_timestamp(self.now),
            driver_id="d1",
            payload=payload,
            private_key=KEY,
        )
        self.entries.append(signed)
        self.head = signed.head
        return signed

    def money(self, mission_id: str, due: Decimal):
        events = [
            event_from_entry(e.entry.type, e.hash, e.entry.payload)
            for e in self.entries
            if e.entry.payload.get("mission_id") == mission_id
        ]
        return fold(mission_id, due, [e for e in events if e is not None])


def test_a_day_on_the_tablet(contracts, mission):
    tablet = Tablet()
    terms = contracts("assist-a")
    tablet.record("register_opened", opened_payload(D("50.00")))

    v = value(mission("a-saturday-accident-winching"), terms)
    tablet.record(
        "valuation_recorded",
        {"mission_id": "M-A-0003", "digest": v.digest, "beneficiary_due": str(v.beneficiary_due)},
    )
    pays = terms.payment.beneficiary_pays

    # The gate: leaving the scene is refused while 164.00 is owed, and says so in words.
    money = tablet.money("M-A-0003", v.beneficiary_due)
    with pytest.raises(Refused) as stopped:
        step_payload(money, pays, Step.ON_SITE, Step.DEPARTED)
    assert "164,00" in str(stopped.value)
    assert "Remaining to collect: €164.00" in stopped.value.message("en")

    # Part cash, part card with its terminal reference.
    methods = dict(company_methods=list(Method), contract_methods=terms.payment.methods)
    cash = collection_payload(
        money, Method.CASH, "100.00", {"tendered": "100.00"}, vat_basis=v.beneficiary, **methods
    )
    tablet.record("collection", cash)
    money = tablet.money("M-A-0003", v.beneficiary_due)
    card = collection_payload(
        money,
        Method.CARD,
        "44.00",
        {"terminal_ref": "AUT-7731"},
        vat_basis=v.beneficiary,
        **methods,
    )
    tablet.record("collection", card)
    money = tablet.money("M-A-0003", v.beneficiary_due)
    assert money.remaining == D("20.00")

    # The manager approves a 20.00 discount by phone; the tablet checks the code offline.
    request = Request("acme", DEVICE, "M-A-0003", Kind.DISCOUNT, D("20.00"))
    spoken = issue_code(APPROVAL_KEY, request, tablet.now).code
    keys = Keyring((APPROVAL_KEY,))
    wrong_amount = Request("acme", DEVICE, "M-A-0003", Kind.DISCOUNT, D("25.00"))
    with pytest.raises(Refused):
        check_code(keys, spoken, wrong_amount, tablet.now, set(), Attempts())
    approval = check_code(keys, spoken, request, tablet.now, set(), Attempts())
    with pytest.raises(Refused):  # single use
        check_code(keys, spoken, request, tablet.now, {approval.ref}, Attempts())
    tablet.record("discount", discount_payload(money, "20.00", approval.ref))

    money = tablet.money("M-A-0003", v.beneficiary_due)
    assert money.remaining == D("0.00")
    tablet.record("mission_step", step_payload(money, pays, Step.ON_SITE, Step.DEPARTED))

    # Another mission: nothing due, so no collection — a dispute instead.
    free = value(mission("a-tuesday-30km"), terms)
    nothing = tablet.money("M-A-0001", free.beneficiary_due)
    with pytest.raises(Refused, match=r"litige|dispute"):
        collection_payload(nothing, Method.CASH, "10.00", {"tendered": "10.00"}, **methods)
    tablet.record("dispute", dispute_payload(nothing, "Le client dit que le péage était inclus"))

    # Close the register: 50 float + 100 cash expected; 149 counted.
    register = replay(
        e for e in (register_event(x.entry.type, x.entry.payload) for x in tablet.entries) if e
    )
    assert register.expected_cash == D("150.00")
    closing_payload = closed_payload(register, D("149.00"))
    assert closing_payload["variance"] == "-1.00"
    tablet.record("register_closed", closing_payload)

    # The daily closing totals per method and per VAT rate, and names the last entry.
    day = close(
        [record_of(e) for e in tablet.entries],
        scope=f"register:{DEVICE}",
        period=Period.parse("2026-03-14"),
        timezone="Europe/Paris",
        previous=None,
    )
    assert dict(day.by_method) == {Method.CASH: D("100.00"), Method.CARD: D("44.00")}
    assert [(r.rate, r.incl_vat) for r in day.by_vat_rate] == [(D("20"), D("144.00"))]
    assert day.heads[-1].hash == tablet.entries[-1].hash
    tablet.record("closing", day.payload())

    # The whole chain verifies; and one altered amount would not.
    public = signing.public_key_of(KEY)
    assert verify_chain(tablet.entries, device_id=DEVICE, public_key=public) == ()
    forged = journal.to_wire(tablet.entries[2])
    forged["payload"] = {**forged["payload"], "amount": "10.00"}
    tampered = [*tablet.entries[:2], journal.from_wire(forged), *tablet.entries[3:]]
    kinds = {f.kind.value for f in verify_chain(tampered, device_id=DEVICE, public_key=public)}
    assert "altered" in kinds

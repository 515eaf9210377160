"""Enrolment answers bounded guessing across codes with 429 `rate_limited`: per client
address (an IPv6 /64 counts as one) and per tenant aimed at, in a 15-minute window
counted in the database, with Retry-After; a right code is refused too while a limit
holds, and works again once the window has passed."""

from __future__ import annotations

import sqlalchemy as sa

from server.devices.enrolment_limits import PER_ADDRESS, PER_TENANT, address_key
from server.platform.tables import devices, enrolment_codes, enrolment_failures
from tests.server_support import device_key, world  # noqa: F401
from tests.storage import engine  # noqa: F401

ENROL = "/api/v1/devices/enrol"
NOWHERE = "ZZZZ-0000-0000"  # no code has this lookup: aims at no tenant


def new_code(w, tenant="acme", driver="D1", ttl_minutes=60):
    answer = w.client.post(
        "/api/v1/enrolment-codes",
        json={"driver_ids": [driver], "label": "Truck 3", "ttl_minutes": ttl_minutes},
        headers=w.auth(f"{tenant}.admin"),
    )
    assert answer.status_code == 201, answer.json
    return answer.json["code"]


def wrong_for(code):
    """The same lookup (so the guess aims at the code's tenant), another secret."""
    return code[:5] + ("0000-000A" if not code.endswith("000A") else "0000-000B")


def try_code(w, code, address, seed=b"\x07" * 32, **headers):
    return w.client.post(
        ENROL,
        json={"code": code, "public_key": device_key(seed)[1]},
        environ_base={"REMOTE_ADDR": address},
        headers=headers,
    )


def attempts_left(w):
    with w.engine.connect() as conn:
        return dict(
            conn.execute(sa.select(enrolment_codes.c.lookup, enrolment_codes.c.attempts_left)).all()
        )


def test_failures_from_one_address_are_bounded_then_answered_429(world):  # noqa: F811
    assert try_code(world, NOWHERE, "203.0.113.5").status_code == 401
    world.clock.advance(minutes=1)
    for _ in range(PER_ADDRESS - 1):
        answer = try_code(world, NOWHERE, "203.0.113.5")
        assert (answer.status_code, answer.json["code"]) == (401, "enrolment_code_invalid")

    refused = try_code(world, NOWHERE, "203.0.113.5")
    assert (refused.status_code, refused.json["code"]) == (429, "rate_limited")
    # The oldest failure leaves the window 14 minutes from now.
    assert refused.headers["Retry-After"] == str(14 * 60)
    assert "Trop d'essais d'enrôlement" in refused.json["message"]
    english = try_code(world, NOWHERE, "203.0.113.5", **{"Accept-Language": "en"})
    assert english.json["message"].startswith("Too many failed enrolment attempts")
    assert world.count(enrolment_failures) == PER_ADDRESS  # a 429 records nothing


def test_a_right_code_is_refused_while_the_limit_holds_and_nothing_is_spent(world):  # noqa: F811
    code = new_code(world)
    for _ in range(PER_ADDRESS):
        try_code(world, NOWHERE, "203.0.113.5")
    before = attempts_left(world)

    right = try_code(world, code, "203.0.113.5")
    assert (right.status_code, right.json["code"]) == (429, "rate_limited")
    assert attempts_left(world) == before and world.count(devices) == 0

    world.clock.advance(minutes=15)  # the window has passed
    again = try_code(world, code, "203.0.113.5")
    assert again.status_code == 201, again.json


def test_another_address_still_enrols_while_one_is_limited(world):  # noqa: F811
    code = new_code(world)
    for _ in range(PER_ADDRESS):
        try_code(world, NOWHERE, "203.0.113.5")
    assert try_code(world, NOWHERE, "203.0.113.5").status_code == 429
    other = try_code(world, code, "198.51.100.9")
    assert other.status_code == 201, other.json


def test_failures_aimed_at_one_tenant_are_bounded_across_addresses(world):  # noqa: F811
    target = new_code(world)
    addresses = [f"192.0.2.{n}" for n in range(1, PER_TENANT // PER_ADDRESS + 1)]
    for address in addresses:  # each address stays within its own limit
        for _ in range(PER_ADDRESS):
            assert try_code(world, wrong_for(target), address).status_code == 401
    fresh = new_code(world)  # another lookup, the same tenant

    right = try_code(world, fresh, "198.51.100.9")
    assert (right.status_code, right.json["code"]) == (429, "rate_limited")
    assert right.headers["Retry-After"] == str(15 * 60)
    # Another tenant's code, and a guess aimed at no tenant, are not held back.
    assert try_code(world, new_code(world, "other", "X1"), "198.51.100.9").status_code == 201
    assert try_code(world, NOWHERE, "198.51.100.10").status_code == 401

    world.clock.advance(minutes=15)
    later = try_code(world, fresh, "198.51.100.9", seed=b"\x08" * 32)
    assert later.status_code == 201, later.json


def test_the_limits_are_counted_in_the_database_for_every_worker(world):  # noqa: F811
    for _ in range(PER_ADDRESS):
        try_code(world, NOWHERE, "203.0.113.5")
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(enrolment_failures.c.address, enrolment_failures.c.tenant_id)
        ).all()
    assert rows == [("203.0.113.5", None)] * PER_ADDRESS
    # Rows past the window are dropped when the next failure is counted.
    world.clock.advance(minutes=16)
    try_code(world, NOWHERE, "203.0.113.5")
    assert world.count(enrolment_failures) == 1


def test_one_ipv6_network_counts_as_one_address(world):  # noqa: F811
    for n in range(PER_ADDRESS):
        try_code(world, NOWHERE, f"2001:db8:1:2::{n + 1:x}")
    refused = try_code(world, NOWHERE, "2001:db8:1:2:ffff::1")
    assert (refused.status_code, refused.json["code"]) == (429, "rate_limited")
    assert try_code(world, NOWHERE, "2001:db8:1:3::1").status_code == 401


def test_behind_a_proxy_the_address_it_saw_counts_not_what_the_client_wrote(world):  # noqa: F811
    world.client.application.config["FORWARDED_HOPS"] = 1
    for n in range(PER_ADDRESS):
        answer = world.client.post(
            ENROL,
            json={"code": NOWHERE, "public_key": device_key()[1]},
            headers={"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.5"},
        )
        assert answer.status_code == 401
    refused = world.client.post(
        ENROL,
        json={"code": NOWHERE, "public_key": device_key()[1]},
        headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.5"},
    )
    assert refused.status_code == 429
    elsewhere = world.client.post(
        ENROL,
        json={"code": NOWHERE, "public_key": device_key()[1]},
        headers={"X-Forwarded-For": "203.0.113.6"},
    )
    assert elsewhere.status_code == 401


def test_address_keys():
    assert address_key("203.0.113.5") == "203.0.113.5"
    assert (
        address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ab::9") == "2001:db8:1:2::/64"
    )
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(None) == address_key("not an address") == "unknown"

"""Offline manager approvals: a short code, bound to one request, checked on the tablet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.approvals import (
    ALPHABET,
    CODE_LENGTH,
    DEFAULT_POLICY,
    Approval,
    ApprovalRefused,
    Attempts,
    DeviceKey,
    Keyring,
    Kind,
    Policy,
    Reason,
    Request,
    check_code,
    issue_code,
    normalise,
)
from shared.errors import Refused

KEY = DeviceKey(1, b"k" * 32)
KEYS = Keyring((KEY,))
ISSUED_AT = datetime(2026, 3, 10, 14, 7, 30, tzinfo=UTC)
REQUEST = Request("T1", "DEV-1", "M-1", Kind.DISCOUNT, Decimal("25.00"))
NO_ATTEMPTS = Attempts()


def check(
    code: str,
    request: Request = REQUEST,
    now: datetime = ISSUED_AT + timedelta(minutes=2),
    used: frozenset[str] = frozenset(),
    attempts: Attempts = NO_ATTEMPTS,
    keys: Keyring = KEYS,
    other_missions: tuple[str, ...] = (),
    other_amounts: tuple[Decimal, ...] = (),
) -> Approval:
    return check_code(
        keys,
        code,
        request,
        now,
        used,
        attempts,
        other_missions=other_missions,
        other_amounts=other_amounts,
    )


def refusal(code: str, **kwargs: Any) -> ApprovalRefused:
    with pytest.raises(ApprovalRefused) as caught:
        check(code, **kwargs)
    return caught.value


def code_for(request: Request = REQUEST, at: datetime = ISSUED_AT, key: DeviceKey = KEY) -> str:
    return issue_code(key, request, at).code


def test_a_code_is_ten_characters_of_crockford_base32_read_out_in_two_groups() -> None:
    issued = issue_code(KEY, REQUEST, ISSUED_AT)
    assert len(issued.code) == CODE_LENGTH
    assert set(issued.code) <= set(ALPHABET)
    assert not set(issued.code) & set("ILOU")
    assert issued.spoken == f"{issued.code[:5]}-{issued.code[5:]}"


def test_a_code_expires_thirty_minutes_after_its_issue_minute() -> None:
    issued = issue_code(KEY, REQUEST, ISSUED_AT)
    assert issued.issued_at == datetime(2026, 3, 10, 14, 7, tzinfo=UTC)
    assert issued.expires_at == datetime(2026, 3, 10, 14, 37, tzinfo=UTC)


def test_the_right_code_approves_the_request_once_and_says_what_to_record() -> None:
    approval = check(code_for())
    assert approval.request == REQUEST
    assert approval.key_version == 1
    assert approval.ref == f"1:{code_for()}"


def test_a_code_typed_with_spaces_dashes_lower_case_and_o_for_zero_is_read() -> None:
    code = code_for()
    typed = f"{code[:5].lower()} - {code[5:]}".replace("0", "o").replace("1", "l")
    assert normalise(typed) == code
    assert check(typed).ref == f"1:{code}"


@pytest.mark.parametrize("typed", ["", "12345", "ABCDE-FGHJKM", "ABCDE-FGHJU", "ABCDE?FGHJK"])
def test_a_malformed_code_is_refused_without_counting_as_an_attempt(typed: str) -> None:
    error = refusal(typed)
    assert error.reason is Reason.MALFORMED
    assert error.attempts == Attempts()


def test_a_used_code_is_refused_as_reused() -> None:
    approval = check(code_for())
    error = refusal(code_for(), used=frozenset({approval.ref}))
    assert error.reason is Reason.REUSED
    assert "déjà servi" in error.message("fr")
    assert "already been used" in error.message("en")


def test_a_code_for_another_amount_is_refused_and_named_when_the_amount_is_suggested() -> None:
    code = code_for(replace(REQUEST, amount=Decimal("30.00")))
    assert refusal(code).reason is Reason.WRONG_CODE
    error = refusal(code, other_amounts=(Decimal("30.00"),))
    assert error.reason is Reason.OTHER_AMOUNT
    assert "25,00" in error.message("fr")


def test_a_code_for_one_cent_more_is_refused() -> None:
    code = code_for(replace(REQUEST, amount=Decimal("25.01")))
    assert refusal(code).reason is Reason.WRONG_CODE


def test_a_deferral_code_does_not_approve_a_discount() -> None:
    code = code_for(replace(REQUEST, kind=Kind.DEFERRAL))
    error = refusal(code)
    assert error.reason is Reason.OTHER_KIND
    assert "remise" in error.message("fr")


def test_a_code_for_another_mission_is_named_only_if_the_tablet_knows_that_mission() -> None:
    code = code_for(replace(REQUEST, mission="M-2"))
    assert refusal(code).reason is Reason.WRONG_CODE
    assert refusal(code, other_missions=("M-2", "M-3")).reason is Reason.OTHER_MISSION


def test_a_code_for_another_device_or_tenant_is_a_wrong_code() -> None:
    assert refusal(code_for(replace(REQUEST, device="DEV-2"))).reason is Reason.WRONG_CODE
    assert refusal(code_for(replace(REQUEST, tenant="T2"))).reason is Reason.WRONG_CODE


def test_a_code_is_accepted_up_to_ttl_plus_skew_after_its_issue_minute() -> None:
    code = code_for()
    minute = datetime(2026, 3, 10, 14, 7, tzinfo=UTC)
    assert check(code, now=minute + timedelta(minutes=40)).request == REQUEST
    error = refusal(code, now=minute + timedelta(minutes=40, seconds=1))
    assert error.reason is Reason.EXPIRED
    assert error.attempts == Attempts()


def test_a_day_old_code_is_still_recognised_as_expired_rather_than_wrong() -> None:
    assert refusal(code_for(), now=ISSUED_AT + timedelta(hours=23)).reason is Reason.EXPIRED


def test_a_tablet_clock_up_to_ten_minutes_late_still_accepts_a_fresh_code() -> None:
    assert check(code_for(), now=ISSUED_AT - timedelta(minutes=10)).request == REQUEST


def test_a_tablet_clock_much_too_late_is_told_to_check_its_time() -> None:
    error = refusal(code_for(), now=ISSUED_AT - timedelta(minutes=45))
    assert error.reason is Reason.NOT_YET_VALID
    assert "heure de la tablette" in error.message("fr")


def test_wrong_codes_count_per_mission_and_lock_the_mission_at_the_limit() -> None:
    attempts = Attempts()
    for left in range(4, -1, -1):
        error = refusal("ZZZZZ-ZZZZZ", attempts=attempts)
        assert error.reason in {Reason.WRONG_CODE, Reason.UNKNOWN_KEY}
        attempts = error.attempts
        assert attempts.count("M-1") == 5 - left
    assert "Trop d'essais" in error.message("fr")
    locked = refusal(code_for(), attempts=attempts)
    assert locked.reason is Reason.LOCKED
    assert locked.attempts == attempts
    other = check(
        code_for(replace(REQUEST, mission="M-2")),
        replace(REQUEST, mission="M-2"),
        attempts=attempts,
    )
    assert other.request.mission == "M-2"


def test_the_device_locks_every_mission_after_twenty_wrong_codes_in_all() -> None:
    attempts = Attempts(tuple((f"M-{n}", 4) for n in range(10, 15)))
    assert attempts.total == 20
    assert refusal(code_for(), attempts=attempts).reason is Reason.LOCKED


def test_a_success_does_not_reset_the_counter_only_the_office_does() -> None:
    attempts = Attempts().failed("M-1").failed("M-1")
    check(code_for(), attempts=attempts)
    assert attempts.locked("M-1") is False
    assert attempts.cleared("M-1").count("M-1") == 0
    assert attempts.failed("M-2").cleared() == Attempts()


def test_a_code_from_a_key_the_tablet_lacks_asks_for_a_sync() -> None:
    newer = DeviceKey(2, b"n" * 32)
    error = refusal(code_for(key=newer))
    assert error.reason is Reason.UNKNOWN_KEY
    assert error.attempts.count("M-1") == 1


def test_after_rotation_codes_of_the_retired_key_issued_before_retirement_still_work() -> None:
    retired_at = ISSUED_AT + timedelta(minutes=1)
    old = DeviceKey(1, b"k" * 32, retired_at=retired_at)
    new = DeviceKey(2, b"n" * 32)
    keys = Keyring((new, old))
    assert check(code_for(key=KEY), keys=keys).key_version == 1
    assert check(code_for(key=new), keys=keys).key_version == 2
    late = code_for(at=retired_at + timedelta(minutes=1), key=KEY)  # forged with the old key
    error = refusal(late, keys=keys, now=retired_at + timedelta(minutes=2))
    assert error.reason is Reason.RETIRED_KEY


def test_the_office_cannot_issue_with_a_retired_key() -> None:
    with pytest.raises(ValueError, match="retired"):
        issue_code(DeviceKey(1, b"k" * 32, retired_at=ISSUED_AT), REQUEST, ISSUED_AT)


def test_a_keyring_cannot_hold_two_keys_that_share_a_code_version() -> None:
    with pytest.raises(ValueError):
        Keyring((DeviceKey(1, b"a" * 32), DeviceKey(33, b"b" * 32)))


def test_short_secrets_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        DeviceKey(1, b"short")
    with pytest.raises(ValueError):
        issue_code(KEY, REQUEST, datetime(2026, 3, 10, 14, 0))


def test_an_approval_needs_a_positive_amount_in_cents() -> None:
    with pytest.raises(Refused):
        Request("T1", "DEV-1", "M-1", Kind.DISCOUNT, Decimal("0.00"))
    with pytest.raises(ValueError):
        Request("T1", "DEV-1", "M-1", Kind.DISCOUNT, Decimal("1.005"))


def test_a_policy_whose_window_does_not_fit_the_code_is_refused() -> None:
    with pytest.raises(ValueError):
        Policy(ttl=timedelta(minutes=50), skew=timedelta(minutes=10))
    assert DEFAULT_POLICY.ttl == timedelta(minutes=30)


def test_a_longer_ttl_within_the_window_is_honoured_on_both_sides() -> None:
    policy = Policy(ttl=timedelta(minutes=45), skew=timedelta(minutes=5))
    code = issue_code(KEY, REQUEST, ISSUED_AT, policy).code
    now = ISSUED_AT + timedelta(minutes=49)
    assert check_code(KEYS, code, REQUEST, now, frozenset(), Attempts(), policy).request == REQUEST


# Properties

ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
amounts = st.integers(min_value=1, max_value=10**9).map(lambda c: Decimal(c) / 100)
requests = st.builds(Request, ids, ids, ids, st.sampled_from(Kind), amounts)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=500)
@given(requests, requests, instants, st.integers(min_value=0, max_value=39 * 60))
def test_a_code_is_never_accepted_for_any_other_request(
    issued_for: Request, other: Request, at: datetime, seconds_later: int
) -> None:
    code = issue_code(KEY, issued_for, at).code
    now = at + timedelta(seconds=seconds_later)
    if other == issued_for:
        assert check_code(KEYS, code, other, now, frozenset(), Attempts()).request == issued_for
    else:
        with pytest.raises(ApprovalRefused) as caught:
            check_code(KEYS, code, other, now, frozenset(), Attempts())
        assert caught.value.reason is not Reason.REUSED


@settings(max_examples=300)
@given(requests, instants, st.integers(min_value=-10 * 60, max_value=39 * 60))
def test_a_code_is_never_accepted_twice(request: Request, at: datetime, offset: int) -> None:
    code = issue_code(KEY, request, at).code
    now = at + timedelta(seconds=offset)
    used: set[str] = set()
    approval = check_code(KEYS, code, request, now, used, Attempts())
    used.add(approval.ref)
    with pytest.raises(ApprovalRefused) as caught:
        check_code(KEYS, code, request, now + timedelta(seconds=1), used, Attempts())
    assert caught.value.reason in {Reason.REUSED, Reason.EXPIRED}


@settings(max_examples=300)
@given(requests, instants, st.sampled_from(range(CODE_LENGTH)), st.sampled_from(ALPHABET))
def test_changing_any_one_character_makes_the_code_refused(
    request: Request, at: datetime, position: int, char: str
) -> None:
    code = issue_code(KEY, request, at).code
    changed = code[:position] + char + code[position + 1 :]
    if changed == code:
        return
    with pytest.raises(ApprovalRefused):
        check_code(KEYS, changed, request, at, frozenset(), Attempts())


@given(st.lists(st.text(alphabet=ALPHABET, min_size=10, max_size=10), min_size=30, max_size=30))
def test_no_sequence_of_guesses_gets_more_than_the_allowed_tries(guesses: list[str]) -> None:
    attempts = Attempts()
    counted = 0
    for guess in guesses:
        try:
            check(guess, attempts=attempts)
        except ApprovalRefused as error:
            if error.attempts != attempts:
                counted += 1
            attempts = error.attempts
    assert counted <= DEFAULT_POLICY.max_failures_per_mission

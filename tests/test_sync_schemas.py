"""The wire contract's schemas: unknown fields, floats, booleans for integers and
oversized pages are refused with a message naming the path, in French and English."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from shared.errors import InvalidDocument
from sync import protocol, schemas

ENTRY = {"device_id": "dev-1", "seq": 1, "payload": {"amount": "12.50"}}


def refused(schema, data):
    with pytest.raises(InvalidDocument) as caught:
        schemas.load(schema, data)
    return {p.path: p.text for p in caught.value.problems}


def test_a_push_request_with_an_unknown_field_is_refused():
    problems = refused(
        schemas.PushRequest,
        {"protocol": 1, "device_id": "dev-1", "entries": [ENTRY], "extra": 1},
    )
    assert problems["extra"].en == "unknown field"
    assert problems["extra"].fr == "champ inconnu"


def test_a_float_hidden_deep_in_an_entry_is_refused_with_its_path():
    entry = {**ENTRY, "payload": {"lines": [{"amount": 12.5}]}}
    problems = refused(
        schemas.PushRequest, {"protocol": 1, "device_id": "dev-1", "entries": [entry]}
    )
    [(path, text)] = problems.items()
    assert path == "entries.0"
    assert "payload.lines[0].amount" in text.en and "12.50" in text.en


@given(st.floats(allow_nan=False))
def test_any_float_anywhere_in_a_pushed_entry_is_refused(number):
    entry = {**ENTRY, "payload": {"a": {"b": [1, "x", number]}}}
    with pytest.raises(InvalidDocument):
        schemas.load(schemas.PushRequest, {"protocol": 1, "device_id": "dev-1", "entries": [entry]})


@pytest.mark.parametrize("cursor", [True, 1.0, "3", -1])
def test_a_pull_cursor_must_be_a_plain_non_negative_integer(cursor):
    assert "cursor" in refused(schemas.PullRequest, {"cursor": cursor})


def test_a_pull_page_larger_than_the_limit_is_refused():
    assert "limit" in refused(schemas.PullRequest, {"cursor": 0, "limit": protocol.MAX_PAGE + 1})
    assert schemas.load(schemas.PullRequest, {"cursor": 5}) == {"cursor": 5, "limit": None}


def test_a_session_request_needs_a_hex_signature_of_the_right_size():
    problems = refused(
        schemas.SessionRequest,
        {"device_id": "dev-1", "nonce": "n" * 43, "signature": "AB" * 64},
    )
    assert "128 lowercase hexadecimal digits" in problems["signature"].en


def test_a_client_reads_a_newer_servers_answer_ignoring_fields_it_does_not_know():
    answer = {
        "status": "gap",
        "acknowledged": {"seq": 3, "hash": "a" * 64},
        "expected_seq": 4,
        "message": "…",
        "retry_hint": "later",
    }
    loaded = schemas.load(schemas.PushResponse, answer, strict=False)
    assert (loaded["status"], loaded["expected_seq"]) == ("gap", 4)
    assert "retry_hint" in refused(schemas.PushResponse, answer)


def test_the_server_serves_the_versions_between_the_minimum_and_its_own():
    assert protocol.accepts(protocol.PROTOCOL_VERSION)
    assert not protocol.accepts(protocol.MIN_PROTOCOL - 1)
    assert not protocol.accepts(protocol.PROTOCOL_VERSION + 1)
    assert "Mettez-la à jour" in protocol.UPDATE_REQUIRED("fr")
    assert "Update it" in protocol.UPDATE_REQUIRED("en")

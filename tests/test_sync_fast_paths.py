"""The quick ways through push and pull read and write exactly what the general ones do:
a pulled page is refused for the same problems, named by the same paths, as the
marshmallow schema refuses it; the server's pull answer is the page `pull` returns; a
pushed entry is stored with its canonical body on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from enum import IntEnum
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from server.devices.pull import pull, pull_json
from server.platform import changes
from server.platform.db import reading
from server.platform.tables import journal_entries
from shared.canonical import canonical_json
from shared.errors import InvalidDocument
from sync import schemas
from sync.client import Refused, SyncClient
from sync.protocol import PushStatus
from tests.storage import engine  # noqa: F401 - the fixture
from tests.sync_support import NOW, TENANT, Tablet, add_tenant, enrol, send

# --- reading a pulled page --------------------------------------------------------------------


def good_page() -> dict[str, Any]:
    return {
        "changes": [
            {"seq": 3, "kind": "contract", "id": "C-1", "data": {"a": [1, {"b": "x"}], "c": True}},
            {"seq": 4, "kind": "mission", "id": "M-1", "data": None},
            {"seq": 7, "kind": "m" * 40, "id": "é" * 128, "data": {}},
        ],
        "next_cursor": 9,
        "has_more": False,
    }


def nested(depth: int) -> dict[str, Any]:
    """An object whose innermost value sits `depth` levels below it."""
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value  # type: ignore[no-any-return]


def schema_reading(raw: str) -> tuple[str, Any]:
    try:
        return "ok", schemas.load(schemas.PullResponse, json.loads(raw), strict=False)
    except InvalidDocument as exc:
        return "refused", exc.message("en")


def fast_reading(raw: str) -> tuple[str, Any]:
    try:
        return "ok", schemas.load_pull_page(raw.encode("utf-8"))
    except InvalidDocument as exc:
        return "refused", exc.message("en")


def variant(path: tuple[Any, ...], value: Any, *, delete: bool = False) -> dict[str, Any]:
    page = copy.deepcopy(good_page())
    target: Any = page
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return page


VARIANTS = [
    good_page(),
    {"changes": [], "next_cursor": 0, "has_more": True},
    variant(("extra",), 1),  # a newer server's field: ignored, as the schema does
    variant(("extra",), 1.5),  # even holding a float: ignored with it
    variant(("has_more",), "true"),  # what marshmallow's Boolean takes
    variant(("has_more",), None),
    variant(("has_more",), 2.5),
    variant(("next_cursor",), -1),
    variant(("next_cursor",), True),
    variant(("next_cursor",), 9.0),
    variant(("next_cursor",), "9"),
    variant(("next_cursor",), None, delete=True),
    variant(("changes",), None),
    variant(("changes",), {}),
    variant(("changes",), None, delete=True),
    variant(("changes", 1), 3),
    variant(("changes", 1), None),
    variant(("changes", 1, "x"), 1),
    variant(("changes", 1, "data"), None, delete=True),
    variant(("changes", 0, "seq"), 0),
    variant(("changes", 0, "seq"), 3.0),
    variant(("changes", 0, "seq"), "3"),
    variant(("changes", 0, "seq"), False),
    variant(("changes", 0, "kind"), ""),
    variant(("changes", 0, "kind"), "k" * 41),
    variant(("changes", 0, "kind"), 4),
    variant(("changes", 0, "id"), "i" * 129),
    variant(("changes", 0, "id"), None),
    variant(("changes", 0, "data"), []),
    variant(("changes", 0, "data"), "text"),
    variant(("changes", 0, "data", "a", 1, "b"), 1.5),
    variant(("changes", 2, "data"), {"z": [1, 2, [3, 0.1]]}),
    variant(("changes", 2, "data"), {"big": 10**30, "neg": -(10**30)}),
    variant(("changes", 2, "data"), nested(32)),
    variant(("changes", 2, "data"), nested(33)),
    variant(("changes", 2, "data"), {"k": nested(31) | {"e": {}}}),
    variant(("changes", 2, "data"), {"k": nested(31) | {"e": []}}),
    variant(("changes", 2, "data"), {"k": nested(31) | {"e": [1]}}),
]


@pytest.mark.parametrize("page", VARIANTS, ids=range(len(VARIANTS)))
def test_a_pulled_page_is_read_as_the_schema_reads_it(page):
    raw = json.dumps(page)
    assert fast_reading(raw) == schema_reading(raw)


def test_a_well_formed_page_is_read_without_the_schema(monkeypatch):
    def schema_load(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the schema read a well-formed page")

    monkeypatch.setattr(schemas, "load", schema_load)
    page = good_page()
    assert schemas.load_pull_page(json.dumps(page).encode()) == page


def test_a_float_in_a_pulled_page_is_refused_with_its_path():
    raw = json.dumps(variant(("changes", 0, "data", "a", 1, "b"), 1.5))
    with pytest.raises(InvalidDocument) as refused:
        schemas.load_pull_page(raw)
    assert "changes.0.data" in refused.value.message("en")
    assert "a[1].b" in refused.value.message("en")
    assert "float" in refused.value.message("en")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_infinity_and_exponents_in_a_pulled_page_are_refused(constant):
    raw = json.dumps(good_page()).replace('"x"', constant)
    with pytest.raises(InvalidDocument) as refused:
        schemas.load_pull_page(raw)
    assert "changes.0.data" in refused.value.message("en")


def test_an_unknown_field_in_a_pulled_change_is_refused_with_its_path():
    with pytest.raises(InvalidDocument) as refused:
        schemas.load_pull_page(json.dumps(variant(("changes", 1, "x"), 1)))
    assert "changes.1.x: unknown field" in refused.value.message("en")


def test_a_wrong_type_in_a_pulled_page_is_refused_with_its_path():
    with pytest.raises(InvalidDocument) as refused:
        schemas.load_pull_page(json.dumps(variant(("changes", 0, "seq"), "3")))
    assert "changes.0.seq: must be an integer" in refused.value.message("en")
    with pytest.raises(InvalidDocument) as refused:
        schemas.load_pull_page(json.dumps(variant(("changes", 0, "data"), [])))
    assert "changes.0.data: must be an object" in refused.value.message("en")


def test_excessive_nesting_in_a_pulled_page_is_refused():
    with pytest.raises(InvalidDocument) as refused:
        schemas.load_pull_page(json.dumps(variant(("changes", 2, "data"), nested(33))))
    assert "changes.2.data" in refused.value.message("en")


def test_a_body_that_is_not_json_is_a_value_error():
    with pytest.raises(ValueError):
        schemas.load_pull_page(b"{not json")


class OneAnswer(BaseAdapter):
    """Answers every request with the same 200 body."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def close(self) -> None:
        pass

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response._content = self.body
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.request = request
        response.url = request.url or ""
        return response


def client_answered(body: bytes) -> SyncClient:
    http = requests.Session()
    http.mount("http://towline.test", OneAnswer(body))
    client = SyncClient("http://towline.test", device_id="dev-1", session=http, lang="en")
    client.token = "t" * 32
    return client


@pytest.mark.parametrize(
    ("page", "path"),
    [
        (variant(("changes", 0, "data", "a", 1, "b"), 1.5), "changes.0.data"),
        (variant(("changes", 1, "x"), 1), "changes.1.x"),
        (variant(("changes", 0, "seq"), "3"), "changes.0.seq"),
        (variant(("next_cursor",), None, delete=True), "next_cursor"),
    ],
)
def test_the_client_refuses_a_bad_page_naming_its_path_and_applies_nothing(page, path):
    applied: list[Any] = []
    client = client_answered(json.dumps(page).encode())
    with pytest.raises(Refused) as refused:
        client.pull(0, lambda items, cursor: applied.append((items, cursor)))
    assert (refused.value.code, refused.value.status) == ("server_error", 502)
    assert path in refused.value.message("en")
    assert applied == []


def test_the_client_refuses_an_unreadable_page():
    with pytest.raises(Refused) as refused:
        client_answered(b"<html>").pull(0, lambda items, cursor: None)
    assert (refused.value.code, refused.value.status) == ("server_error", 502)


def test_the_client_applies_a_good_page_as_the_schema_reads_it():
    applied: list[Any] = []
    page = good_page()
    client = client_answered(json.dumps(page).encode())
    assert client.pull(0, lambda items, cursor: applied.append((items, cursor))) == 9
    assert applied == [(page["changes"], 9)]


# --- the float walk of pushed entries ---------------------------------------------------------


class Small(IntEnum):
    ONE = 1


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1},
        {"a": [1, "b", None, True, {"c": {}}]},
        {"a": [1, {"b": 2.5}]},
        {"a": (1, 2.5)},
        {"a": Decimal("1.5")},
        {"a": Small.ONE},
        nested(32),
        nested(33),
        {"k": nested(31) | {"e": {}}},
        {"k": nested(31) | {"e": [{}]}},
        {"k": nested(31) | {"e": [[]]}},
    ],
)
def test_the_quick_float_walk_finds_what_the_full_walk_finds(value):
    assert schemas._float_path(value, "") == schemas._float_path_slow(value, "")


# --- the server's pull answer -----------------------------------------------------------------


def test_the_pull_answer_is_the_page_pull_returns(engine):  # noqa: F811
    add_tenant(engine)
    add_tenant(engine, "other")
    items = [
        ("contract", "C-1", {"version": 1, "name": 'L\'« été » "quoted" \\ \u2028 🚗'}, None),
        ("mission", 'M-"1"\\é', {"driver_id": "d1", "lines": [1, None, True, {}]}, "d1"),
        ("mission", "M-2", {"driver_id": "d2"}, "d2"),
        ("mission", 'M-"1"\\é', None, "d1"),
        ("price_list", "P-1", {"amount": Decimal("12.50")}, None),
    ]
    with engine.begin() as conn:
        for kind, entity, data, scope in items:
            changes.record(conn, TENANT, kind, entity, data, scope=scope, now=NOW)
        changes.record(conn, "other", "mission", "X-1", {"secret": True}, scope=None, now=NOW)
    with reading(engine).connect() as conn:
        for cursor, limit in [(0, None), (0, 2), (1, 1), (2, 2), (5, 10), (-3, 1000)]:
            args = {"tenant_id": TENANT, "driver_ids": ("d1",), "cursor": cursor, "limit": limit}
            text = pull_json(conn, **args)
            assert json.loads(text) == pull(conn, **args).to_wire()
            assert schemas.load_pull_page(text.encode()) == pull(conn, **args).to_wire()
            text.encode("ascii")  # every character escaped, as Flask's JSON answers are


# --- the stored body of pushed entries --------------------------------------------------------


def test_pushed_entries_are_stored_with_their_canonical_body(engine):  # noqa: F811
    add_tenant(engine)
    tablet = Tablet("dev-1")
    enrol(engine, tablet)
    tablet.write(mission_id="M-1", note='« été » "q" \\ 🚗', n=2**53 - 1, flags=[True, None, {}])
    tablet.write(mission_id="M-2", amount=Decimal("12.50"))
    tablet.write(2)
    wire = tablet.wire()
    wire[1]["payload"] = {**wire[1]["payload"], "amount": Decimal("12.50")}  # not plain JSON
    result = send(engine, tablet, wire)
    assert (result.status, result.stored) == (PushStatus.OK, 4)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(journal_entries).order_by(journal_entries.c.seq)).all()
    assert [row.body.encode("utf-8") for row in rows] == [
        canonical_json(e.entry.as_dict()) for e in tablet.entries
    ]
    assert [(row.hash, row.sig, row.received_at) for row in rows] == [
        (e.hash, e.sig, NOW) for e in tablet.entries
    ]

"""Cleaning rule sets stored per tenant and ordering party (SQLite and PostgreSQL):
versions 1, 2, 3… each validated by the core before it is stored, never changed, the
latest one applied; a stale or invalid publication changes nothing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from server.parties import cleaning as cleaning_store
from server.people import ordering_parties as parties
from server.platform.errors import Conflict, NotFound
from server.platform.tables import audit_log, cleaning_rulesets
from shared.cleaning import clean
from shared.cleaning_schema import ruleset_digest
from shared.errors import InvalidDocument
from tests.conftest import EXAMPLES
from tests.server_support import seed
from tests.storage import engine  # noqa: F401

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
RULES: dict[str, Any] = json.loads((EXAMPLES / "orders" / "cleaning-assist-b.json").read_text())


def _setup(eng: sa.Engine) -> None:
    seed(eng)
    with eng.begin() as conn:
        for tenant in ("acme", "other"):
            parties.create_party(conn, tenant, "ASSIST-B", "Assistance B", actor="t", now=NOW)


def _publish(eng: sa.Engine, document: dict[str, Any], tenant: str = "acme") -> dict[str, Any]:
    with eng.begin() as conn:
        return cleaning_store.publish(conn, tenant, "ASSIST-B", document, actor="u1", now=NOW)


def _count(eng: sa.Engine) -> int:
    with eng.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(cleaning_rulesets)).scalar_one()
        )


def test_versions_follow_one_another_and_the_latest_applies(engine):  # noqa: F811
    _setup(engine)
    first = _publish(engine, RULES)
    assert (first["version"], first["rules"], first["published_by"]) == (1, 3, "u1")
    assert first["document"]["version"] == 1  # filled in, and covered by the digest
    assert first["digest"] == ruleset_digest({**RULES, "version": 1})
    second = copy.deepcopy(RULES)
    second["rules"] = second["rules"][:1]
    assert _publish(engine, second)["version"] == 2
    with engine.connect() as conn:
        latest = cleaning_store.latest(conn, "acme", "ASSIST-B")
        listed = cleaning_store.list_versions(conn, "acme", "ASSIST-B")
        old = cleaning_store.load_version(conn, "acme", "ASSIST-B", 1)
    assert latest is not None and latest.ruleset.version == 2
    assert [r.id for r in latest.ruleset.rules] == ["codes-maison"]
    assert [(v["version"], v["rules"]) for v in listed] == [(1, 3), (2, 1)]
    # version 1 is kept exactly: it still cleans as it did
    order = {"vehicle": {"weight_kg": 1200}, "services": [{"code": "REMORQ"}]}
    assert clean(order, old.ruleset).order["vehicle"]["class"] == "VL"
    assert "class" not in clean(order, latest.ruleset).order["vehicle"]


def test_a_stale_version_is_refused_and_changes_nothing(engine):  # noqa: F811
    _setup(engine)
    _publish(engine, RULES)
    with pytest.raises(Conflict) as refused:
        _publish(engine, {**RULES, "version": 1})
    assert refused.value.code == "ruleset_version_conflict"
    assert "publiez la version 2" in refused.value.message("fr")
    assert "publish version 2" in refused.value.message("en")
    assert _count(engine) == 1
    assert _publish(engine, {**RULES, "version": 2})["version"] == 2


def test_invalid_rules_are_refused_with_every_path_and_nothing_is_stored(engine):  # noqa: F811
    _setup(engine)
    bad = copy.deepcopy(RULES)
    bad["rules"][0]["then"][0] = {"multiply": {"path": "distance_km.*", "factor": 1.5}}
    bad["rules"][1]["when"] = {"path": "vehicle.class", "contains": "V"}
    with pytest.raises(InvalidDocument) as refused:
        _publish(engine, bad)
    paths = [p.path for p in refused.value.problems]
    assert paths == [
        "document.rules.0.then.0.multiply.factor",
        "document.rules.1.when.contains",
    ]
    assert "binary float refused" in refused.value.problems[0].text.en
    assert "à virgule flottante" in refused.value.problems[0].text.fr
    with pytest.raises(InvalidDocument) as other:
        _publish(engine, {**RULES, "party": "ASSIST-A"})
    assert [p.path for p in other.value.problems] == ["document.party"]
    assert _count(engine) == 0
    with engine.connect() as conn:
        published = sa.select(sa.func.count()).where(audit_log.c.action == "cleaning_rules.publish")
        assert conn.execute(published).scalar_one() == 0


def test_rules_belong_to_one_tenant_and_one_known_party(engine):  # noqa: F811
    _setup(engine)
    _publish(engine, RULES)
    with engine.connect() as conn:
        assert cleaning_store.latest(conn, "other", "ASSIST-B") is None
        assert cleaning_store.list_versions(conn, "other", "ASSIST-B") == []
        with pytest.raises(NotFound):
            cleaning_store.get_version(conn, "other", "ASSIST-B", 1)
        with pytest.raises(NotFound):
            cleaning_store.list_versions(conn, "acme", "NOBODY")
    with pytest.raises(NotFound), engine.begin() as conn:
        cleaning_store.publish(conn, "acme", "NOBODY", RULES, actor="u1", now=NOW)
    assert _publish(engine, RULES, tenant="other")["version"] == 1  # its own numbering

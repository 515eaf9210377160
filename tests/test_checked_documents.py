"""A contract or mission the tablet validated once is built again without its schema
(issues 13/18: marshmallow at every load was most of a command's start), and only when the
stored document's digest is one recorded after a full validation: a row altered since is
validated in full again, and refused when it does not pass."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldclient import checked_documents
from fieldclient.home import Home
from fieldclient.tablet import Tablet
from shared.canonical import digest
from shared.checked import Unchecked
from shared.checked_contract import checked_contract
from shared.checked_mission import checked_mission
from shared.contract_schema import load_contract
from shared.errors import InvalidDocument
from shared.mission import Mission, load_mission
from tests.builders import contract_doc
from tests.field_support import Clock, offline_tablet
from tests.site_facts_support import contract_document as site_facts_contract

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTRACTS = sorted((EXAMPLES / "contracts").glob("*.json"))
MISSIONS = sorted((EXAMPLES / "missions").glob("*.json"))


def read(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text("utf-8"))
    assert isinstance(document, dict)
    return document


def same_mission(fast: Mission, validated: Mission) -> None:
    assert fast == validated
    # Equal instants may carry other offsets: the wall time the driver reads must match too.
    for name, at in validated.times.items():
        assert fast.times[name].isoformat() == at.isoformat()


# --- the fast builders build what the schema builds -------------------------------------


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: p.stem)
def test_every_example_contract_is_built_alike_with_and_without_its_schema(path: Path):
    document = read(path)
    validated = load_contract(document)
    assert checked_contract(document, digest(document)) == validated


def test_a_contract_with_site_fact_rules_and_its_own_catalogue_is_built_alike():
    catalogue = {
        "separator": "-",
        "segments": [
            {"name": "family", "values": {"TOW": {"fr": "Remorquage", "en": "Tow"}}},
            {"name": "class", "values": {"A": {"fr": "A", "en": "A"}}},
            {"name": "variant", "values": {"P": {"fr": "1re", "en": "1st"}}},
        ],
    }
    for document in (
        site_facts_contract(),
        contract_doc(catalogue=catalogue, price_lists={"l": {"TOW": "1.00"}}, price_list="l"),
    ):
        validated = load_contract(document)
        built = checked_contract(document, digest(document))
        assert built == validated
        assert built.site_facts == validated.site_facts


@pytest.mark.parametrize("path", MISSIONS, ids=lambda p: p.stem)
def test_every_example_mission_is_built_alike_with_and_without_its_schema(path: Path):
    document = read(path)
    same_mission(checked_mission(document), load_mission(document))


amounts = st.integers(0, 500_000).map(lambda c: f"{c // 100}.{c % 100:02d}")
numbers = st.one_of(st.integers(0, 900), st.sampled_from(["0.5", "12", "80.25", "1.125"]))
words = st.text("abcdé -'", min_size=1, max_size=12)
instants = st.sampled_from(
    [
        "2026-03-10T10:00:00+01:00",
        "2026-07-14T23:59:30Z",
        "2026-03-29T02:30:00.250000+02:00",
        "2026-12-31T18:00:00-05:00",
    ]
)
stated = st.fixed_dictionaries({"amount": amounts, "includes_vat": st.booleans()})


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field present (its value maybe null) or absent (the schema's default)."""
    return st.one_of(st.just(...), st.none(), strategy)


@st.composite
def mission_documents(draw: st.DrawFn) -> dict[str, Any]:
    vehicle: dict[str, Any] = {"class": draw(st.sampled_from(["VL", "VLP", "PL"]))}
    if draw(st.booleans()):
        vehicle["weight_kg"] = draw(st.integers(1, 100_000))
    if draw(st.booleans()):
        vehicle["plate"] = draw(st.one_of(st.none(), st.just("AB-123-CD")))
    document: dict[str, Any] = {
        "id": draw(st.sampled_from(["M-1", "R-0012", "M-A-0004"])),
        "vehicle": vehicle,
        "times": {"call": draw(instants)},
    }
    if draw(st.booleans()):
        document["times"]["arrival"] = draw(instants)
    optional = {
        "file_number": maybe(st.just("F-2026-1")),
        "ordering_party": maybe(st.just("ASSIST-A")),
        "customer": maybe(words),
        "file_sequence": st.integers(1, 5),
        "distance_km": st.dictionaries(
            st.sampled_from(["en_route", "loaded", "return"]), numbers, max_size=3
        ),
        "facts": st.dictionaries(
            st.sampled_from(["accident", "place"]), st.one_of(st.booleans(), words), max_size=2
        ),
        "services": st.lists(
            st.fixed_dictionaries(
                {"code": st.sampled_from(["TOW", "WIN", "TOLL", "STO"])},
                optional={"quantity": numbers, "amount": st.one_of(st.none(), amounts)},
            ),
            max_size=4,
        ),
        "coverage": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {},
                optional={
                    "mission_cap": st.one_of(st.none(), amounts),
                    "file_cap": amounts,
                    "caps_include_vat": st.booleans(),
                    "km_covered": numbers,
                    "deductible": amounts,
                    "deductible_includes_vat": st.booleans(),
                    "file_consumed": amounts,
                    "reference": words,
                    "note": st.one_of(st.none(), words),
                    "warning": st.fixed_dictionaries({"fr": words, "en": words}),
                    "contract": st.fixed_dictionaries(
                        {"id": st.just("ASSIST-A"), "version": st.integers(1, 9)},
                        optional={
                            "mission_cap": st.one_of(st.none(), stated),
                            "file_cap": stated,
                            "deductible": stated,
                            "km_included": numbers,
                            "file_consumed": amounts,
                        },
                    ),
                },
            ),
        ),
        "beneficiary": st.one_of(st.none(), st.fixed_dictionaries({"name": words})),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            value = draw(strategy)
            if value is not ...:
                document[name] = value
    return document


@settings(max_examples=150, deadline=None)
@given(mission_documents())
def test_any_valid_mission_is_built_alike_with_and_without_its_schema(document):
    validated = load_mission(document)  # every generated document is valid: it must pass
    same_mission(checked_mission(json.loads(json.dumps(document))), validated)


@st.composite
def contract_documents(draw: st.DrawFn) -> dict[str, Any]:
    """An example contract with optional blocks dropped (their defaults) or changed."""
    document = copy.deepcopy(read(draw(st.sampled_from(CONTRACTS))))
    for name in ("currency", "timezone", "holidays", "vat_rates", "at_cost", "supplements"):
        if name in document and draw(st.booleans()):
            del document[name]
    if draw(st.booleans()):
        document["payment"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "beneficiary_pays": st.sampled_from(
                        ["before_departure", "at_delivery", "on_invoice"]
                    ),
                    "methods": st.lists(
                        st.sampled_from(["cash", "card", "cheque"]), min_size=1, unique=True
                    ),
                    "deposit": st.fixed_dictionaries(
                        {}, optional={"when": st.just("before_departure"), "amount": amounts}
                    ),
                },
            )
        )
    if document.get("ordering_party") is not None and draw(st.booleans()):
        document["deductible"] = draw(st.one_of(st.none(), stated))
        document["caps"] = draw(
            st.fixed_dictionaries({}, optional={"mission": stated, "file": st.none()})
        )
    if draw(st.booleans()):
        document["valid_until"] = None
    return document


@settings(max_examples=60, deadline=None)
@given(contract_documents())
def test_any_valid_contract_is_built_alike_with_and_without_its_schema(document):
    validated = load_contract(document)
    assert checked_contract(json.loads(json.dumps(document)), digest(document)) == validated


@pytest.mark.parametrize(
    ("field", "value"),
    [("prices_include_vat", "false"), ("version", True), ("vat_rate", 20.0)],
)
def test_a_value_the_schema_would_convert_is_left_to_the_schema(field: str, value: Any):
    document = read(EXAMPLES / "contracts" / "assist-a.json")
    document[field] = value
    with pytest.raises(Unchecked):
        checked_contract(document, "0" * 64)


# --- the tablet trusts only the digests it recorded ---------------------------------------


@pytest.fixture
def tablet(tmp_path: Path):
    tablet = offline_tablet(tmp_path / "t", Clock())
    yield tablet
    tablet.close()


def checked(tablet, kind: str) -> set[str]:
    rows = tablet.db.execute("SELECT digest FROM checked_documents WHERE kind = ?", [kind])
    return {row[0] for row in rows.fetchall()}


def test_missions_and_contracts_are_recorded_as_checked_when_pulled(tablet):
    # The pull validated them (its schema), so no later read validates or writes.
    mission_digest = digest(read(EXAMPLES / "missions" / "a-tuesday-80km.json"))
    contracts = {digest(read(p)) for p in (EXAMPLES / "contracts").glob("*.json")}
    assert mission_digest in checked(tablet, checked_documents.MISSION)
    assert checked(tablet, checked_documents.CONTRACT) == contracts
    view = tablet.view("M-A-0002")
    assert view.valuation is not None
    assert checked(tablet, checked_documents.CONTRACT) == contracts  # nothing more written


def test_a_contract_pulled_without_its_digest_is_validated_once_first_read(
    tmp_path: Path, monkeypatch
):
    # As an older program pulled it: stored, its digest not recorded.
    passed = checked_documents.passed

    def older(db, kind, document):
        if kind != checked_documents.CONTRACT:
            passed(db, kind, document)

    monkeypatch.setattr(checked_documents, "passed", older)
    tablet = offline_tablet(tmp_path / "t", Clock())
    monkeypatch.undo()
    try:
        contract = read(EXAMPLES / "contracts" / "assist-a.json")
        assert checked(tablet, checked_documents.CONTRACT) == set()
        assert tablet.view("M-A-0002").valuation is not None
        assert checked(tablet, checked_documents.CONTRACT) == {digest(contract)}
    finally:
        tablet.close()


def test_checked_digests_are_kept_as_found(tablet):
    tablet.view("M-A-0002")
    with pytest.raises(Exception, match="kept as found"):
        tablet.db.execute("DELETE FROM checked_documents")
    with pytest.raises(Exception, match="kept as found"):
        tablet.db.execute("UPDATE checked_documents SET digest = 'x'")


def tamper(tablet, table: str, key: str, change: dict[str, Any]) -> None:
    row = tablet.db.execute(f"SELECT document FROM {table} WHERE id = ?", [key]).fetchone()
    document = {**json.loads(row[0]), **change}
    tablet.db.execute(f"UPDATE {table} SET document = ? WHERE id = ?", [json.dumps(document), key])


def test_a_contract_altered_after_its_check_is_validated_again_and_refused(tablet, tmp_path):
    tablet.view("M-A-0002")  # first read: validated in full, digest recorded
    # What the fast builder would read past (it ignores unknown fields), the schema refuses.
    tamper(tablet, "contracts", "ASSIST-A", {"surprise": True, "vat_rate": "-20"})
    tablet.close()
    again = Tablet(Home(tmp_path / "t"), clock=Clock())  # a new process, as it were
    try:
        view = again.view("M-A-0002")
        assert view.valuation is None
        assert isinstance(view.refusal, InvalidDocument)
        paths = {p.path for p in view.refusal.problems}
        assert {"surprise", "vat_rate"} <= paths
    finally:
        again.close()


def test_a_contract_altered_with_its_digest_recorded_is_what_the_writer_chose(tablet):
    """Who can write the files can record a digest too: the fast path then builds what
    they wrote (as the full validation of a valid rewrite would); the office values again
    with its own contract."""
    contract = read(EXAMPLES / "contracts" / "assist-a.json")
    contract["price_lists"]["contracted"]["TOW.VL"] = "999.00"
    tablet.db.execute(
        "UPDATE contracts SET document = ? WHERE id = 'ASSIST-A'", [json.dumps(contract)]
    )
    checked_documents.remember(tablet.db, checked_documents.CONTRACT, digest(contract))
    terms = checked_documents.contract(tablet.db, json.dumps(contract))
    assert terms.price_lists["contracted"]["TOW.VL"] == Decimal("999.00")
    assert terms == load_contract(contract)


def test_a_mission_altered_after_its_check_is_validated_again_and_refused(tablet):
    tamper(tablet, "missions", "M-A-0002", {"vehicle": {"class": "VL", "weight_kg": -3}})
    with pytest.raises(InvalidDocument) as refused:
        tablet.mission("M-A-0002")
    assert "vehicle.weight_kg" in {p.path for p in refused.value.problems}


def test_a_document_that_fails_its_schema_leaves_no_digest(tablet):
    document = read(EXAMPLES / "contracts" / "assist-a.json")
    document["surprise"] = True
    before = checked(tablet, checked_documents.CONTRACT)
    with pytest.raises(InvalidDocument):
        checked_documents.contract(tablet.db, json.dumps(document))
    assert checked(tablet, checked_documents.CONTRACT) == before


def test_a_document_checked_under_another_schema_version_is_validated_again(tablet):
    document = read(EXAMPLES / "missions" / "a-tuesday-80km.json")
    document["surprise"] = 1  # passes nothing, whatever digest another kind recorded
    checked_documents.remember(tablet.db, "mission/0", digest(document))
    with pytest.raises(InvalidDocument):
        checked_documents.mission(tablet.db, json.dumps(document))


LOADED = """
import json, sys
from fieldclient.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def modules_of_show(home: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED, "show", "M-A-0002", "--home", str(home)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.strip().splitlines()[-1]))


def test_show_imports_no_schema_once_the_documents_were_checked(tmp_path: Path):
    offline_tablet(tmp_path / "t", Clock()).close()  # the pull checked every document
    for _ in range(2):
        loaded = modules_of_show(tmp_path / "t")
        for absent in ("marshmallow", "shared.contract_schema", "shared.mission_schema"):
            assert absent not in loaded, absent

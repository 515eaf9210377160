"""The tablet's own verifier, offline (issue 16): the journal is checked against the key
the server enrolled, so a key file swapped and a journal signed again with it is caught;
what protects money (wrong manager's codes, codes already used, wrong PINs) is read from
signed journal entries, so wiping a table resets nothing; a sync that finds the journal
broken exits 4 with the sentences `journal verify` prints, before anything is sent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from requests.adapters import BaseAdapter

from fieldclient import guards, integrity_report, syncing
from fieldclient.cli import main as field
from fieldclient.cli.common import exit_code
from fieldclient.home import Home
from fieldclient.integrity import verify
from fieldclient.tablet import IntegrityFailure, Tablet
from shared import signing
from shared.approvals import ApprovalRefused, Kind
from shared.errors import Refused
from sync.client import SyncClient
from sync.errors import Refused as ServerRefused
from sync.protocol import enrolment_message
from tests.field_support import DEVICE, TENANT, Clock, approval_code, feed, offline_tablet
from tests.tampering import forge_enrolment, set_meta, sql, swap_key_and_resign

D = Decimal
WINCHING = "M-A-0004"  # 96.00 € for the beneficiary
OTHER_SEED = bytes(range(100, 132))
FAKE_SERVER_SEED = bytes(range(140, 172))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def home(tmp_path: Path, clock: Clock) -> Path:
    tablet = offline_tablet(tmp_path / "tablet", clock)
    tablet.register_open(D("0.00"))
    tablet.step(WINCHING, "en_route")
    tablet.step(WINCHING, "on_site")
    tablet.collect(WINCHING, "card", "10.00", {"terminal_ref": "A1"})
    tablet.close()
    return tmp_path / "tablet"


def reopen(home: Path, clock: Clock) -> Tablet:
    return Tablet(Home(home), clock=clock)


def cli(home: Path, *args: str, **env: str):
    return CliRunner().invoke(field, [*args, "--home", str(home)], env=env or None)


# --- the key the server enrolled --------------------------------------------------------------


def test_a_key_swapped_and_the_journal_signed_again_is_caught_by_journal_verify(home):
    assert cli(home, "journal", "verify").exit_code == 0
    swap_key_and_resign(home, OTHER_SEED)

    result = cli(home, "journal", "verify", "--lang", "en")
    assert result.exit_code == 4, result.output
    assert "The key file (device-keys.json) holds another key" in result.output
    assert "signature" in result.output  # every entry: not signed with the enrolled key
    assert "Traceback" not in result.output


def test_deleting_the_enrolment_record_as_well_does_not_hide_the_swap(home):
    swap_key_and_resign(home, OTHER_SEED)
    sql(home, "DELETE FROM meta WHERE key IN ('device_public_key', 'enrolment_signature')")
    result = cli(home, "journal", "verify", "--lang", "en")
    assert result.exit_code == 4
    assert "No enrolment signed by the server is kept on this tablet" in result.output


def test_a_record_changed_without_the_servers_key_is_caught(home):
    sql(home, "DROP TRIGGER IF EXISTS journal_no_update")
    set_meta(home, "tenant_id", "another-company")
    result = cli(home, "journal", "verify", "--lang", "en")
    assert result.exit_code == 4
    assert "does not carry a valid signature of the server" in result.output


def test_offline_a_forged_server_key_and_record_go_unseen_a_documented_limit(home, clock):
    """Someone who can write every file can also replace the server's key kept on the
    tablet: offline nothing tells. The next sync does (tests/test_field_trust.py)."""
    new = swap_key_and_resign(home, OTHER_SEED)
    forge_enrolment(home, TENANT, DEVICE, new, FAKE_SERVER_SEED)
    assert cli(home, "journal", "verify").exit_code == 0


# --- what protects money, from the journal ----------------------------------------------------


def test_wiping_tables_does_not_reset_the_wrong_code_counter(home, clock):
    tablet = reopen(home, clock)
    for guess in ["0000000000", "1111111111", "2222222222", "3333333333", "4444444444"]:
        with pytest.raises(ApprovalRefused):
            tablet.discount(WINCHING, "20.00", guess)
    tablet.close()
    sql(
        home,
        "DELETE FROM approval_failures",
        "DELETE FROM money",
        "DELETE FROM mission_state",
        "DELETE FROM outbox",
        "DELETE FROM meta WHERE key LIKE 'pin_failures:%'",
    )
    tablet = reopen(home, clock)
    good = approval_code(WINCHING, Kind.DISCOUNT, "20.00", clock.now)
    with pytest.raises(ApprovalRefused) as locked:
        tablet.discount(WINCHING, "20.00", good)
    assert locked.value.reason.value == "locked"
    assert guards.approval_attempts(tablet.db).count(WINCHING) == 5
    refused = [r for r in tablet.ledger().rows() if r.type == "approval_refused"]
    assert [sorted(r.payload) for r in refused] == [["amount", "kind", "mission_id", "reason"]] * 5
    assert refused[0].payload["amount"] == "20.00" and refused[0].payload["kind"] == "discount"
    assert {r.payload["reason"] for r in refused} <= {"wrong_code", "unknown_key"}
    assert {r.driver_id for r in refused} == {"d1"}  # who typed them; not the codes
    tablet.close()


def test_the_offices_unlock_is_an_entry_too_and_forgets_the_missions_wrong_codes(home, clock):
    tablet = reopen(home, clock)
    with pytest.raises(ApprovalRefused):
        tablet.discount(WINCHING, "20.00", "0000000000")
    with pytest.raises(ApprovalRefused):
        tablet.discount("M-A-0003", "5.00", "1111111111")
    assert guards.approval_attempts(tablet.db).failures == (("M-A-0003", 1), (WINCHING, 1))
    decision = {"id": "dec_u1", "type": "unlock_approvals", "device_id": DEVICE}
    feed(
        tablet, [{"kind": "decision", "id": "dec_u1", "data": {**decision, "mission_id": WINCHING}}]
    )
    assert guards.approval_attempts(tablet.db).failures == (("M-A-0003", 1),)
    tablet.close()


def test_a_typo_or_an_expired_code_is_not_counted_and_writes_nothing(home, clock):
    tablet = reopen(home, clock)
    code = approval_code(WINCHING, Kind.DISCOUNT, "20.00", clock.now)
    clock.advance(minutes=45)
    before = len(list(tablet.ledger().rows()))
    for typed in ("ABC", code):
        with pytest.raises(ApprovalRefused):
            tablet.discount(WINCHING, "20.00", typed)
    assert len(list(tablet.ledger().rows())) == before
    tablet.close()


def test_wiping_the_money_rows_does_not_let_a_used_code_work_twice(home, clock):
    tablet = reopen(home, clock)
    code = approval_code(WINCHING, Kind.DISCOUNT, "20.00", clock.now)
    tablet.discount(WINCHING, "20.00", code)
    tablet.close()
    sql(home, "DELETE FROM money")
    tablet = reopen(home, clock)
    with pytest.raises(ApprovalRefused) as reused:
        tablet.discount(WINCHING, "20.00", code)
    assert reused.value.reason.value == "reused"
    assert [r.type for r in tablet.ledger().rows()].count("discount") == 1
    tablet.close()


def test_wiping_the_meta_table_does_not_reset_the_pin_lock(home, clock):
    tablet = reopen(home, clock)
    for _ in range(5):
        with pytest.raises(Refused, match="PIN"):
            tablet.login("d2", "0000")
    tablet.close()
    sql(home, "DELETE FROM meta WHERE key LIKE 'pin_failures:%'")
    tablet = reopen(home, clock)
    with pytest.raises(Refused, match="15 minutes"):
        tablet.login("d2", "2222")
    wrong = [r for r in tablet.ledger().rows() if r.type == "pin_refused"]
    assert [(r.driver_id, r.payload) for r in wrong] == [(None, {"driver": "d2"})] * 5
    clock.advance(minutes=16)
    assert tablet.login("d2", "2222").id == "d2"
    tablet.close()


# --- a sync that finds the journal broken ----------------------------------------------------


def test_a_sync_offline_with_a_missing_entry_exits_4_with_the_verify_sentence(home, clock):
    sql(home, "DROP TRIGGER journal_no_delete", "DELETE FROM outbox WHERE seq = 2",
        "DELETE FROM journal WHERE seq = 2")  # fmt: skip
    said = cli(home, "journal", "verify", "--lang", "en")
    assert said.exit_code == 4
    sentence = next(line for line in said.output.splitlines() if "no. 2" in line)

    result = cli(home, "sync", "--lang", "en", TOWLINE_SYNC_RETRIES="0")
    assert result.exit_code == 4, result.output  # not 5: the journal comes first
    assert sentence in result.output
    assert "The office will be told at the next sync that reaches the server." in result.output
    assert "Traceback" not in result.output
    tablet = reopen(home, clock)
    [kept] = integrity_report.pending(tablet.db)  # waits for the next contact
    assert any(f["seq"] == 2 for f in kept["findings"])
    tablet.close()


def test_the_same_problems_found_again_are_one_report(home, clock):
    sql(home, "DROP TRIGGER journal_no_delete", "DELETE FROM outbox WHERE seq = 3",
        "DELETE FROM journal WHERE seq = 3")  # fmt: skip
    for _ in range(2):
        assert cli(home, "sync", TOWLINE_SYNC_RETRIES="0").exit_code == 4
    tablet = reopen(home, clock)
    assert len(integrity_report.pending(tablet.db)) == 1
    tablet.close()


def test_journal_verify_names_an_entry_no_longer_waiting_to_be_sent(home, clock):
    sql(home, "DELETE FROM outbox")
    result = cli(home, "journal", "verify", "--lang", "en")
    assert result.exit_code == 4
    assert "no longer waiting to be sent (table outbox)" in result.output
    tablet = reopen(home, clock)
    assert [item.kind for item in verify(tablet).items] == ["outbox_missing"]
    tablet.close()


# --- the enrolment's bytes, as docs/journal.md gives them -----------------------------------


def test_the_enrolment_signature_matches_the_documented_bytes():
    device = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    server = signing.private_key_from_bytes(bytes(range(0x20, 0x40)))
    message = enrolment_message("acme", "tablet-0001", device)
    assert message == (
        b'towline/enrolment/v1\n{"device_id":"tablet-0001","device_public_key":"'
        + device.encode()
        + b'","tenant_id":"acme"}'
    )
    assert signing.public_key_to_bytes(server.public_key()).hex() == (
        "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7"
    )
    assert signing.sign(server, message).hex() == (
        "3510531b7869379cd2ee8fbff15133a98e2d9a2b624d62e5cc41419b88631eae"
        "39e3f31d0a258f88e4cb6eeaa73f06a03a540aa56f0e76d37ecb5ad40e10a80e"
    )


def test_a_damaged_key_file_exits_4_saying_which_file_never_a_traceback(home):
    keys = Home(home).keys
    keys.write_text('{"private_key": "not hex", "device_id": "x"}', "utf-8")
    for args in (
        ["journal", "verify"],
        ["sync"],
        ["collect", WINCHING, "--method", "card", "--amount", "1", "--terminal-ref", "A"],
    ):
        result = cli(home, *args, "--lang", "en", TOWLINE_SYNC_RETRIES="0")
        assert result.exit_code == 4, (args, result.output)
        assert "key file (device-keys.json) cannot be read" in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    keys.write_text("{ not json", "utf-8")
    result = cli(home, "journal", "verify", "--lang", "en")
    assert result.exit_code == 4 and "device-keys.json" in result.output


# --- the enrolment answer, checked before anything is kept --------------------------------


class _Answering(BaseAdapter):
    """A server that answers every request with one JSON body."""

    def __init__(self, body: dict[str, object]) -> None:
        super().__init__()
        self.body = body

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        response = requests.Response()
        response.status_code = 201
        response._content = json.dumps(self.body).encode("utf-8")
        response.request = request
        return response

    def close(self) -> None:
        pass


def _enrol_with(tmp_path: Path, body: dict[str, object]) -> tuple[Tablet, Exception]:
    http = requests.Session()
    http.mount("http://office.test", _Answering(body))
    tablet = Tablet(Home(tmp_path / "new"), clock=Clock())
    client = SyncClient("http://office.test", session=http, retries=0)
    with pytest.raises((IntegrityFailure, ServerRefused)) as caught:
        syncing.enroll(tablet, "http://office.test", "7KQ2-M9XD-4TBH", client=client)
    return tablet, caught.value


def test_an_enrolment_answer_the_servers_key_did_not_sign_is_not_kept(tmp_path):
    server = signing.private_key_from_bytes(FAKE_SERVER_SEED)
    body = {
        "device_id": "dev_new",
        "tenant_id": TENANT,
        "server_public_key": signing.public_key_to_bytes(server.public_key()).hex(),
        "enrolment_signature": signing.sign(server, b"something else").hex(),
        "approval_key": {"version": 1, "secret": "cd" * 32},
        "drivers": [],
    }
    tablet, error = _enrol_with(tmp_path, body)
    assert isinstance(error, IntegrityFailure) and exit_code(error) == 4
    assert "does not carry a valid signature" in error.message("en")
    assert not tablet.enrolled
    tablet.close()

    del body["enrolment_signature"]  # a server older than the signed enrolment
    tablet, error = _enrol_with(tmp_path, body)
    assert isinstance(error, ServerRefused) and error.code == "enrolment_unsigned"
    assert "Faites mettre le serveur à jour" in error.message()  # the client speaks French
    assert not tablet.enrolled
    tablet.close()

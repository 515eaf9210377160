"""Signed archives and the verifier, on SQLite and PostgreSQL: an archive of a closed
period verifies clean with public keys only, and each kind of tampering is found and
named with its place; the live database is verified the same way."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.office import archive, integrity
from server.platform.tables import journal_entries
from shared import archive_format as fmt
from shared import journal, signing
from shared.archive_format import Kind
from shared.canonical import canonical_json
from shared.errors import Refused
from tests.closing_support import FIRST_CLOSE, KEY, PDF, SERVER_HEX, TENANT, build
from tests.storage import engine  # noqa: F401 - the fixture

SERVER = "journals/server%3Aacme.jsonl"
DEV_A, DEV_B = "journals/dev_a.jsonl", "journals/dev_b.jsonl"
INVOICE_PDF = "documents/F2026-000001.pdf"
DAY_31 = f"{SERVER}, line 4 — chain server:acme no. 4 — day closing 2026-03-31"


@pytest.fixture
def closed(engine):  # noqa: F811
    world = build(engine)
    world.close(FIRST_CLOSE)
    return world


@pytest.fixture
def march(closed, tmp_path) -> Path:
    out = tmp_path / "acme-2026-03.zip"
    with closed.engine.connect() as conn:
        archive.export(conn, TENANT, "2026-03", key=KEY, out_path=out, now=FIRST_CLOSE)
    return out


def has_documents(engine) -> bool:  # noqa: F811
    with engine.connect() as conn:
        return archive.documents_table(conn) is not None


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def rewrite(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)


def lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def jsonl(rows: list[dict]) -> bytes:
    return b"".join(
        json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for r in rows
    )


def found(findings, lang: str = "en"):
    return {(f.kind.value, f.where.describe(lang)) for f in findings}


# --- the archive as written -----------------------------------------------------------------


def test_the_archive_of_a_closed_month_verifies_clean_with_the_trusted_public_key(
    closed,
    march,
):
    report = integrity.check_archive(march, trusted_server_key_hex=SERVER_HEX)
    assert report.findings == []
    assert (report.chains, report.entries, report.closings) == (3, 8, 3)
    assert report.documents == (1 if has_documents(closed.engine) else 0)
    assert integrity.verify_archive(march) == []  # self-consistent with the key it carries


def test_the_archive_holds_journals_from_genesis_closings_keys_and_a_signed_manifest(
    closed,
    march,
):
    files = members(march)
    names = set(files)
    assert {"manifest.json", "manifest.sig", "keys.json", "closings.jsonl"} <= names
    assert {DEV_A, DEV_B, SERVER} <= names
    manifest = json.loads(files["manifest.json"])
    assert files["manifest.json"] == canonical_json(manifest)
    assert (manifest["tenant"], manifest["period"], manifest["level"]) == (
        "acme",
        "2026-03",
        "month",
    )
    assert (manifest["starts_at"], manifest["ends_at"]) == (
        "2026-02-28T23:00:00.000000Z",
        "2026-03-31T22:00:00.000000Z",
    )
    assert manifest["server_public_key"] == SERVER_HEX
    # Tablets up to what March's closing covers; the server up to March's closings.
    assert [(h["device_id"], h["seq"]) for h in manifest["heads"]] == [
        ("dev_a", 2),
        ("dev_b", 1),
        ("server:acme", 5),
    ]
    listed = {f["path"]: f for f in manifest["files"]}
    assert set(listed) == names - {"manifest.json", "manifest.sig"}
    for path, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(files[path]).hexdigest()
        assert entry["size"] == len(files[path])
    signature = bytes.fromhex(files["manifest.sig"].decode().strip())
    public = signing.public_key_from_bytes(bytes.fromhex(SERVER_HEX))
    assert signing.verify(public, signature, fmt.SIGNATURE_PREFIX + files["manifest.json"])
    server = lines(files[SERVER])
    assert [(e["seq"], e["type"]) for e in server] == [
        (1, "invoice_issued"),
        (2, "credit_note_issued"),
        (3, "closing"),
        (4, "closing"),
        (5, "closing"),
    ]
    assert server[0]["received_at"] == "2026-03-31T08:00:00.000000Z"
    first = server[0].copy()
    del first["received_at"]
    assert journal.from_wire(first).hash == first["hash"]
    closings = lines(files["closings.jsonl"])
    assert [(c["seq"], c["closing"]["period"]) for c in closings] == [
        (3, "2026-03-30"),
        (4, "2026-03-31"),
        (5, "2026-03"),
    ]
    keys = json.loads(files["keys.json"])
    assert keys["server"]["public_key"] == SERVER_HEX
    assert [d["device_id"] for d in keys["devices"]] == ["dev_a", "dev_b"]
    assert keys["devices"][0]["public_key"] == closed.tablets["dev_a"].public_key.hex()
    if has_documents(closed.engine):
        assert files[INVOICE_PDF] == PDF
        fields = json.loads(files["documents/F2026-000001.json"])
        assert (fields["number"], fields["journal_seq"]) == ("F2026-000001", 1)
        assert fields["pdf_sha256"] == hashlib.sha256(PDF).hexdigest()
        assert "documents/A2026-000001.pdf" not in names  # issued in April


def test_a_period_not_closed_yet_is_not_archived(closed, tmp_path):
    with closed.engine.connect() as conn, pytest.raises(Refused) as refused:
        archive.export(conn, TENANT, "2026-04", key=KEY, out_path=tmp_path / "x.zip")
    assert "towline-server close" in refused.value.message("en")
    assert not (tmp_path / "x.zip").exists()


def test_a_day_archive_stops_at_that_day(closed, tmp_path):
    out = tmp_path / "day.zip"
    with closed.engine.connect() as conn:
        manifest = archive.export(conn, TENANT, "2026-03-30", key=KEY, out_path=out)
    assert [(h.device_id, h.seq) for h in manifest.heads] == [("dev_a", 2), ("server:acme", 3)]
    assert integrity.verify_archive(out, trusted_server_key_hex=SERVER_HEX) == []


# --- tampering, each found and named --------------------------------------------------------


def change_amount(files):
    files[DEV_B] = files[DEV_B].replace(b'"amount":"80.00"', b'"amount":"90.00"', 1)


def remove_file(files):
    del files[DEV_B]


def edit_manifest(files):
    manifest = json.loads(files["manifest.json"])
    manifest["created_at"] = "2026-04-03T09:00:00.000000Z"
    files["manifest.json"] = canonical_json(manifest)


def edit_closings_file(files):
    rows = lines(files["closings.jsonl"])
    rows[0]["closing"]["total"] = "190.00"  # same size: only the hash can tell
    files["closings.jsonl"] = jsonl(rows)


def replace_signature(files):
    rows = lines(files[DEV_A])
    rows[1]["sig"] = journal.append(
        journal.genesis("dev_a"),
        type=journal.EntryType.MISSION_STEP,
        at="2026-03-30T09:00:00.000Z",
        driver_id="d1",
        payload={},
        private_key=KEY,
    ).sig
    files[DEV_A] = jsonl(rows)


def change_pdf(files):
    files[INVOICE_PDF] = files[INVOICE_PDF].replace(b"F2026", b"F2027")


def add_file(files):
    files["documents/extra.txt"] = b"hello"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            change_amount,
            {
                ("file_hash", DEV_B),
                ("altered", f"{DEV_B}, line 1 — chain dev_b no. 1"),
                ("closing_differs", DAY_31),
            },
        ),
        (
            remove_file,
            {
                ("file_missing", DEV_B),
                ("head_mismatch", f"{DEV_B} — chain dev_b"),
                ("closing_differs", DAY_31),
            },
        ),
        (edit_manifest, {("manifest_signature", "manifest.sig")}),
        (
            edit_closings_file,
            {("file_hash", "closings.jsonl"), ("closings_file", "closings.jsonl, line 1")},
        ),
        (
            replace_signature,
            {("file_hash", DEV_A), ("bad_signature", f"{DEV_A}, line 2 — chain dev_a no. 2")},
        ),
        (
            add_file,
            {("file_extra", "documents/extra.txt"), ("document_differs", "documents/extra.txt")},
        ),
    ],
    ids=[
        "byte_in_a_journal_line",
        "file_removed",
        "manifest_edited",
        "closings_file_edited",
        "device_signature_replaced",
        "file_added",
    ],
)
def test_each_tampering_is_found_and_named(march, tamper, expected):
    files = members(march)
    tamper(files)
    rewrite(march, files)
    findings = integrity.verify_archive(march, trusted_server_key_hex=SERVER_HEX)
    assert found(findings) == expected


def test_a_changed_document_pdf_is_named_with_the_entry_that_issued_it(closed, march):
    if not has_documents(closed.engine):
        pytest.skip("no documents table in this schema")
    files = members(march)
    change_pdf(files)
    rewrite(march, files)
    findings = integrity.verify_archive(march, trusted_server_key_hex=SERVER_HEX)
    assert found(findings) == {
        ("file_hash", INVOICE_PDF),
        ("document_differs", f"{INVOICE_PDF} — document F2026-000001"),
    }
    [differs] = [f for f in findings if f.kind is Kind.DOCUMENT_DIFFERS]
    assert "entrée server:acme n° 1" in differs.message("fr")


def test_a_removed_document_pdf_is_missing_against_its_issuing_entry(closed, march):
    if not has_documents(closed.engine):
        pytest.skip("no documents table in this schema")
    files = members(march)
    del files[INVOICE_PDF]
    rewrite(march, files)
    kinds = {f.kind for f in integrity.verify_archive(march, trusted_server_key_hex=SERVER_HEX)}
    assert kinds == {Kind.FILE_MISSING, Kind.DOCUMENT_MISSING}


def resign_server_chain(files, change):
    """What an insider holding the server's private key could do: rewrite a closing entry,
    sign it and every later server entry again, and remake the manifest. Only the
    recomputation from the tablets' signed entries can tell."""
    rows = lines(files[SERVER])
    head = journal.genesis("server:acme")
    out = []
    for row in rows:
        received = row.pop("received_at")
        signed = journal.from_wire(row)
        payload = dict(json.loads(json.dumps(journal.to_wire(signed)["payload"])))
        change(signed.seq, payload)
        again = journal.append(
            head,
            type=signed.entry.type,
            at=signed.entry.at,
            driver_id=signed.entry.driver_id,
            payload=payload,
            private_key=KEY,
        )
        head = again.head
        out.append({**journal.to_wire(again), "received_at": received})
    files[SERVER] = jsonl(out)
    files["closings.jsonl"] = jsonl(
        [
            {"seq": r["seq"], "hash": r["hash"], "closing": r["payload"]}
            for r in out
            if r["type"] == "closing"
        ]
    )
    manifest = fmt.manifest_from_payload(json.loads(files["manifest.json"]))
    signed = ("manifest.json", "manifest.sig")
    listed = [fmt.describe(p, d) for p, d in sorted(files.items()) if p not in signed]
    manifest = fmt.Manifest(
        manifest.tenant_id,
        manifest.period,
        manifest.timezone,
        manifest.created_at,
        manifest.server_public_key,
        tuple(h if h.device_id != "server:acme" else head for h in manifest.heads),
        tuple(listed),
    )
    files["manifest.json"] = fmt.manifest_bytes(manifest)
    files["manifest.sig"] = fmt.sign(manifest, KEY).encode()


def test_a_closing_total_doctored_and_re_signed_with_the_server_key_is_named(march):
    def lower_the_first_day(seq, payload):
        if seq == 3:
            payload["total"] = "18.00"
            payload["by_method"]["cash"] = "-42.00"

    files = members(march)
    resign_server_chain(files, lower_the_first_day)
    rewrite(march, files)
    findings = integrity.verify_archive(march, trusted_server_key_hex=SERVER_HEX)
    by_period = {(f.where.level, f.where.period): f for f in findings}
    assert set(by_period) == {("day", "2026-03-30"), ("day", "2026-03-31"), ("month", "2026-03")}
    doctored = by_period["day", "2026-03-30"]
    assert doctored.kind is Kind.CLOSING_DIFFERS
    assert doctored.where.chain == "server:acme" and doctored.where.seq == 3
    assert 'total: "18.00" ≠ "180.00"' in doctored.message("en")
    assert 'total : "18.00" ≠ "180.00"' in doctored.message("fr")
    assert 'by_method: {"card":"60.00","cash":"-42.00"} ≠ {"card":"60.00","cash":"120.00"}' in (
        doctored.message("en")
    )
    assert by_period["day", "2026-03-31"].kind is Kind.CLOSING_CHAIN  # chained to the original
    assert "closing of 2026-03-30 as it is stored" in by_period["day", "2026-03-31"].message("en")
    assert by_period["month", "2026-03"].kind is Kind.CLOSING_DIFFERS  # no longer Σ its days
    assert doctored.message("fr").startswith(
        f"{SERVER}, ligne 3 — chaîne server:acme n° 3 — clôture journalière 2026-03-30 : "
    )


def test_another_server_key_is_not_trusted(march):
    other = signing.public_key_to_bytes(
        signing.public_key_of(signing.private_key_from_bytes(bytes(32)))
    ).hex()
    findings = integrity.verify_archive(march, trusted_server_key_hex=other)
    kinds = {f.kind for f in findings}
    assert {Kind.UNTRUSTED_KEY, Kind.MANIFEST_SIGNATURE, Kind.BAD_SIGNATURE} <= kinds
    assert {f.where.chain for f in findings if f.kind is Kind.BAD_SIGNATURE} == {"server:acme"}


def test_a_file_that_is_not_an_archive_is_one_finding(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    [finding] = integrity.verify_archive(junk)
    assert finding.kind is Kind.ARCHIVE_UNREADABLE and finding.where.file == "junk.zip"


# --- the live database ----------------------------------------------------------------------


def test_the_live_database_verifies_clean_with_public_keys_only(closed):
    public = signing.public_key_of(KEY)
    with closed.engine.connect() as conn:
        report = integrity.check_live(conn, TENANT, public)
    assert report.findings == []
    assert (report.chains, report.entries, report.closings) == (3, 4 + 1 + 7, 5)


def test_an_entry_altered_in_the_database_is_named_with_its_chain_and_closing(closed):
    with closed.engine.begin() as conn:
        body = conn.execute(
            sa.select(journal_entries.c.body).where(
                journal_entries.c.device_id == "dev_b", journal_entries.c.seq == 1
            )
        ).scalar_one()
        conn.execute(
            sa.update(journal_entries)
            .where(journal_entries.c.device_id == "dev_b", journal_entries.c.seq == 1)
            .values(body=body.replace('"80.00"', '"8.00"'))
        )
    with closed.engine.connect() as conn:
        findings = integrity.verify_live(conn, TENANT, SERVER_HEX)
    assert found(findings) == {
        ("altered", "chain dev_b no. 1"),
        ("closing_differs", "chain server:acme no. 4 — day closing 2026-03-31"),
    }
    [differs] = [f for f in findings if f.kind is Kind.CLOSING_DIFFERS]
    assert 'total: "80.00" ≠ "8.00"' in differs.message("en")


def test_a_reception_time_moved_in_the_database_changes_two_closings(closed):
    with closed.engine.begin() as conn:
        conn.execute(
            sa.update(journal_entries)
            .where(journal_entries.c.device_id == "dev_b", journal_entries.c.seq == 1)
            .values(received_at=FIRST_CLOSE.replace(month=3, day=30, hour=9))
        )
    with closed.engine.connect() as conn:
        findings = integrity.verify_live(conn, TENANT, SERVER_HEX)
    assert {(f.kind.value, f.where.level, f.where.period) for f in findings} == {
        ("closing_differs", "day", "2026-03-30"),
        ("closing_differs", "day", "2026-03-31"),
    }


def test_a_deleted_server_entry_and_an_edited_column_are_found(closed):
    with closed.engine.begin() as conn:
        conn.execute(
            sa.delete(journal_entries).where(
                journal_entries.c.device_id == "server:acme", journal_entries.c.seq == 7
            )
        )
        conn.execute(
            sa.update(journal_entries)
            .where(journal_entries.c.device_id == "dev_a", journal_entries.c.seq == 3)
            .values(type="mission_step")
        )
    with closed.engine.connect() as conn:
        findings = integrity.verify_live(conn, TENANT, SERVER_HEX)
    assert ("truncated", "chain server:acme no. 7") in found(findings)
    assert ("row_mismatch", "chain dev_a no. 3") in found(findings)


def test_a_device_head_beyond_what_is_stored_is_truncation(closed):
    from server.platform.tables import devices

    with closed.engine.begin() as conn:
        conn.execute(
            sa.delete(journal_entries).where(
                journal_entries.c.device_id == "dev_a", journal_entries.c.seq == 4
            )
        )
    with closed.engine.connect() as conn:
        head = conn.execute(sa.select(devices.c.head_seq).where(devices.c.id == "dev_a"))
        assert head.scalar_one() == 4
        findings = integrity.verify_live(conn, TENANT, SERVER_HEX)
    assert ("truncated", "chain dev_a no. 4") in found(findings)


def test_a_document_pdf_changed_in_the_database_is_named(closed):
    with closed.engine.connect() as conn:
        table = archive.documents_table(conn)
    if table is None:
        pytest.skip("no documents table in this schema")
    with closed.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE documents DISABLE TRIGGER USER")
        else:
            for (name,) in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'documents'"
            ):
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
        conn.execute(
            sa.update(table).where(table.c.number == "F2026-000001").values(pdf=b"%PDF forged")
        )
    with closed.engine.connect() as conn:
        findings = integrity.verify_live(conn, TENANT, SERVER_HEX)
    assert found(findings) == {("document_differs", "document F2026-000001")}


def test_the_verifier_never_reads_a_private_key(closed, monkeypatch):
    def refuse(*args, **kwargs):  # pragma: no cover - failing is the point
        raise AssertionError("a private key was read")

    monkeypatch.setattr(signing, "private_key_from_bytes", refuse)
    with closed.engine.connect() as conn:
        assert integrity.verify_live(conn, TENANT, SERVER_HEX) == []


# --- the command lines ----------------------------------------------------------------------


def test_archive_and_verify_commands_with_exit_codes(closed, tmp_path, monkeypatch):
    if closed.engine.dialect.name != "sqlite":
        pytest.skip("the command line is the same on both databases")
    from server.cli.main import main  # first: it loads its command modules

    var = tmp_path / "var"
    var.mkdir()
    (var / "server_ed25519.key").write_bytes(bytes(range(1, 33)))
    url = closed.engine.url.render_as_string(hide_password=False)
    common = ["--database", url, "--var-dir", str(var)]
    runner = CliRunner()
    out = tmp_path / "a.zip"
    made = runner.invoke(main, ["archive", "acme", "2026-03", "--out", str(out), *common])
    assert made.exit_code == 0, made.output
    assert "Archive de acme, le mois 2026-03" in made.output and SERVER_HEX in made.output
    clean = runner.invoke(main, ["verify", "--archive", str(out), "--server-key", SERVER_HEX])
    assert clean.exit_code == 0, clean.output
    assert "(3 chaînes, 8 entrées, 3 clôtures recalculées, 1 document) : aucune anomalie." in (
        clean.output
    )
    live = runner.invoke(main, ["verify", "acme", *common, "--json"])
    assert live.exit_code == 0, live.output
    assert json.loads(live.output)["checked"]["closings"] == 5
    files = members(out)
    change_amount(files)
    rewrite(out, files)
    bad = runner.invoke(
        main, ["verify", "--archive", str(out), "--server-key", SERVER_HEX, "--lang", "en"]
    )
    assert bad.exit_code == 4
    assert f"- {DEV_B}, line 1 — chain dev_b no. 1: Entry no. 1 was changed" in bad.output
    assert "(3 chains, 8 entries, 3 closings recomputed, 1 document): 3 findings." in bad.output
    as_json = json.loads(runner.invoke(main, ["verify", "--archive", str(out), "--json"]).output)
    assert as_json["clean"] is False
    assert {f["kind"] for f in as_json["findings"]} == {"file_hash", "altered", "closing_differs"}
    assert runner.invoke(main, ["verify"]).exit_code == 2
    assert runner.invoke(main, ["verify", "--archive", str(tmp_path / "none.zip")]).exit_code == 2
    assert runner.invoke(main, ["verify", "acme", *common, "--server-key", "xyz"]).exit_code == 2
    assert runner.invoke(main, ["verify", "nobody", *common]).exit_code == 3
    assert runner.invoke(main, ["archive", "acme", "March", "--out", "x", *common]).exit_code == 2
    assert runner.invoke(main, ["archive", "acme", "2026-05", "--out", "x", *common]).exit_code == 3

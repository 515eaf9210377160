"""Signed archives of a closed period (docs/archives.md): one zip file an auditor can
verify with public keys only (`towline-server verify --archive`, server/office/integrity.py).

    manifest.json            every file with its sha256 and size, the period, the tenant,
                             the creation time, the head of every chain
    manifest.sig             Ed25519 signature of the server (shared.archive_format)
    keys.json                the server's public key and every tablet's of the tenant
    journals/<chain>.jsonl   every chain of the tenant from its first entry to the period's
                             end: the wire form of each entry plus `received_at`
    closings.jsonl           every closing of the tenant up to the period's end
    documents/<number>.*     the invoices and credit notes issued in the period: their
                             PDF, Factur-X PDF and stored fields

Journals start at each chain's first entry, so an archive stands alone: every hash, link
and signature and every closing since the first can be checked from it, with no earlier
archive. The server chain goes on to the closings of the period, which are written after
the period ends.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from server.office import closing, document_files, office_journal
from server.platform.tables import devices, journal_entries, metadata
from shared import archive_format as fmt
from shared import signing
from shared.closings import Level, Period
from shared.errors import Refused
from shared.journal import Head

DOCUMENTS_TABLE = "documents"
ISSUING_TYPES = tuple(closing.ISSUED)
# Blob columns of `documents` and the file each becomes (others: <number>.<column>.bin).
BLOB_FILES = {"pdf": ".pdf", "facturx": ".facturx.pdf"}


def export(
    conn: sa.Connection,
    tenant_id: str,
    period: str | Period,
    *,
    key: signing.PrivateKey,
    out_path: Path,
    now: datetime | None = None,
    rendered_only: bool = False,
) -> fmt.Manifest:
    """Write the archive of a closed `period` ("2026-03-10", "2026-03" or "2026") to
    `out_path` (written aside, then moved into place) and return its manifest.

    Refused if the period is not closed yet (`towline-server close` first), and, with
    `rendered_only`, while a document of the period still waits for its PDF.
    """
    wanted = Period.parse(period) if isinstance(period, str) else period
    stored = closing.stored_closings(conn, tenant_id)
    own = [
        s
        for s in stored
        if (s.payload.get("period"), s.payload.get("level")) == (wanted.key, wanted.level.value)
    ]
    if not own:
        raise Refused(
            f"{wanted.label('fr').capitalize()} n'est pas clôturée pour {tenant_id} : "
            "lancez « towline-server close » d'abord.",
            f"{wanted.label('en').capitalize()} is not closed for {tenant_id}: run "
            "`towline-server close` first.",
        )
    period_closing = closing.TenantClosing.from_payload(own[-1].payload)
    timezone = period_closing.closing.timezone
    cutoff = wanted.ends_at(timezone)
    covered = [
        s for s in stored if Period.parse(str(s.payload["period"])).ends_at(timezone) <= cutoff
    ]
    server_chain = office_journal.chain_id(tenant_id)
    # Each chain up to the position the period's closing covers; the server's up to the
    # last closing of the period too (closings are written after the period ends).
    last: dict[str, int] = {h.device_id: h.seq for h in period_closing.closing.heads}
    last[server_chain] = max(last.get(server_chain, 0), max(s.seq for s in covered))

    files: dict[str, bytes] = {}
    heads: list[Head] = []
    issuing: list[tuple[str, datetime]] = []  # (number, received_at) of documents issued
    for chain in sorted(last):
        lines, head, issued = _journal(conn, tenant_id, chain, last[chain])
        if head is not None:
            files[fmt.journal_path(chain)] = lines
            heads.append(head)
        if chain == server_chain:
            issuing = issued
    files[fmt.CLOSINGS_FILE] = b"".join(
        _line({"seq": s.seq, "hash": s.hash, "closing": dict(s.payload)}) for s in covered
    )
    public_hex = signing.public_key_to_bytes(signing.public_key_of(key)).hex()
    files[fmt.KEYS_FILE] = _keys(conn, tenant_id, public_hex)
    start = wanted.starts_at(timezone)
    numbers = sorted({n for n, at in issuing if start <= at < cutoff})
    documents_files = _documents(conn, tenant_id, numbers)
    if rendered_only:
        waiting = [n for n in numbers if blob_path(n, "pdf") not in documents_files]
        if waiting:
            raise Refused(
                f"{len(waiting)} document(s) de {wanted.label('fr')} attendent leur PDF "
                f"({waiting[0]}…) : l'archive attend qu'ils soient rendus.",
                f"{len(waiting)} document(s) of {wanted.label('en')} still wait for their PDF "
                f"({waiting[0]}…): the archive waits until they are rendered.",
            )
    files.update(documents_files)

    manifest = fmt.Manifest(
        tenant_id=tenant_id,
        period=wanted,
        timezone=timezone,
        created_at=now or datetime.now(UTC),
        server_public_key=public_hex,
        heads=tuple(heads),
        files=tuple(fmt.describe(path, data) for path, data in sorted(files.items())),
    )
    files[fmt.MANIFEST_FILE] = fmt.manifest_bytes(manifest)
    files[fmt.SIGNATURE_FILE] = (fmt.sign(manifest, key) + "\n").encode("ascii")
    _write_zip(out_path, files, manifest.created_at)
    return manifest


def archive_path(root: Path, tenant_id: str, period: Period) -> Path:
    """Where the scheduled job keeps a period's archive: `<root>/<tenant>/<tenant>-<period>.zip`."""
    return root / tenant_id / f"{tenant_id}-{period.key}.zip"


def archive_closed(
    conn: sa.Connection, tenant_id: str, *, key: signing.PrivateKey, root: Path, now: datetime
) -> list[Path]:
    """Write the archive of every closed month and year of the tenant that has none yet
    under `root` (docs/archives.md "Made every month"), oldest first, and return their
    paths. A period whose documents still wait for their PDF is refused (Refused): the
    next run writes it, and the ones after it."""
    closed = {
        Period.parse(str(s.payload["period"]))
        for s in closing.stored_closings(conn, tenant_id)
        if s.payload.get("level") in (Level.MONTH.value, Level.YEAR.value)
    }
    made = []
    for period in sorted(closed, key=lambda p: (p.last, p.level is Level.YEAR)):
        path = archive_path(root, tenant_id, period)
        if not path.exists():
            export(conn, tenant_id, period, key=key, out_path=path, now=now, rendered_only=True)
            made.append(path)
    return made


def _line(value: Any) -> bytes:
    """One JSON Lines line: canonical JSON (sorted keys, no spaces, UTF-8) and a newline."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


def _journal(
    conn: sa.Connection, tenant_id: str, chain: str, through: int
) -> tuple[bytes, Head | None, list[tuple[str, datetime]]]:
    """A chain's entries 1..through as stored (not re-checked: the verifier says what is
    wrong), each line the entry's wire form plus `received_at`."""
    rows = conn.execute(
        sa.select(
            journal_entries.c.seq,
            journal_entries.c.type,
            journal_entries.c.body,
            journal_entries.c.hash,
            journal_entries.c.sig,
            journal_entries.c.received_at,
        )
        .where(
            journal_entries.c.device_id == chain,
            journal_entries.c.tenant_id == tenant_id,
            journal_entries.c.seq <= through,
        )
        .order_by(journal_entries.c.seq)
    )
    out = io.BytesIO()
    head = None
    issued = []
    for row in rows:
        data = json.loads(row.body)
        data.update(hash=row.hash, sig=row.sig, received_at=fmt.utc_text(row.received_at))
        out.write(_line(data))
        head = Head(chain, int(row.seq), row.hash)
        if row.type in ISSUING_TYPES:
            number = data.get("payload", {}).get("number")
            if isinstance(number, str):
                issued.append((number, row.received_at))
    return out.getvalue(), head, issued


def _keys(conn: sa.Connection, tenant_id: str, server_hex: str) -> bytes:
    rows = conn.execute(
        sa.select(
            devices.c.id,
            devices.c.public_key,
            devices.c.label,
            devices.c.enrolled_at,
            devices.c.revoked_at,
        )
        .where(devices.c.tenant_id == tenant_id)
        .order_by(devices.c.id)
    )
    keys = {
        "server": {"chain": office_journal.chain_id(tenant_id), "public_key": server_hex},
        "devices": [
            {
                "device_id": row.id,
                "public_key": row.public_key,
                "label": row.label,
                "enrolled_at": fmt.utc_text(row.enrolled_at),
                "revoked_at": fmt.utc_text(row.revoked_at) if row.revoked_at else None,
            }
            for row in rows
        ],
    }
    return json.dumps(keys, sort_keys=True, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def documents_table(conn: sa.Connection) -> sa.Table | None:
    """The `documents` table if this database has one (the invoicing module's), else None:
    archives and verification work with or without it."""
    if not sa.inspect(conn).has_table(DOCUMENTS_TABLE):
        return None
    table = metadata.tables.get(DOCUMENTS_TABLE)
    if table is None:
        table = sa.Table(DOCUMENTS_TABLE, sa.MetaData(), autoload_with=conn)
    if "tenant_id" not in table.c or "number" not in table.c:
        return None
    return table


def rendered_files(
    conn: sa.Connection, tenant_id: str, numbers: list[str]
) -> dict[str, dict[str, bytes | None]]:
    """The files of documents rendered after their issue (server.office.document_files), by
    number then blob column; a document issued before that keeps them in its own row."""
    if not sa.inspect(conn).has_table("document_files"):
        return {}
    made = document_files.files(conn, tenant_id, numbers)
    return {number: {"pdf": f.pdf, "facturx": f.facturx} for number, f in made.items()}


def blob_columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.c if isinstance(c.type, sa.LargeBinary)]


def blob_path(number: str, column: str) -> str:
    suffix = BLOB_FILES.get(column, f".{column}.bin")
    return f"{fmt.DOCUMENTS_DIR}{fmt.safe_name(number)}{suffix}"


def fields_path(number: str) -> str:
    return f"{fmt.DOCUMENTS_DIR}{fmt.safe_name(number)}.json"


def _documents(conn: sa.Connection, tenant_id: str, numbers: list[str]) -> dict[str, bytes]:
    table = documents_table(conn)
    if table is None or not numbers:
        return {}
    blobs = blob_columns(table)
    files: dict[str, bytes] = {}
    made = rendered_files(conn, tenant_id, numbers)
    rows = conn.execute(
        sa.select(table).where(table.c.tenant_id == tenant_id, table.c.number.in_(numbers))
    ).mappings()
    for row in rows:
        number = str(row["number"])
        fields = {name: _plain(value) for name, value in row.items() if name not in blobs}
        for column in blobs:
            data = made[number].get(column) if number in made else row[column]
            if not data:  # none, or the empty PDF of a document still being rendered
                continue
            files[blob_path(number, column)] = bytes(data)
            fields[f"{column}_sha256"] = hashlib.sha256(bytes(data)).hexdigest()
        files[fields_path(number)] = (
            json.dumps(fields, sort_keys=True, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        )
    return files


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return fmt.utc_text(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _write_zip(out_path: Path, files: Mapping[str, bytes], created: datetime) -> None:
    """The files in a fixed order with a fixed date, written aside then moved into place:
    a reader never sees half an archive."""
    stamp = created.astimezone(UTC)
    when = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    order = [p for p in sorted(files) if p not in (fmt.MANIFEST_FILE, fmt.SIGNATURE_FILE)]
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in [fmt.MANIFEST_FILE, fmt.SIGNATURE_FILE, *order]:
            info = zipfile.ZipInfo(path, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[path])
    os.replace(partial, out_path)

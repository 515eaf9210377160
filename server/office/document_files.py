"""An issued document's files, made after the issuing transaction (docs/invoicing.md "Files").

Issuing (server.office.invoicing) numbers the document, signs it into the server journal
and stores its row, in the caller's transaction, without rendering anything: the number
row's lock is held for the few statements that follow, not for a PDF. It also enqueues a
`render_document` job (server.platform.jobs) with what the PDF shows as of the issue
(`draft`), and the job, once the transaction has committed:

- renders the PDF (fpdf2) and, for an ordering party, the Factur-X PDF;
- in one short transaction: appends a `document_rendered` entry to the server journal
  with both files' sha256 (what the integrity check holds the files to), stores them in
  `document_files` (never updated nor deleted) and marks the job done.

A document is not shown (API, desk, command line) until its files exist: `require_ready`
refuses with 409 `document_being_prepared` and a Retry-After. A render that keeps
failing is tried `MAX_ATTEMPTS` times, then becomes a `document_render_failed` anomaly.

Documents issued before migration 0006 kept their files in the `documents` row; `files`
reads both places.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from server.office import invoice_render, office_journal
from server.office.anomalies import open_anomaly
from server.platform import jobs
from server.platform.db import reading
from server.platform.errors import Conflict
from server.platform.tables import document_files, documents
from shared.journal import EntryType

RENDER = "render_document"
MAX_ATTEMPTS = 5
RETRY_AFTER_SECONDS = 2
_DATES = ("service_date", "issue_date", "corrects_issue_date")


@dataclass(frozen=True, slots=True)
class Files:
    pdf: bytes
    facturx: bytes | None
    pdf_sha256: str
    facturx_sha256: str | None


def being_prepared(number: str) -> Conflict:
    return Conflict(
        f"Le document {number} est émis (son numéro est pris) ; son PDF est en cours de "
        f"préparation : réessayez dans quelques secondes.",
        f"Document {number} is issued (its number is taken); its PDF is being prepared: "
        "try again in a few seconds.",
        code="document_being_prepared",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# --- asking for them --------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def ask(conn: sa.Connection, tenant_id: str, document: Mapping[str, Any], now: datetime) -> None:
    """In the issuing transaction: the job that will render `document` (what the PDF
    shows, as `invoice_render.pdf` takes it) once the transaction has committed."""
    draft = json.loads(json.dumps(dict(document), default=_plain))
    jobs.enqueue(
        conn,
        RENDER,
        f"{tenant_id}:{document['number']}",
        {"number": document["number"], "document": draft},
        now=now,
        tenant_id=tenant_id,
    )


def _document(draft: Mapping[str, Any]) -> dict[str, Any]:
    document = dict(draft)
    for name in _DATES:
        if isinstance(document.get(name), str):
            document[name] = date.fromisoformat(document[name])
    document["issued_at"] = datetime.fromisoformat(document["issued_at"])
    return document


# --- the job ------------------------------------------------------------------------


def render(context: jobs.Context, job: jobs.Job) -> None:
    """Render the document's files and store them, signed into the server journal."""
    tenant_id, number = str(job.tenant_id), str(job.payload["number"])
    with reading(context.engine).connect() as conn:
        if files(conn, tenant_id, [number]):
            return  # another worker finished it: nothing to redo
    document = _document(job.payload["document"])
    pdf = invoice_render.pdf(document)  # the slow part, outside any transaction
    facturx = None
    if document["recipient_kind"] == "ordering_party":
        facturx = invoice_render.facturx_pdf(pdf, document)
    now = context.clock()
    with context.engine.begin() as conn:
        locked = conn.execute(
            sa.select(documents.c.number)
            .where(documents.c.tenant_id == tenant_id, documents.c.number == number)
            .with_for_update()
        ).first()
        if locked is None or files(conn, tenant_id, [number]):
            jobs.complete(conn, job, now)
            return
        if not jobs.complete(conn, job, now):
            return  # another worker took the job over (nothing written yet): it stores them
        payload: dict[str, Any] = {"number": number, "pdf_sha256": _sha256(pdf)}
        if facturx is not None:
            payload["facturx_sha256"] = _sha256(facturx)
        signed = office_journal.append(
            conn,
            tenant_id,
            EntryType.DOCUMENT_RENDERED,
            payload,
            key=context.server_key(),
            actor="system",
            now=now,
            mission_id=document.get("mission_id"),
        )
        conn.execute(
            sa.insert(document_files).values(
                tenant_id=tenant_id,
                number=number,
                pdf=pdf,
                facturx=facturx,
                pdf_sha256=payload["pdf_sha256"],
                facturx_sha256=payload.get("facturx_sha256"),
                journal_seq=signed.entry.seq,
                rendered_at=now,
            )
        )


def give_up(conn: sa.Connection, job: jobs.Job, error: str, now: datetime) -> None:
    """After `MAX_ATTEMPTS`: an anomaly for the office, which can ask again
    (`towline-server documents render`)."""
    document = job.payload.get("document") or {}
    open_anomaly(
        conn,
        tenant_id=str(job.tenant_id),
        kind="document_render_failed",
        detail={
            "number": job.payload.get("number"),
            "attempts": job.attempts,
            "error": error[:500],
            "fr": "Le PDF du document n'a pas pu être fabriqué après plusieurs essais.",
            "en": "The document's PDF could not be made after several attempts.",
        },
        now=now,
        mission_id=document.get("mission_id"),
        subject=str(job.payload.get("number")),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- reading them -------------------------------------------------------------------


def files(conn: sa.Connection, tenant_id: str, numbers: Sequence[str]) -> dict[str, Files]:
    """The files of those documents that have them, by number (new table first, then the
    `documents` columns of documents issued before migration 0006)."""
    if not numbers:
        return {}
    found: dict[str, Files] = {}
    for row in conn.execute(
        sa.select(document_files).where(
            document_files.c.tenant_id == tenant_id, document_files.c.number.in_(list(numbers))
        )
    ):
        found[row.number] = Files(
            bytes(row.pdf),
            None if row.facturx is None else bytes(row.facturx),
            row.pdf_sha256,
            row.facturx_sha256,
        )
    rest = [n for n in numbers if n not in found]
    if rest:
        for row in conn.execute(
            sa.select(documents.c.number, documents.c.pdf, documents.c.facturx).where(
                documents.c.tenant_id == tenant_id,
                documents.c.number.in_(rest),
                sa.func.length(documents.c.pdf) > 0,
            )
        ):
            facturx = None if row.facturx is None else bytes(row.facturx)
            found[row.number] = Files(
                bytes(row.pdf),
                facturx,
                _sha256(bytes(row.pdf)),
                None if facturx is None else _sha256(facturx),
            )
    return found


def require_ready(conn: sa.Connection, tenant_id: str, number: str) -> Files:
    """The document's files, or 409 `document_being_prepared` (with Retry-After)."""
    found = files(conn, tenant_id, [number]).get(number)
    if found is None:
        raise being_prepared(number)
    return found


def ready_clause() -> Any:
    """A WHERE clause for a query on `documents`: the document has its files."""
    rendered = sa.exists().where(
        document_files.c.tenant_id == documents.c.tenant_id,
        document_files.c.number == documents.c.number,
    )
    return sa.or_(rendered, sa.func.length(documents.c.pdf) > 0)


def is_ready(conn: sa.Connection, tenant_id: str, number: str) -> bool:
    """Whether the document's files are made (without reading them)."""
    found = conn.execute(
        sa.select(documents.c.number).where(
            documents.c.tenant_id == tenant_id, documents.c.number == number, ready_clause()
        )
    ).first()
    return found is not None


def render_again(conn: sa.Connection, tenant_id: str, number: str, now: datetime) -> bool:
    """Ask again for a document whose rendering gave up; False if it has its files or a
    job under way."""
    if files(conn, tenant_id, [number]):
        return False
    return jobs.retry(conn, RENDER, f"{tenant_id}:{number}", now)

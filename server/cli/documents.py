"""`towline-server documents …`: invoices, credit notes and the seller's identity from
the command line (docs/invoicing.md, docs/cli.md).

Exit codes as every server command: 0 done; 2 bad input (an amount, a SIRET or VAT
number that does not check out…); 3 refused (unknown tenant, mission or document, no
seller identity, a credit note beyond what remains…).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from server.cli import common
from server.cli.common import db_option, json_option, lang_option, var_option


def _money(amount: str, lang: str) -> str:
    from shared.money import format_amount, parse_amount

    return format_amount(parse_amount(amount), lang)


def _zone(database_url: str, tenant_id: str) -> Any:
    from server.cli.local_times import zone_of

    return zone_of(common.engine(database_url), tenant_id)


def _summary(doc: dict[str, Any], lang: str, zone: Any) -> str:
    """One line per document; its issue day is the tenant's (`zone`), as on the PDF."""
    from server.people.tenant_time import day_words, local_day

    kinds = {
        "fr": {"invoice": "facture", "credit_note": "avoir"},
        "en": {"invoice": "invoice", "credit_note": "credit note"},
    }
    what = kinds[lang][doc["kind"]]
    text = (
        f"{doc['number']:<14} {what:<11} "
        f"{day_words(local_day(datetime.fromisoformat(doc['issued_at']), zone), lang):<11}  "
        f"{doc['mission_id']:<12} "
        f"{doc['recipient']['name']:<28} {_money(doc['total']['incl_vat'], lang):>12}"
    )
    if doc.get("corrects"):
        text += f"  → {doc['corrects']}"
    return text


@click.group()
def documents() -> None:
    """Invoices and credit notes: issue, list, show, export, credit; the seller's identity.

    \b
    Example:
      towline-server documents list acme --mission M-A-0003
    """


@documents.command("list")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--mission", "mission_id", default=None, help="Only this mission's documents.")
@click.option("--kind", type=click.Choice(["invoice", "credit_note"]), default=None)
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@db_option
@json_option
@lang_option
def documents_list(
    tenant_id: str,
    mission_id: str | None,
    kind: str | None,
    limit: int,
    database_url: str,
    as_json: bool,
    lang: str | None,
) -> None:
    """List a tenant's invoices and credit notes in the order they were issued (those
    whose PDF is made: one being prepared is listed a moment later).

    \b
    Example:
      towline-server documents list acme --mission M-A-0003 --json

    Exit codes: 0 listed; 3 unknown tenant.
    """
    from server.office.issued_documents import list_documents
    from server.platform.db import reading

    chosen = common.lang(lang)

    def work() -> Any:
        with reading(common.engine(database_url)).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return list_documents(
                conn, tenant_id, mission_id=mission_id, kind=kind, limit=limit, ready_only=True
            )

    found = common.run(chosen, work)
    zone = _zone(database_url, tenant_id)
    common.emit(found, as_json, "\n".join(_summary(d, chosen, zone) for d in found))


@documents.command("show")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("number")
@db_option
@json_option
@lang_option
def documents_show(
    tenant_id: str, number: str, database_url: str, as_json: bool, lang: str | None
) -> None:
    """Show one document: lines, VAT per rate, totals; a beneficiary's invoice with what
    was paid and what is open.

    \b
    Example:
      towline-server documents show acme F2026-000001

    Exit codes: 0 shown; 3 unknown tenant or document, or its PDF still being prepared.
    """
    from server.office.issued_documents import shown
    from server.platform.db import reading

    chosen = common.lang(lang)

    def work() -> Any:
        with reading(common.engine(database_url)).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return shown(conn, tenant_id, number)

    doc = common.run(chosen, work)
    fr = chosen == "fr"
    lines = [_summary(doc, chosen, _zone(database_url, tenant_id)), ""]
    for item in doc["lines"]:
        lines.append(
            f"  {item['code']:<10} {item['label'][chosen][:44]:<44} "
            f"{_money(item['excl_vat'], chosen):>12} {item['rate']:>5} %"
        )
    lines.append("")
    for row in doc["by_rate"]:
        lines.append(
            f"  {'TVA' if fr else 'VAT'} {row['rate']} %: "
            f"{'HT' if fr else 'excl.'} {_money(row['excl_vat'], chosen)}  "
            f"{'TVA' if fr else 'VAT'} {_money(row['vat'], chosen)}  "
            f"{'TTC' if fr else 'incl.'} {_money(row['incl_vat'], chosen)}"
        )
    if doc.get("corrects"):
        lines.append(("  Corrige : " if fr else "  Corrects: ") + str(doc["corrects"]))
        lines.append(("  Motif : " if fr else "  Reason: ") + str(doc["reason"]))
    balance = doc.get("balance")
    if balance:
        lines.append(
            ("  Réglé : " if fr else "  Paid: ")
            + _money(balance["paid"], chosen)
            + ("  reste : " if fr else "  open: ")
            + _money(balance["open"], chosen)
            + f"  ({balance['status']})"
        )
    common.emit(doc, as_json, "\n".join(lines))


@documents.command("pdf")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("number")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, writable=True),
    help="The file to write.",
)
@click.option("--facturx", is_flag=True, help="The Factur-X PDF (ordering parties' documents).")
@db_option
@lang_option
def documents_pdf(
    tenant_id: str, number: str, out: Path, facturx: bool, database_url: str, lang: str | None
) -> None:
    """Write a document's PDF (or its Factur-X PDF) to a file, as it was issued.

    \b
    Example:
      towline-server documents pdf acme F2026-000001 --out F2026-000001.pdf --facturx

    Exit codes: 0 written; 3 unknown tenant or document, no Factur-X version, or the PDF
    still being prepared (try again in a few seconds).
    """
    from server.office.issued_documents import document_file
    from server.platform.db import reading

    chosen = common.lang(lang)

    def work() -> bytes:
        with reading(common.engine(database_url)).connect() as conn:
            common.require_tenant(conn, tenant_id)
            data: bytes = document_file(conn, tenant_id, number, facturx=facturx)
            return data

    data = common.run(chosen, work)
    out.write_bytes(data)
    click.echo(
        f"{out} ({len(data)} octets)" if chosen == "fr" else f"{out} ({len(data)} bytes)",
    )


def _key(var_dir: Path) -> Any:
    from server.platform.keys import server_key

    return server_key(var_dir)


def _render(database_url: str, var_dir: Path) -> None:
    """After the issuing transaction: make the files of what is due now (this command's
    documents among them), as a worker would, so `documents pdf` finds them at once."""
    from server.platform import jobs

    context = jobs.Context(common.engine(database_url), lambda: _key(var_dir), common.now)
    jobs.drain(context)


@documents.command("credit-note")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("number")
@click.option("--reason", required=True, help="Why (printed on the credit note).")
@click.option(
    "--amount", default=None, help='Incl. VAT, e.g. "20.00"; without it: all that remains.'
)
@db_option
@var_option
@json_option
@lang_option
def documents_credit_note(
    tenant_id: str,
    number: str,
    reason: str,
    amount: str | None,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Issue a credit note on invoice NUMBER: total, or partial with --amount (split
    across the invoice's VAT rates). Never more than what remains un-credited.

    \b
    Example:
      towline-server documents credit-note acme F2026-000001 --amount 20.00 --reason "Geste"

    Exit codes: 0 issued; 2 empty reason or bad amount; 3 unknown tenant or invoice,
    already fully credited, or an amount beyond what remains.
    """
    from server.api.documents import CreditNoteIn
    from server.office.invoicing import credit_note

    chosen = common.lang(lang)

    def work() -> Any:
        data = CreditNoteIn().load(
            {"reason": reason, **({"amount": amount} if amount is not None else {})}
        )
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return credit_note(
                conn,
                tenant_id,
                number,
                amount=data.get("amount"),
                reason=data["reason"],
                key=_key(var_dir),
                actor="cli",
                now=common.now(),
            )

    doc = common.run(chosen, work)
    _render(database_url, var_dir)
    total = _money(doc["total"]["incl_vat"], chosen)
    human = (
        f"Avoir {doc['number']} émis sur la facture {number} : {total} TTC."
        if chosen == "fr"
        else f"Credit note {doc['number']} issued on invoice {number}: {total} incl. VAT."
    )
    common.emit(doc, as_json, human)


@documents.command("issue")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("mission_id", metavar="MISSION")
@db_option
@var_option
@json_option
@lang_option
def documents_issue(
    tenant_id: str,
    mission_id: str,
    database_url: str,
    var_dir: Path,
    as_json: bool,
    lang: str | None,
) -> None:
    """Invoice MISSION now from the server's latest valuation: the ordering party and the
    beneficiary, each for its share. Safe to run again: a valuation is invoiced once.

    \b
    Example:
      towline-server documents issue acme M-A-0003

    Exit codes: 0 issued (or already); 3 unknown tenant or mission, cancelled mission, no
    seller identity or no server valuation, or invoiced on another valuation.
    """
    from server.office.invoicing import issue

    chosen = common.lang(lang)

    def work() -> Any:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return issue(
                conn, tenant_id, mission_id, key=_key(var_dir), actor="cli", now=common.now()
            )

    made, new = common.run(chosen, work)
    _render(database_url, var_dir)
    fr = chosen == "fr"
    if not made:
        head = "Rien à facturer." if fr else "Nothing to invoice."
    elif new:
        head = "Émis :" if fr else "Issued:"
    else:
        head = "Déjà facturée :" if fr else "Already invoiced:"
    zone = _zone(database_url, tenant_id)
    human = "\n".join([head, *(_summary(d, chosen, zone) for d in made)])
    common.emit(made, as_json, human)


@documents.command("render")
@click.argument("tenant_id", metavar="TENANT")
@click.argument("number")
@db_option
@var_option
@lang_option
def documents_render(
    tenant_id: str, number: str, database_url: str, var_dir: Path, lang: str | None
) -> None:
    """Make a document's PDF again after its rendering gave up (a
    `document_render_failed` anomaly), now.

    \b
    Example:
      towline-server documents render acme F2026-000001

    Exit codes: 0 made; 3 unknown tenant or document, or nothing to make again (its PDF
    exists, or its rendering is still under way).
    """
    from server.office import document_files
    from server.office.issued_documents import document_row
    from server.platform.errors import Conflict

    chosen = common.lang(lang)

    def work() -> None:
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            document_row(conn, tenant_id, number)
            if not document_files.render_again(conn, tenant_id, number, common.now()):
                raise Conflict(
                    f"Rien à refaire pour {number} : son PDF existe, ou sa fabrication est "
                    "en cours.",
                    f"Nothing to make again for {number}: its PDF exists, or it is being made.",
                    code="nothing_to_render",
                )

    common.run(chosen, work)
    _render(database_url, var_dir)
    from server.platform.db import reading

    with reading(common.engine(database_url)).connect() as conn:
        ready = document_files.is_ready(conn, tenant_id, number)
    if ready:
        click.echo(f"{number} : PDF fabriqué." if chosen == "fr" else f"{number}: PDF made.")
        return
    click.echo(
        f"{number} : la fabrication a encore échoué ; elle sera réessayée (towline-server jobs)."
        if chosen == "fr"
        else f"{number}: making it failed again; it will be tried again (towline-server jobs).",
        err=True,
    )
    sys.exit(common.EXIT_REFUSED)


# --- the seller's identity ------------------------------------------------------------


@documents.group()
def seller() -> None:
    """The seller's identity printed on the tenant's invoices (SIREN, SIRET, VAT number…).

    \b
    Example:
      towline-server documents seller show acme
    """


@seller.command("set")
@click.argument("tenant_id", metavar="TENANT")
@click.option("--name", required=True, help="The company's legal name.")
@click.option("--address", required=True, help="Street (lines separated by \\n).")
@click.option("--postcode", required=True)
@click.option("--city", required=True)
@click.option("--siret", required=True, help="14 digits, starting with the SIREN.")
@click.option("--vat", "vat_number", required=True, help="Intra-community VAT number (FR…).")
@click.option("--siren", default=None, help="Optional: the SIRET's first nine digits.")
@click.option("--legal-form", default=None, help="SAS, SARL, EURL…")
@click.option("--capital", default=None, help='Share capital, e.g. "10000.00".')
@click.option("--rcs-city", default=None, help="City of the trade register (RCS).")
@click.option("--email", default=None)
@click.option("--phone", default=None)
@db_option
@json_option
@lang_option
def seller_set(
    tenant_id: str,
    database_url: str,
    as_json: bool,
    lang: str | None,
    **given: str | None,
) -> None:
    """Set the seller's identity, checked with python-stdnum (SIRET and VAT number keys,
    SIRET starting with the SIREN, VAT number of that SIREN).

    \b
    Example:
      towline-server documents seller set acme --name "Dépannage Acme SAS" \\
        --address "12 rue des Lilas" --postcode 69003 --city Lyon \\
        --siret 73282932000017 --vat FR44732829320 --legal-form SAS --rcs-city Lyon

    Exit codes: 0 set; 2 a number that does not check out or a bad value; 3 unknown
    tenant.
    """
    from server.api.documents import SellerIn
    from server.office.seller import set_seller

    chosen = common.lang(lang)

    def work() -> Any:
        data = SellerIn().load({k: v for k, v in given.items() if v is not None})
        with common.engine(database_url).begin() as conn:
            common.require_tenant(conn, tenant_id)
            return set_seller(conn, tenant_id, data, actor="cli", now=common.now())

    made = common.run(chosen, work)
    human = (
        f"{made['name']} — SIRET {made['siret']}, TVA {made['vat_number']}"
        if chosen == "fr"
        else f"{made['name']} — SIRET {made['siret']}, VAT {made['vat_number']}"
    )
    common.emit(made, as_json, human)


@seller.command("show")
@click.argument("tenant_id", metavar="TENANT")
@db_option
@json_option
@lang_option
def seller_show(tenant_id: str, database_url: str, as_json: bool, lang: str | None) -> None:
    """Show the seller's identity as it will be printed.

    \b
    Example:
      towline-server documents seller show acme --json

    Exit codes: 0 shown; 3 unknown tenant, or no identity set yet.
    """
    from server.office.seller import legal_lines, require_seller
    from server.platform.db import reading

    chosen = common.lang(lang)

    def work() -> Any:
        with reading(common.engine(database_url)).connect() as conn:
            common.require_tenant(conn, tenant_id)
            return require_seller(conn, tenant_id)

    made = common.run(chosen, work)
    human = "\n".join(
        [made["name"], made["address"], f"{made['postcode']} {made['city']}", *legal_lines(made)]
    )
    common.emit(made, as_json, human)

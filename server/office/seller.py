"""The seller's identity a tenant prints on its invoices (docs/invoicing.md "Seller").

French mandatory mentions: the company's name, address, SIREN and SIRET, its
intra-community VAT number and, for a company, its legal form, share capital and the
city of its trade register (RCS). Kept in the tenant's `settings` JSON under "seller",
checked with python-stdnum: the SIREN and the SIRET's check digits, the SIRET starting
with the SIREN, the VAT number's key and its SIREN being the same company's.

No invoice is issued while the identity is missing (`require_seller`).

Every identity ever set stays readable: each `set_seller` is in the append-only audit
log (`tenant.seller`, the identity as its detail) and numbered (`seller_version`, the
count of them). Tablets are told the identity with its digest and version; a receipt
names the one the tablet printed, and `as_printed` finds it again for the server's copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength, ValidationError
from stdnum.fr import siren as stdnum_siren
from stdnum.fr import siret as stdnum_siret
from stdnum.fr import tva as stdnum_tva

from server.people.identity import audit
from server.people.tenant_time import zone_named
from server.platform import changes
from server.platform.errors import Conflict, not_found
from server.platform.tables import audit_log, tenants
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.money import format_amount, parse_amount, wire
from shared.receipt import seller_digest

SETTINGS_KEY = "seller"
SELLER = Text("Identité du vendeur invalide", "Invalid seller identity")
REQUIRED = ("name", "address", "postcode", "city", "siret", "vat_number")
OPTIONAL = ("siren", "country", "legal_form", "capital", "rcs_city", "email", "phone")
FIELDS = REQUIRED + OPTIONAL


def _why(error: ValidationError, what: str) -> Text:
    """stdnum's refusal in words a clerk can act on."""
    if isinstance(error, InvalidLength):
        return Text(f"{what} : longueur incorrecte", f"{what}: wrong length")
    if isinstance(error, InvalidChecksum):
        return Text(
            f"{what} : la clé de contrôle ne correspond pas (faute de frappe ?)",
            f"{what}: the check digits do not match (a typo?)",
        )
    if isinstance(error, InvalidComponent):
        return Text(f"{what} : numéro non attribuable", f"{what}: not an assignable number")
    return Text(f"{what} : format incorrect", f"{what}: wrong format")


def validate(data: Mapping[str, Any]) -> dict[str, Any]:
    """The identity, normalised (compact numbers, "FR" VAT prefix), or `InvalidDocument`
    listing every problem. `siren` may be left out: it is the SIRET's first nine digits."""
    problems: list[Problem] = []
    unknown = sorted(set(data) - set(FIELDS))
    problems += [Problem(k, Text("champ inconnu", "unknown field")) for k in unknown]
    out: dict[str, Any] = {}
    for key in FIELDS:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if key in REQUIRED:
                problems.append(Problem(key, Text("obligatoire", "required")))
            continue
        if not isinstance(value, str) or len(value) > 300:
            problems.append(Problem(key, Text("texte de 300 caractères au plus", "text, 300 max")))
            continue
        out[key] = " ".join(value.split()) if key != "address" else value.strip()
    siret = out.get("siret")
    if siret is not None:
        try:
            out["siret"] = siret = stdnum_siret.validate(siret)
        except ValidationError as error:
            problems.append(Problem("siret", _why(error, "SIRET")))
            siret = None
    siren = out.get("siren") or (siret[:9] if siret else None)
    if "siren" in out:
        try:
            out["siren"] = siren = stdnum_siren.validate(out["siren"])
        except ValidationError as error:
            problems.append(Problem("siren", _why(error, "SIREN")))
            siren = None
    elif siren is not None:
        out["siren"] = siren
    if siren and siret and not siret.startswith(siren):
        problems.append(
            Problem(
                "siret",
                Text(
                    f"le SIRET {siret} ne commence pas par le SIREN {siren} : ce n'est pas "
                    "un établissement de cette société",
                    f"SIRET {siret} does not start with SIREN {siren}: it is not an "
                    "establishment of this company",
                ),
            )
        )
    vat = out.get("vat_number")
    if vat is not None:
        try:
            compact = stdnum_tva.validate(vat)
        except ValidationError as error:
            problems.append(Problem("vat_number", _why(error, "N° de TVA / VAT number")))
        else:
            out["vat_number"] = "FR" + compact
            if siren and compact[2:] != siren:
                problems.append(
                    Problem(
                        "vat_number",
                        Text(
                            f"le numéro de TVA FR{compact} n'est pas celui du SIREN {siren} "
                            f"(attendu : {stdnum_siren.to_tva(siren)})",
                            f"VAT number FR{compact} is not SIREN {siren}'s "
                            f"(expected: {stdnum_siren.to_tva(siren)})",
                        ),
                    )
                )
    if "capital" in out:
        try:
            out["capital"] = wire(parse_amount(out["capital"].replace(" ", "")))
        except (ValueError, ArithmeticError):
            problems.append(
                Problem("capital", Text('montant attendu, ex. "10000.00"', 'an amount, "10000.00"'))
            )
    out["country"] = out.get("country", "FR").upper()
    if out["country"] != "FR":
        problems.append(
            Problem(
                "country",
                Text("seules les sociétés françaises (FR)", "French companies only (FR)"),
            )
        )
    if problems:
        raise InvalidDocument(SELLER, problems)
    return out


def get_seller(conn: sa.Connection, tenant_id: str) -> dict[str, Any] | None:
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    seller = (settings or {}).get(SETTINGS_KEY)
    return dict(seller) if isinstance(seller, Mapping) else None


def set_seller(
    conn: sa.Connection,
    tenant_id: str,
    data: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Validate and store the identity (replacing the previous one). Documents already
    issued keep the identity they were issued with."""
    seller = validate(data)
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id).with_for_update()
    ).first()
    if settings is None:
        raise not_found("Société", "Tenant", tenant_id)
    # The audit row keeps this version for good: receipts printed with it name its digest.
    audit(conn, tenant_id, actor, AUDIT_ACTION, tenant_id, now, detail=seller)
    version = len(_versions(conn, tenant_id))
    updated = {
        **(settings.settings or {}),
        SETTINGS_KEY: seller,
        VERSION_KEY: version,
        ANNOUNCED_KEY: True,
    }
    conn.execute(sa.update(tenants).where(tenants.c.id == tenant_id).values(settings=updated))
    _announce(conn, tenant_id, updated, now)
    return seller


# --- every version, for the receipts printed with it ---------------------------------------

AUDIT_ACTION = "tenant.seller"
VERSION_KEY = "seller_version"  # settings: the number of the identity in force
UNKNOWN_ON_TABLET = Text(
    "Identité de l'entreprise à ce jour : celle imprimée sur la tablette lors de "
    "l'encaissement est inconnue du serveur.",
    "The company's identity as of today: the one printed on the tablet at collection time "
    "is unknown to the server.",
)


def _versions(conn: sa.Connection, tenant_id: str) -> list[dict[str, Any]]:
    """Every identity the tenant set, oldest first (the audit log is append-only)."""
    rows = conn.execute(
        sa.select(audit_log.c.detail)
        .where(
            audit_log.c.tenant_id == tenant_id,
            audit_log.c.action == AUDIT_ACTION,
            audit_log.c.target == tenant_id,
        )
        .order_by(audit_log.c.at, audit_log.c.id)
    ).scalars()
    found = []
    for detail in rows:
        loaded = json.loads(detail) if isinstance(detail, str) else detail
        if isinstance(loaded, Mapping) and loaded:
            found.append(dict(loaded))
    return found


def as_printed(
    conn: sa.Connection, tenant_id: str, digest: str | None
) -> tuple[dict[str, Any] | None, Text | None]:
    """The identity a receipt prints: the one whose digest the collection names, else the
    current one — with a note when the collection named one the server cannot find.
    `digest` None (a collection recorded before receipts named it): the current one, as
    before, without a note."""
    current = get_seller(conn, tenant_id)
    if digest is None or (current is not None and seller_digest(current) == digest):
        return current, None
    for version in reversed(_versions(conn, tenant_id)):
        if seller_digest(version) == digest:
            return version, None
    return current, UNKNOWN_ON_TABLET


# --- the tablets learn it ---------------------------------------------------------------------

CHANGE_KIND = "seller"  # the pull feed's kind (docs/sync-protocol.md): receipts print it
ANNOUNCED_KEY = "seller_announced"  # settings: the identity in force is in the feed


def _announce(
    conn: sa.Connection, tenant_id: str, settings: Mapping[str, Any], now: datetime
) -> None:
    """Tell every tablet of the tenant the identity, with the tenant's time zone: the
    receipts a driver hands out on the spot print them (shared/receipt.py)."""
    seller = settings[SETTINGS_KEY]
    data = {
        "seller": seller,
        "digest": seller_digest(seller),
        "version": settings.get(VERSION_KEY),
        "timezone": str(tenant_zone_name(settings)),
    }
    changes.record(conn, tenant_id, CHANGE_KIND, tenant_id, data, scope=None, now=now)


def tenant_zone_name(settings: Mapping[str, Any]) -> str:
    return str(zone_named(settings.get("timezone")).key)


def announce_once(conn: sa.Connection, tenant_id: str, *, now: datetime) -> bool:
    """Announce an identity set before tablets learnt it from the feed (once): called
    when a tablet pushes. Returns whether it announced."""
    settings = conn.execute(
        sa.select(tenants.c.settings).where(tenants.c.id == tenant_id)
    ).scalar_one_or_none()
    if not settings or settings.get(ANNOUNCED_KEY) or SETTINGS_KEY not in settings:
        return False
    updated = {**settings, ANNOUNCED_KEY: True}
    conn.execute(sa.update(tenants).where(tenants.c.id == tenant_id).values(settings=updated))
    _announce(conn, tenant_id, updated, now)
    return True


def missing() -> Conflict:
    """The refusal while the identity is missing."""
    return Conflict(
        "L'identité du vendeur (raison sociale, adresse, SIRET, n° de TVA) n'est pas "
        "renseignée : aucune facture ne peut être émise. Renseignez-la avec "
        "« towline-server documents seller set » ou PUT /api/v1/tenant/seller.",
        "The seller's identity (name, address, SIRET, VAT number) is missing: no invoice "
        "can be issued. Set it with 'towline-server documents seller set' or "
        "PUT /api/v1/tenant/seller.",
        code="seller_identity_missing",
    )


def require_seller(conn: sa.Connection, tenant_id: str) -> dict[str, Any]:
    seller = get_seller(conn, tenant_id)
    if seller is None:
        raise missing()
    return seller


def legal_lines(seller: Mapping[str, Any]) -> list[str]:
    """The seller's mandatory mentions, in French, as printed on a document."""
    siren = str(seller["siren"])
    lines = [
        f"SIREN {stdnum_siren.format(siren)} – SIRET {stdnum_siret.format(seller['siret'])}",
        f"N° TVA intracommunautaire : {seller['vat_number']}",
    ]
    company = []
    if seller.get("legal_form"):
        company.append(str(seller["legal_form"]))
    if seller.get("capital"):
        company.append(f"au capital de {format_amount(parse_amount(seller['capital']), 'fr')}")
    if seller.get("rcs_city"):
        company.append(f"RCS {seller['rcs_city']} {stdnum_siren.format(siren)}")
    if company:
        lines.append(" ".join(company))
    return lines

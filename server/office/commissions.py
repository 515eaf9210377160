"""Commissions of the people the company pays on results (seed 003's agents;
docs/commissions.md): its drivers, on the missions they drove, its office users — a
dispatcher, an agent taking calls — on the missions they took (the mission's
`created_by`: whoever took the call or made the mission on the desk or the API), and the
agents of its register on the missions they brought (server.office.agents).

**Rules per person, as versioned data** (`office_settings`, name `commission:<person>`;
a change is a new version, the old ones stay, and a document is commissioned with the
version in force when it was issued):

    {"percent": {"TOW": "8", "WIN": "10", "*": "5"},   % of the taxable base, per family
     "per_mission": "5.00",                            a fixed amount per mission
     "tiers": [{"from": "3000.00", "percent": "1"}]}   more % once the month's base reaches

**The report**, line by line, for the invoices and credit notes of a period on the
missions the person drove or took (a mission can earn both its driver and whoever took
the call, each by their own rules):

- `percent`: one line per invoice line — the mission, the day, the document number, the
  line's code, its base (the invoice line excl. VAT), the rate of its family (its code's
  first segment, else `*`, else 0) and the commission, rounded half up to the cent;
- `per_mission`: the fixed amount, on the mission's first invoice;
- `reversal`: a credit note takes back the commission of the invoice it corrects in
  proportion to what it credits excl. VAT; the reversals of an invoice are counted on
  the cumulated credit (round(C × credited so far / base) minus what was taken back
  already), so credit notes that cancel an invoice take back exactly its commission,
  and the fixed amount goes with the last of them;
- `tier`: per calendar month, when the month's net base reaches a tier, the highest
  tier's percent on the whole month's net base (one line).

Every line can be recomputed from the documents: the base is the document's own amount.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from server.office import agents, commission_render, ledger, office_settings
from server.office.invoice_balances import local_day, tenant_zone
from server.office.issued_documents import INVOICE
from server.office.seller import get_seller
from server.platform.db import in_chunks
from server.platform.errors import not_found
from server.platform.tables import agents as agent_rows
from server.platform.tables import documents, drivers, missions, users
from shared.errors import InvalidDocument, Problem
from shared.i18n import Text
from shared.money import from_cents, parse_amount, to_cents, wire

PREFIX = "commission:"
RULES = Text("Règles de commission invalides", "Invalid commission rules")
FAMILY = re.compile(r"^([A-Z0-9]{1,16}|\*)$")
FIELDS = ("percent", "per_mission", "tiers")
HUNDRED = Decimal(100)


def _percent(value: object) -> Decimal | None:
    try:
        found = Decimal(str(value)) if isinstance(value, str | int) else None
    except InvalidOperation:
        return None
    if found is None or not found.is_finite() or not 0 <= found <= 100:
        return None
    if found != found.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP):
        return None
    return found


def validate(data: Mapping[str, Any]) -> dict[str, Any]:
    """The rules, normalised, or `InvalidDocument` naming every problem."""
    if not isinstance(data, Mapping):
        raise InvalidDocument(RULES, [Problem("", Text("un objet JSON", "a JSON object"))])
    problems = [
        Problem(k, Text("champ inconnu", "unknown field")) for k in sorted(set(data) - set(FIELDS))
    ]
    rate_text = Text(
        "un pourcentage de 0 à 100, en texte (« 7.5 »)", 'a percentage 0–100, as text ("7.5")'
    )
    percent: dict[str, str] = {}
    given = data.get("percent", {})
    if not isinstance(given, Mapping):
        problems.append(Problem("percent", Text("famille → pourcentage", "family → percentage")))
        given = {}
    for family, value in given.items():
        rate = _percent(value)
        if not isinstance(family, str) or not FAMILY.match(family):
            problems.append(
                Problem(
                    f"percent.{family}",
                    Text("famille de prestations (TOW…) ou *", "a family (TOW…) or *"),
                )
            )
        elif rate is None:
            problems.append(Problem(f"percent.{family}", rate_text))
        else:
            percent[family] = str(rate.normalize()) if rate else "0"
    per_mission = data.get("per_mission", "0.00")
    try:
        fixed = parse_amount(per_mission)
        if fixed < 0:
            raise ValueError(per_mission)
    except (ValueError, TypeError, ArithmeticError):
        problems.append(
            Problem("per_mission", Text('un montant positif ou nul ("5.00")', 'an amount ("5.00")'))
        )
        fixed = Decimal(0)
    tiers: list[dict[str, str]] = []
    given_tiers = data.get("tiers", [])
    if not isinstance(given_tiers, list) or len(given_tiers) > 10:
        problems.append(Problem("tiers", Text("une liste (10 au plus)", "a list (10 at most)")))
        given_tiers = []
    for i, tier in enumerate(given_tiers):
        try:
            start = parse_amount(tier["from"])
            rate = _percent(tier["percent"])
            if start <= 0 or rate is None or set(tier) != {"from", "percent"}:
                raise ValueError(tier)
        except (ValueError, TypeError, KeyError, ArithmeticError):
            example = '{"from": "3000.00", "percent": "1"}'
            problems.append(Problem(f"tiers.{i}", Text(example, example)))
            continue
        tiers.append({"from": wire(start), "percent": str(rate.normalize())})
    starts = [parse_amount(t["from"]) for t in tiers]
    if starts != sorted(set(starts)):
        problems.append(Problem("tiers", Text("des seuils croissants", "increasing thresholds")))
    if problems:
        raise InvalidDocument(RULES, problems)
    return {"percent": dict(sorted(percent.items())), "per_mission": wire(fixed), "tiers": tiers}


def _person(conn: sa.Connection, tenant_id: str, person: str) -> str:
    """The person's name: a driver (by id), else an office user (by id)."""
    name = conn.execute(
        sa.select(drivers.c.name).where(drivers.c.tenant_id == tenant_id, drivers.c.id == person)
    ).scalar_one_or_none()
    if name is None:
        name = conn.execute(
            sa.select(users.c.name).where(users.c.tenant_id == tenant_id, users.c.id == person)
        ).scalar_one_or_none()
    if name is None:
        name = agents.names(conn, tenant_id).get(person)
    if name is None:
        raise not_found(
            "Personne (chauffeur, utilisateur ou apporteur)",
            "Person (driver, user or agent)",
            person,
        )
    return str(name)


def earners(
    conn: sa.Connection, tenant_id: str, mission_ids: Iterable[str] | None = None
) -> dict[str, list[str]]:
    """{mission: the people it may earn}: its driver, the office user who took it (a
    mission a tablet made, or one its own driver took, earns once) and the agent who
    brought it (server.office.agents). Of these missions only, if named."""
    known_users = set(
        conn.execute(sa.select(users.c.id).where(users.c.tenant_id == tenant_id)).scalars()
    )
    brought = agents.by_mission(conn, tenant_id)
    query = sa.select(missions.c.id, missions.c.driver_id, missions.c.created_by).where(
        missions.c.tenant_id == tenant_id
    )
    if mission_ids is None:
        rows: list[Any] = list(conn.execute(query))
    else:
        rows = []
        for chunk in in_chunks(mission_ids):
            rows += conn.execute(query.where(missions.c.id.in_(chunk))).all()
    out: dict[str, list[str]] = {}
    for r in rows:
        found = [r.driver_id] if r.driver_id else []
        if r.created_by in known_users and r.created_by not in found:
            found.append(r.created_by)
        if r.id in brought and brought[r.id] not in found:
            found.append(brought[r.id])
        if found:
            out[r.id] = found
    return out


def set_rules(
    conn: sa.Connection,
    tenant_id: str,
    person: str,
    data: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Check and store a person's rules: a new version (the same again adds none)."""
    _person(conn, tenant_id, person)
    rules = validate(data)
    stored = office_settings.store(conn, tenant_id, PREFIX + person, rules, actor=actor, now=now)
    return {"person": person, "version": stored["version"], **rules}


def rules_of(conn: sa.Connection, tenant_id: str, person: str) -> dict[str, Any]:
    """The person's rules in force (version 0 and no commission until set)."""
    _person(conn, tenant_id, person)
    found = office_settings.latest(conn, tenant_id, PREFIX + person)
    if found is None:
        return {"person": person, "version": 0, **validate({})}
    return {"person": person, "version": found["version"], **found["document"]}


@dataclass(frozen=True, slots=True)
class Line:
    kind: str  # percent | per_mission | reversal | tier
    person: str
    mission_id: str | None
    day: date
    document: str | None
    code: str | None
    base: int  # cents
    rate: str  # percent, as text ("8"); "" for a fixed amount
    commission: int  # cents, negative for a reversal
    version: int  # the rules' version applied

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "person": self.person,
            "mission_id": self.mission_id,
            "day": self.day.isoformat(),
            "document": self.document,
            "code": self.code,
            "base": wire(from_cents(self.base)),
            "rate": self.rate,
            "commission": wire(from_cents(self.commission)),
            "rules_version": self.version,
        }


def _cents(value: Decimal) -> int:
    return to_cents(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _share(base: int, rate: Decimal) -> int:
    """`rate` % of `base` cents, rounded half up to the cent."""
    return _cents(from_cents(base) * rate / HUNDRED)


def _rate(rules: Mapping[str, Any], code: str) -> Decimal:
    family = code.split(".", 1)[0]
    percent = rules.get("percent", {})
    return Decimal(str(percent.get(family, percent.get("*", "0"))))


def report(
    conn: sa.Connection, tenant_id: str, start: date, end: date, *, person: str | None = None
) -> dict[str, Any]:
    """Every commission line of the period (of one person, or of everyone with rules or
    missions), and the totals per person."""
    zone = tenant_zone(conn, tenant_id)
    first, after = ledger.day_bounds(conn, tenant_id, start, end)
    # Lines come from the documents issued in the period; each needs its mission's earlier
    # documents (its first invoice, what earlier credit notes took back). A credit note
    # bears its invoice's mission (server.office.invoicing), so the missions with a
    # document in the period hold everything the lines read.
    period_missions = sorted(
        set(
            conn.execute(
                sa.select(documents.c.mission_id).where(
                    documents.c.tenant_id == tenant_id,
                    documents.c.issued_at >= first,
                    documents.c.issued_at < after,
                )
            ).scalars()
        )
    )
    earning = {
        mission: [p for p in people_ if person is None or p == person]
        for mission, people_ in earners(conn, tenant_id, period_missions).items()
    }
    if person is not None:
        _person(conn, tenant_id, person)
    rows: list[Any] = []
    for chunk in in_chunks(period_missions):
        rows += conn.execute(
            sa.select(documents).where(
                documents.c.tenant_id == tenant_id,
                documents.c.mission_id.in_(chunk),
                documents.c.issued_at < after,
            )
        ).all()
    rows.sort(key=lambda r: (r.issued_at, r.series, r.seq))
    invoices = {r.number: r for r in rows if r.kind == INVOICE}
    first_invoice: dict[str, str] = {}
    for r in rows:
        if r.kind == INVOICE:
            first_invoice.setdefault(r.mission_id, r.number)
    lines: list[Line] = []
    # (person, invoice) → commission taken back so far, excl. VAT credited so far
    taken: dict[tuple[str, str], int] = defaultdict(int)
    credited: dict[tuple[str, str], int] = defaultdict(int)
    for r, who in ((row, who) for row in rows for who in earning.get(row.mission_id, ())):
        in_period = r.issued_at >= first
        day = local_day(r.issued_at, zone)
        if r.kind == INVOICE:
            version, rules = _rules_at(conn, tenant_id, who, r.issued_at)
            if not in_period or rules is None:
                continue
            for item in r.lines:
                base = to_cents(parse_amount(item["excl_vat"]))
                rate = _rate(rules, str(item["code"]))
                lines.append(
                    Line(
                        kind="percent",
                        person=who,
                        mission_id=r.mission_id,
                        day=day,
                        document=r.number,
                        code=str(item["code"]),
                        base=base,
                        rate=f"{rate.normalize():f}",
                        commission=_share(base, rate),
                        version=version,
                    )
                )
            fixed = to_cents(parse_amount(rules.get("per_mission", "0.00")))
            if fixed and first_invoice.get(r.mission_id) == r.number:
                lines.append(
                    Line(
                        kind="per_mission",
                        person=who,
                        mission_id=r.mission_id,
                        day=day,
                        document=r.number,
                        code=None,
                        base=0,
                        rate="",
                        commission=fixed,
                        version=version,
                    )
                )
            continue
        invoice = invoices.get(r.corrects or "")
        if invoice is None:
            continue
        version, rules = _rules_at(conn, tenant_id, who, invoice.issued_at)
        if rules is None:
            continue
        base = int(invoice.total_excl_cents)
        earned = sum(
            _share(to_cents(parse_amount(i["excl_vat"])), _rate(rules, str(i["code"])))
            for i in invoice.lines
        )
        fixed = to_cents(parse_amount(rules.get("per_mission", "0.00")))
        if first_invoice.get(invoice.mission_id) != invoice.number:
            fixed = 0
        key = (who, invoice.number)
        credited[key] += int(r.total_excl_cents)
        whole = credited[key] >= base
        due_back = (
            earned + fixed
            if whole
            else _cents(from_cents(earned) * Decimal(credited[key]) / Decimal(base or 1))
        )
        back = due_back - taken[key]
        taken[key] = due_back
        if in_period and back:
            effective = (Decimal(earned) * HUNDRED / Decimal(base)) if base else Decimal(0)
            lines.append(
                Line(
                    kind="reversal",
                    person=who,
                    mission_id=r.mission_id,
                    day=day,
                    document=r.number,
                    code=invoice.number,
                    base=-int(r.total_excl_cents),
                    rate=f"{effective.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}",
                    commission=-back,
                    version=version,
                )
            )
    lines += _tiers(conn, tenant_id, lines)
    names = agents.names(conn, tenant_id)
    names.update(
        {
            str(r.id): str(r.name)
            for table in (users, drivers)  # a driver's name wins over a user's of the same id
            for r in conn.execute(
                sa.select(table.c.id, table.c.name).where(table.c.tenant_id == tenant_id)
            )
        }
    )
    per_person: dict[str, dict[str, int]] = defaultdict(
        lambda: {"base": 0, "commission": 0, "lines": 0}
    )
    for line in lines:
        sums = per_person[line.person]
        sums["commission"] += line.commission
        sums["base"] += line.base if line.kind in ("percent", "reversal") else 0
        sums["lines"] += 1
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "lines": [line.to_wire() for line in lines],
        "people": [
            {
                "person": p,
                "name": names.get(p, p),
                "lines": data["lines"],
                "base": wire(from_cents(data["base"])),
                "commission": wire(from_cents(data["commission"])),
            }
            for p, data in sorted(per_person.items())
        ],
        "total": wire(from_cents(sum(line.commission for line in lines))),
    }


def _rules_at(
    conn: sa.Connection, tenant_id: str, person: str, moment: datetime
) -> tuple[int, dict[str, Any] | None]:
    found = office_settings.in_force(conn, tenant_id, PREFIX + person, moment)
    return (0, None) if found is None else (found["version"], found["document"])


def _tiers(conn: sa.Connection, tenant_id: str, lines: list[Line]) -> list[Line]:
    """Per person and calendar month: the highest tier the month's net base reaches, its
    percent on that whole base, with the rules of the month's last document."""
    months: dict[tuple[str, str], list[Line]] = defaultdict(list)
    for line in lines:
        if line.kind in ("percent", "reversal"):
            months[(line.person, line.day.strftime("%Y-%m"))].append(line)
    out = []
    for (person, _month), found in sorted(months.items()):
        last = max(found, key=lambda x: (x.day, x.document or ""))
        versions = office_settings.history(conn, tenant_id, PREFIX + person)
        document: dict[str, Any] = next(
            (v["document"] for v in versions if v["version"] == last.version), {}
        )
        base = sum(x.base for x in found)
        tiers = document.get("tiers", [])
        reached = [t for t in tiers if base >= to_cents(parse_amount(t["from"]))]
        if not reached or base <= 0:
            continue
        rate = Decimal(reached[-1]["percent"])
        out.append(
            Line(
                kind="tier",
                person=person,
                mission_id=None,
                day=last.day,
                document=None,
                code=f">= {reached[-1]['from']}",
                base=base,
                rate=f"{rate:f}",
                commission=_share(base, rate),
                version=last.version,
            )
        )
    return out


def people(conn: sa.Connection, tenant_id: str) -> list[dict[str, Any]]:
    """The drivers, the office users (on the missions they took), then the agents (on the
    missions they brought), each with their rules' version in force (0: none)."""
    out = []
    seen: set[str] = set()
    for kind, table in (("driver", drivers), ("user", users), ("agent", agent_rows)):
        for row in conn.execute(
            sa.select(table.c.id, table.c.name)
            .where(table.c.tenant_id == tenant_id)
            .order_by(table.c.id)
        ):
            if row.id in seen:
                continue
            seen.add(row.id)
            found = office_settings.latest(conn, tenant_id, PREFIX + row.id)
            out.append(
                {
                    "person": row.id,
                    "name": row.name,
                    "kind": kind,
                    "version": 0 if found is None else found["version"],
                    "rules": validate({}) if found is None else found["document"],
                }
            )
    return out


def statement(
    conn: sa.Connection,
    tenant_id: str,
    person: str,
    start: date,
    end: date,
    *,
    lang: str,
    now: datetime,
) -> tuple[str, bytes]:
    """(file name, PDF) of the person's statement for the period."""
    name = _person(conn, tenant_id, person)
    found = report(conn, tenant_id, start, end, person=person)
    total = next((p["commission"] for p in found["people"] if p["person"] == person), "0.00")
    pdf = commission_render.statement_pdf(
        seller=get_seller(conn, tenant_id),
        person=person,
        name=name,
        start=start,
        end=end,
        lines=[line for line in found["lines"] if line["person"] == person],
        total=total,
        lang=lang,
        made_at=now,
    )
    return f"commissions-{person}-{start.isoformat()}-{end.isoformat()}.pdf", pdf

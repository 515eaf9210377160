"""Cleaning rules on the desk: seed 000's four causes of a wrong valuation, each with a
visible home (docs/cleaning-rules.md, docs/orders.md).

- A recurring mistake of an ordering party: its rule set (/desk/cleaning), versioned,
  published as the next version and replayed on open files (dry run first).
- A one-off mistake: the mission corrected by hand before a tablet values it
  (/desk/missions/<id>/fix), and a rule proposed from that fix.
- A bug: the bug report bundle, downloaded as JSON (/desk/missions/<id>/bug-report.json).
- A configuration error: the contract version, on the contract pages.

Every write goes through `server.parties.cleaning`, `server.parties.replay` and
`server.parties.hand_fix`, exactly as the API (server/api/party_setup.py and
server/api/orders.py), with the same rights.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Response, flash, redirect, render_template, request, url_for

from server.desk.blueprint import desk, not_found, t
from server.desk.contract_pages import pretty
from server.desk.session import current, page
from server.office import missions
from server.parties import bug_report as bug_report_module
from server.parties import cleaning as cleaning_store
from server.parties import hand_fix, replay
from server.people import ordering_parties as parties
from server.people.identity import list_users
from server.people.rights import Right
from server.platform.errors import NotFound
from server.platform.web import engine, lang, now, reader
from shared.cleaning_schema import RULESET
from shared.errors import InvalidDocument, Problem, TowlineError
from shared.mission import MISSION
from shared.schema_tools import parse_json

MAX_ID = 64  # a mission id never exceeds it: a longer one is not this tenant's


def _problems(error: TowlineError) -> list[str]:
    """A refusal as lines to show: each problem as "path: message" in the user's language."""
    if isinstance(error, InvalidDocument):
        return [Problem(p.path, p.text).message(lang()) for p in error.problems]
    return [error.message(lang())]


def _status(error: TowlineError) -> int:
    return int(getattr(error, "status", 422))


def _confirmed() -> bool:
    return request.form.get("confirm") == "yes"


def _unconfirmed() -> list[str]:
    return [
        t(
            "Cochez la case de confirmation pour continuer.",
            "Tick the confirmation box to go on.",
        )
    ]


def compact(value: Any) -> str:
    """A condition or a correction on one line, as written in the rule set."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _description(rule: Mapping[str, Any]) -> str:
    words = rule.get("description")
    if isinstance(words, Mapping):
        return str(words.get(lang()) or words.get("fr") or "")
    return ""


# --- the rule sets ----------------------------------------------------------------------


@dataclass
class Board:
    """What the cleaning page shows for one party; `draft` is the textarea's text."""

    party_id: str
    draft: str = ""
    problems: list[str] = field(default_factory=list)
    replay: dict[str, Any] | None = None
    replay_problems: list[str] = field(default_factory=list)


def _blank(party_id: str) -> str:
    return pretty({"party": party_id, "rules": []})


def _chosen_party(conn: sa.Connection, tenant_id: str, wanted: str | None) -> str | None:
    """The party asked for (404 when this tenant has none such), else its first one."""
    if wanted:
        if not parties.exists(conn, tenant_id, wanted):
            return None
        return wanted
    found = parties.list_parties(conn, tenant_id)
    return found[0]["id"] if found else ""


def _render_board(board: Board, status: int = 200) -> Any:
    tenant_id = current().tenant_id
    with reader().connect() as conn:
        every = parties.list_parties(conn, tenant_id)
        versions = cleaning_store.list_versions(conn, tenant_id, board.party_id)
        stored = cleaning_store.latest(conn, tenant_id, board.party_id)
        names = {u.id: u.name for u in list_users(conn, tenant_id)}
    latest_json = pretty(stored.document) if stored else ""
    rules = [
        {
            "id": rule.get("id"),
            "description": _description(rule),
            "when": compact(rule["when"]) if "when" in rule else None,
            "then": [compact(step) for step in rule.get("then", [])],
        }
        for rule in (stored.document.get("rules", []) if stored else [])
        if isinstance(rule, Mapping)
    ]
    html = render_template(
        "desk/cleaning.html",
        board=board,
        parties=every,
        versions=list(reversed(versions)),  # the latest first
        latest=stored,
        latest_json=latest_json,
        rules=rules,
        names=names,
        draft=board.draft or latest_json or _blank(board.party_id),
    )
    return html, status


@desk.route("/cleaning", endpoint="cleaning")
@page(Right.EDIT_CONTRACTS)
def cleaning() -> Any:
    with reader().connect() as conn:
        party_id = _chosen_party(conn, current().tenant_id, request.args.get("party"))
    if party_id is None:
        return not_found()
    if not party_id:
        return render_template("desk/cleaning.html", board=None, parties=[])
    return _render_board(Board(party_id))


def _party_or_404(party_id: str) -> bool:
    with reader().connect() as conn:
        return parties.exists(conn, current().tenant_id, party_id)


@desk.route("/cleaning/<party_id>/publish", methods=["POST"], endpoint="cleaning_publish")
@page(Right.EDIT_CONTRACTS)
def cleaning_publish(party_id: str) -> Any:
    """Publish the draft as the party's next version; any refusal shows the page again
    with the draft as typed, and nothing is stored."""
    if not _party_or_404(party_id):
        return not_found()
    board = Board(party_id, draft=request.form.get("document", ""))
    user = current()
    try:
        document = parse_json(board.draft, RULESET)
        if not _confirmed():
            board.problems = _unconfirmed()
            return _render_board(board, 400)
        with engine().begin() as conn:
            made = cleaning_store.publish(
                conn, user.tenant_id, party_id, document, actor=user.id, now=now()
            )
    except TowlineError as refused:
        board.problems = _problems(refused)
        return _render_board(board, _status(refused))
    flash(
        t(
            f"Règles de nettoyage de {party_id} version {made['version']} publiées : chaque "
            "ordre reçu désormais est nettoyé avec elles.",
            f"{party_id}'s cleaning rules version {made['version']} published: every order "
            "received from now on is cleaned with them.",
        ),
        "ok",
    )
    return redirect(url_for("desk.cleaning", party=party_id))


@desk.route("/cleaning/<party_id>/replay", methods=["POST"], endpoint="cleaning_replay")
@page(Right.EDIT_CONTRACTS)
def cleaning_replay(party_id: str) -> Any:
    """A dry run shows what would change, mission by mission; applying needs the box
    ticked and reports with a flash."""
    if not _party_or_404(party_id):
        return not_found()
    board = Board(party_id)
    user = current()
    apply = request.form.get("mode") == "apply"
    if apply and not _confirmed():
        board.replay_problems = _unconfirmed()
        return _render_board(board, 400)
    try:
        with engine().begin() as conn:
            report = replay.replay(
                conn, user.tenant_id, party_id, actor=user.id, now=now(), dry_run=not apply
            )
    except TowlineError as refused:
        board.replay_problems = _problems(refused)
        return _render_board(board, _status(refused))
    if not apply:
        board.replay = report
        return _render_board(board)
    counts = report["counts"]
    flash(
        t(
            f"Rejeu de la version {report['version']} : {counts.get('updated', 0)} mission(s) "
            f"mise(s) à jour, {counts.get('held', 0)} laissée(s) telle(s) quelle(s).",
            f"Replay of version {report['version']}: {counts.get('updated', 0)} mission(s) "
            f"updated, {counts.get('held', 0)} left as they were.",
        ),
        "ok",
    )
    return redirect(url_for("desk.cleaning", party=party_id))


# --- one mission: the hand fix, the rule from it, the bug report ------------------------


@dataclass
class Fix:
    """The fix page's forms as typed, and what went wrong with them."""

    document: str = ""
    reason: str = ""
    problems: list[str] = field(default_factory=list)
    draft: str | None = None  # the proposed rule set, as typed
    rule_problems: list[str] = field(default_factory=list)


def _mission(conn: sa.Connection, mission_id: str) -> dict[str, Any] | None:
    if len(mission_id) > MAX_ID:
        return None
    try:
        return missions.get(conn, current().tenant_id, mission_id)
    except NotFound:
        return None


def _render_fix(mission_id: str, fix: Fix, status: int = 200) -> Any:
    user = current()
    with reader().connect() as conn:
        held = _mission(conn, mission_id)
        if held is None:
            return not_found()
        proposal: dict[str, Any] | None = None
        proposal_refused: str | None = None
        if Right.EDIT_CONTRACTS in user.rights:
            try:
                proposal = hand_fix.rule_from_fix(conn, user.tenant_id, mission_id)
            except TowlineError as refused:
                proposal_refused = refused.message(lang())
    if proposal is not None and fix.draft is None:
        fix.draft = pretty(proposal["draft"])
    html = render_template(
        "desk/cleaning_fix.html",
        m=held,
        fix=fix,
        document=fix.document or pretty(held["document"]),
        proposal=proposal,
        proposal_rule=compact(proposal["rule"]) if proposal else "",
        proposal_refused=proposal_refused,
        may_clean=Right.MANAGE_MISSIONS in user.rights,
        may_publish=Right.EDIT_CONTRACTS in user.rights,
    )
    return html, status


@desk.route("/missions/<mission_id>/fix", endpoint="cleaning_fix")
@page(Right.MANAGE_MISSIONS)
def cleaning_fix(mission_id: str) -> Any:
    return _render_fix(mission_id, Fix())


@desk.route("/missions/<mission_id>/fix", methods=["POST"], endpoint="cleaning_fix_save")
@page(Right.MANAGE_MISSIONS)
def cleaning_fix_save(mission_id: str) -> Any:
    """The hand clean (`hand_fix.correct_mission`): refused once a tablet valued the mission,
    with the module's own message, and nothing changes."""
    fix = Fix(document=request.form.get("document", ""), reason=request.form.get("reason", ""))
    with reader().connect() as conn:
        if _mission(conn, mission_id) is None:
            return not_found()
    reason = fix.reason.strip()
    if not 1 <= len(reason) <= 500:
        fix.problems = [
            t(
                "reason : dites en 1 à 500 caractères pourquoi vous corrigez.",
                "reason: say in 1 to 500 characters why you correct it.",
            )
        ]
        return _render_fix(mission_id, fix, 422)
    user = current()
    try:
        document = parse_json(fix.document, MISSION)
        with engine().begin() as conn:
            done = hand_fix.correct_mission(
                conn, user.tenant_id, mission_id, document, reason, actor=user.id, now=now()
            )
    except TowlineError as refused:
        fix.problems = _problems(refused)
        return _render_fix(mission_id, fix, _status(refused))
    flash(
        t(
            f"Mission {mission_id} corrigée à la main ({len(done['changes'])} changement(s)) : "
            "les tablettes la recevront à leur prochaine synchronisation.",
            f"Mission {mission_id} corrected by hand ({len(done['changes'])} change(s)): "
            "tablets receive it at their next sync.",
        ),
        "ok",
    )
    return redirect(url_for("desk.cleaning_fix", mission_id=mission_id))


@desk.route("/missions/<mission_id>/fix/rule", methods=["POST"], endpoint="cleaning_fix_rule")
@page(Right.EDIT_CONTRACTS)
def cleaning_fix_rule(mission_id: str) -> Any:
    """Publish the proposed rule set (as edited) as the party's next version."""
    fix = Fix(draft=request.form.get("document", ""))
    user = current()
    with reader().connect() as conn:
        held = _mission(conn, mission_id)
    if held is None:
        return not_found()
    party_id = held["ordering_party_id"]
    if not party_id:
        fix.rule_problems = [
            t("Cette mission n'a pas de donneur d'ordre.", "This mission has no ordering party.")
        ]
        return _render_fix(mission_id, fix, 409)
    if not _confirmed():
        fix.rule_problems = _unconfirmed()
        return _render_fix(mission_id, fix, 400)
    try:
        document = parse_json(fix.draft or "", RULESET)
        with engine().begin() as conn:
            made = cleaning_store.publish(
                conn, user.tenant_id, party_id, document, actor=user.id, now=now()
            )
    except TowlineError as refused:
        fix.rule_problems = _problems(refused)
        return _render_fix(mission_id, fix, _status(refused))
    flash(
        t(
            f"Règle publiée : règles de nettoyage de {party_id} version {made['version']}.",
            f"Rule published: {party_id}'s cleaning rules version {made['version']}.",
        ),
        "ok",
    )
    return redirect(url_for("desk.cleaning", party=party_id))


@desk.route("/missions/<mission_id>/bug-report.json", endpoint="bug_report")
@page(Right.RECONCILE)
def bug_report(mission_id: str) -> Any:
    """The bug report bundle (`server.parties.bug_report`) as a file to attach to a bug."""
    with reader().connect() as conn:
        if _mission(conn, mission_id) is None:
            return not_found()
        report = bug_report_module.bug_report(conn, current().tenant_id, mission_id, now=now())
    body = json.dumps(report, ensure_ascii=False, indent=2, default=str)
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", mission_id)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="bug-report-{name}.json"'},
    )

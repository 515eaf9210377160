"""What waits to be sent, when the tablet last synced, and the Sync button.

The button runs the same `fieldclient.syncing.sync` as `towline-field sync`. Without
network nothing is lost: the entries stay in the outbox and the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash

from fieldclient import store
from fieldclient.screen.context import (
    back_to,
    lang,
    page,
    screen,
    settings,
    signed_in,
    status_of,
    t,
    tablet,
    tr,
)
from shared.errors import TowlineError
from shared.i18n import Text

ENTRY_KINDS: Mapping[str, Text] = {
    "valuation_recorded": Text("valorisation", "valuation"),
    "mission_step": Text("étape de mission", "mission step"),
    "collection": Text("encaissement", "collection"),
    "reversal": Text("annulation d'encaissement", "reversal"),
    "discount": Text("remise", "discount"),
    "deferral": Text("facturation ultérieure", "bill later"),
    "dispute": Text("litige", "dispute"),
    "register_opened": Text("ouverture de caisse", "register opened"),
    "bank_deposit": Text("dépôt en banque", "bank deposit"),
    "register_closed": Text("fermeture de caisse", "register closed"),
    "office_decision_applied": Text("décision du bureau appliquée", "office decision applied"),
    "approval_refused": Text("code d'accord refusé", "approval code refused"),
    "pin_refused": Text("code PIN refusé", "PIN refused"),
}


def _waiting() -> list[tuple[str, int]]:
    rows = tablet().db.execute(
        "SELECT j.type, COUNT(*) FROM outbox o JOIN journal j ON j.seq = o.seq"
        " GROUP BY j.type ORDER BY COUNT(*) DESC, j.type"
    )
    return [(tr(ENTRY_KINDS[k]) if k in ENTRY_KINDS else str(k), int(n)) for k, n in rows]


def sync_page(status: int = 200, error: str | None = None) -> Any:
    device = tablet()
    return page(
        "sync.html",
        status,
        waiting=device.pending_count(),
        kinds=_waiting(),
        last=device.meta(store.LAST_SYNC_AT),
        server=device.meta("server_url"),
        device_id=device.device_id,
        error=error,
    )


@screen.route("/sync")
@signed_in
def sync() -> Any:
    return sync_page()


@screen.route("/sync", methods=["POST"])
@signed_in
def sync_now() -> Any:
    from fieldclient import syncing  # the network stack, only when the driver syncs
    from sync.errors import ServerUnreachable, SyncError

    device = tablet()
    make = settings().sync_client
    try:
        client = make(device, lang()) if make else syncing.new_client(device, lang=lang())
        report = syncing.sync(device, client)
    except ServerUnreachable as unreachable:
        waiting = device.pending_count()
        kept = t(
            f" {waiting} entrée(s) restent sur la tablette et partiront à la prochaine"
            " synchronisation.",
            f" {waiting} entr(y/ies) stay on the tablet and will be sent at the next sync.",
        )
        return sync_page(503, unreachable.message(lang()) + kept)
    except SyncError as refused:
        return sync_page(502, refused.message(lang()))
    except TowlineError as refused:
        return sync_page(status_of(refused), refused.message(lang()))
    flash(
        t(
            f"Synchronisé : {report.pushed} entrée(s) envoyée(s), {report.changes}"
            f" changement(s) reçu(s), {report.decisions} décision(s) du bureau appliquée(s).",
            f"Synced: {report.pushed} entr(y/ies) sent, {report.changes} change(s) received,"
            f" {report.decisions} office decision(s) applied.",
        ),
        "ok",
    )
    for warning in report.warnings:
        flash(warning, "error")
    return back_to("screen.sync")

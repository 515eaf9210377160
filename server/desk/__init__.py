"""The office desk: server-rendered pages for clerks, managers and admins.

`register(app)` mounts it at /desk. Each page module below adds its routes to the one
blueprint (`server.desk.blueprint.desk`); `server.desk.session.page(right)` guards them.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, url_for

from server.desk.blueprint import desk

# The page modules, imported for their routes.
PAGES = (
    "server.desk.session",
    "server.desk.glance",
    "server.desk.anomaly_pages",
    "server.desk.resolution_pages",
    "server.desk.mission_pages",
    "server.desk.mission_terms_pages",
    "server.desk.register_pages",
    "server.desk.document_pages",
    "server.desk.receipt_pages",
    "server.desk.refund_receipt_pages",
    "server.desk.contract_pages",
    "server.desk.admin_pages",
    "server.desk.party_pages",
    "server.desk.claim_pages",
    "server.desk.cleaning_pages",
    "server.desk.debt_pages",
    "server.desk.debtor_deferral_pages",
    "server.desk.export_pages",
    "server.desk.report_pages",
    "server.desk.commission_pages",
    "server.desk.times",
    "server.desk.dispatch_pages",
    "server.desk.phone_order_pages",
    "server.desk.lookup_pages",
)


def register(app: Flask) -> None:
    from importlib import import_module

    for name in PAGES:
        import_module(name)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's own expiry bounds it
    app.register_blueprint(desk)

    def home() -> Any:
        return redirect(url_for("desk.glance"))

    app.add_url_rule("/", "home", home)

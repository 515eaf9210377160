"""The JSON API (`/api/v1`): one blueprint per kind of thing, the bearer-token checks
(`security`) and the OpenAPI page; `server.app` registers them all.

May import any area below it (platform, people, office, devices, parties); never the desk
or the command line.
"""

from __future__ import annotations

from server.api import (
    accounting,
    anomalies,
    approvals,
    attachments,
    auth,
    changes,
    claims,
    commissions,
    contracts,
    debtor_deferral,
    debts,
    decisions,
    devices,
    dispatch,
    documents,
    drivers,
    fact_approvals,
    mission_terms,
    missions,
    office_payments,
    orders,
    parties,
    party_files,
    party_setup,
    receipts,
    reports,
    sync,
    users,
)

BLUEPRINTS = [
    auth.blp,
    devices.blp,
    users.blp,
    drivers.blp,
    parties.blp,
    contracts.blp,
    missions.blp,
    approvals.blp,
    decisions.blp,
    documents.blp,
    anomalies.blp,
    sync.blp,
    changes.changes_blp,
    attachments.attachments_blp,
    claims.claims_blp,
    orders.party_blp,
    party_setup.setup_blp,
    party_files.files_blp,
    debts.debts_blp,
    debtor_deferral.deferral_blp,
    office_payments.payments_blp,
    accounting.accounting_blp,
    reports.reports_blp,
    commissions.commissions_blp,
    receipts.receipts_blp,
    dispatch.dispatch_blp,
    mission_terms.terms_blp,
    fact_approvals.fact_approvals_blp,
]

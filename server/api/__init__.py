"""The API's blueprints, one per kind of thing; `server.app` registers them all."""

from __future__ import annotations

from server.views import (
    anomalies,
    approvals,
    attachments,
    auth,
    claims,
    contracts,
    decisions,
    devices,
    documents,
    drivers,
    missions,
    orders,
    parties,
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
    attachments.attachments_blp,
    claims.claims_blp,
    orders.party_blp,
]

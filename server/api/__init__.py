"""The JSON API (`/api/v1`): one blueprint per kind of thing, the bearer-token checks
(`security`) and the OpenAPI page; `server.app` registers them all.

May import any area below it (platform, people, office, devices, parties); never the desk
or the command line.
"""

from __future__ import annotations

from server.api import (
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

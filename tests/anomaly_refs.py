"""The ref a page or the API shows for an anomaly's row id (server/platform/public_ids.py),
for tests that find an anomaly in the database and then ask for it by URL."""

from __future__ import annotations

from typing import Any

from server.platform import public_ids


def anomaly_ref(app: Any, row_id: int) -> int:
    with app.app_context():
        return public_ids.to_ref(public_ids.ANOMALY, int(row_id))

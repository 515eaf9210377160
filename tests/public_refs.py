"""Refs of any kind (server/platform/public_ids.py) for tests that read rows in the
database and then meet them in URLs and answers, or the reverse."""

from __future__ import annotations

from typing import Any

from server.platform import public_ids


def public_ref(app: Any, kind: str, row_id: int) -> int:
    with app.app_context():
        return public_ids.to_ref(kind, int(row_id))


def row_id_of(app: Any, kind: str, ref: int) -> int:
    with app.app_context():
        row_id = public_ids.from_ref(kind, int(ref))
    assert row_id is not None
    return row_id

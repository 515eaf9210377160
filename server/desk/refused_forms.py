"""A refused form's typed values and problems, kept in the session for one redirect.

A refusal answers with a redirect to the form's page (Post/Redirect/Get), so reloading
the page shows the refusal again and never posts the form twice; the page takes back
what was typed, until the form is posted again, accepted, or another page with a kept
form is opened. The session is a signed cookie (about 4 kB in browsers), so a form too
large to keep is not kept: `keep` says so and the caller answers the refusal directly,
as before (reloading that answer asks the browser to post again).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from flask import session

KEY = "refused_form"
# The cookie also holds the desk's session and the CSRF token: stay well under 4 kB.
BUDGET = 1800


def keep(name: str, values: dict[str, Any], problems: dict[str, Any]) -> bool:
    """Keep `values` and `problems` for the next page named `name`; False when too large."""
    kept = {"name": name, "values": values, "problems": problems}
    size = len(zlib.compress(json.dumps(kept, separators=(",", ":")).encode()))
    if size > BUDGET:
        return False
    session[KEY] = kept
    return True


def take(name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """What `keep` kept for `name`. It stays until the form is posted again or `drop`ped,
    so reloading the page shows the same refusal; another page's leftovers are dropped."""
    kept = session.get(KEY)
    if not isinstance(kept, dict) or kept.get("name") != name:
        session.pop(KEY, None)
        return None
    return dict(kept["values"]), dict(kept["problems"])


def drop() -> None:
    """Forget the kept form (it was accepted, or the user starts again)."""
    session.pop(KEY, None)

"""A refused form's typed values and problems, kept in the session for one redirect.

A refusal answers with a redirect to the form's page (Post/Redirect/Get), so reloading
the page shows the refusal again and never posts the form twice; the page takes back
what was typed, until the form is posted again, accepted, or another page with a kept
form is opened. The session is a signed cookie (about 4 kB in browsers), so a form too
large to keep is not kept: `keep` says so and the caller answers the refusal directly,
as before (reloading that answer asks the browser to post again).

Forms that are opened afresh by links (a new call, a payment) use `back_to` and
`take_back`: the refusal's redirect carries `?refused=1`, and the page visited without it
starts blank.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from flask import redirect, request, session, url_for
from werkzeug.wrappers import Response

KEY = "refused_form"
# The query mark of the page a refusal redirects to: a plain visit starts a blank form.
MARK = "refused"
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


def back_to(endpoint: str, **values: Any) -> Response:
    """The redirect of a refusal kept by `keep`: 303 (the browser GETs the page, and a
    reload posts nothing) to `endpoint`'s page, marked so it takes the form back."""
    return redirect(url_for(endpoint, **{**values, MARK: "1"}), 303)


def take_back(name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """`take` on the page `back_to` leads to; visited without the mark (a link, a new
    form), the page forgets the kept form and starts blank."""
    if request.args.get(MARK) != "1":
        drop()
        return None
    return take(name)

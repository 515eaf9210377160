"""The refusals every operation of the OpenAPI document lists, added by rule when the
document is generated (an apispec plugin), so no operation can forget one:

- 400 (invalid JSON, or nested too deeply: `json_too_deep`) and 413 (`body_too_large`):
  every operation that takes a body;
- 401, with `WWW-Authenticate`: every operation that takes a bearer token;
- 403: an office user's operation that needs a right (the role may lack it), and every
  tablet's (the tablet may have been revoked);
- 404: every operation with an id in its path (absent, or another company's: the same);
- 409: an operation whose description names a 409 (already done, changed meanwhile).

Others (a 401 of an operation that takes no token, every 429) are declared where they
happen, with `@blp.alt_response(429, response="RateLimited")`. Every refusal is a
`Problem` (server/platform/problems.py), `application/problem+json`.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from apispec import BasePlugin

from server.platform.problems import MEDIA_TYPE

RIGHT_NEEDED = "x-towline-right"  # set by server.api.security; removed from the document


class Problem(ma.Schema):
    """A refusal (RFC 9457 with the fields clients have always read)."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(metadata={"description": "the code as a URI (a tag: not a page)"})
    title = ma.fields.String(metadata={"description": "the HTTP status, for a person"})
    detail = ma.fields.String(metadata={"description": "the same as message"})
    instance = ma.fields.String(metadata={"description": "the path asked for"})
    code = ma.fields.String(metadata={"description": "stable, for programs"})
    message = ma.fields.String(metadata={"description": "for a person, in Accept-Language"})
    problems = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "invalid input: every problem by its path"}
    )


REFUSALS: dict[str, tuple[str, str]] = {
    "400": ("BadBody", "Invalid or too deeply nested JSON (`invalid_json`, `json_too_deep`)"),
    "401": ("Unauthenticated", "No usable token (`unauthenticated`, `token_invalid`…)"),
    "403": ("Forbidden", "The right is missing, or the tablet was revoked"),
    "404": ("NotFound", "Unknown, or another company's (the same answer)"),
    "409": ("Conflict", "Refused by what is recorded (already done, changed meanwhile)"),
    "413": ("BodyTooLarge", "`body_too_large`: over 4 MiB on the wire, 16 MiB inflated"),
    "429": ("RateLimited", "Too many attempts: wait `Retry-After` seconds"),
}
WWW_AUTHENTICATE = {
    "description": 'Bearer realm="user", "device" or "party_key": the token it takes',
    "schema": {"type": "string"},
}
RETRY_AFTER = {"description": "seconds to wait", "schema": {"type": "integer"}}


def components() -> dict[str, dict[str, Any]]:
    """The refusals' response components, by name."""
    made = {}
    for status, (name, description) in REFUSALS.items():
        response: dict[str, Any] = {
            "description": description,
            "content": {MEDIA_TYPE: {"schema": "Problem"}},
        }
        if status == "401":
            response["headers"] = {"WWW-Authenticate": WWW_AUTHENTICATE}
        if status == "429":
            response["headers"] = {"Retry-After": RETRY_AFTER}
        made[name] = response
    return made


def refusals(path: str, verb: str, operation: dict[str, Any]) -> list[str]:
    """Which refusals the rules above give this operation."""
    found = []
    schemes = {name for need in operation.get("security") or [] for name in need}
    takes_body = "requestBody" in operation or verb in ("post", "put", "patch")
    text = f"{operation.get('summary', '')} {operation.get('description', '')}"
    if takes_body:
        found += ["400", "413"]
    if schemes:
        found.append("401")
    if "device" in schemes or operation.get(RIGHT_NEEDED):
        found.append("403")
    if "{" in path:
        found.append("404")
    if "409" in text:
        found.append("409")
    return found


class RefusalsPlugin(BasePlugin):
    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for verb, operation in (operations or {}).items():
            if not isinstance(operation, dict):
                continue
            answers = operation.setdefault("responses", {})
            for status in refusals(path or "", verb, operation):
                if status not in answers and int(status) not in answers:
                    answers[status] = REFUSALS[status][0]
            operation.pop(RIGHT_NEEDED, None)

"""The server's refusals: each a `TowlineError` (a message in French and English) with
the HTTP status and the stable `code` a client can branch on. The app's error handler
turns any of them into `{"code", "message"}` in the request's language.
"""

from __future__ import annotations

from shared.errors import TowlineError


class ApiError(TowlineError):
    """A refusal with an HTTP status; `code` names the case for programs."""

    status = 400
    code = "bad_request"

    def __init__(
        self, fr: str, en: str, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(fr, en)
        if code is not None:
            self.code = code
        self.headers = headers or {}


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Unprocessable(ApiError):
    status = 422
    code = "invalid_request"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"


def not_found(what_fr: str, what_en: str, ident: str) -> NotFound:
    """The same answer whether the thing is absent or another tenant's: no hint."""
    return NotFound(f"{what_fr} introuvable : {ident}", f"{what_en} not found: {ident}")


# Statuses for the core's own errors, which carry no HTTP status.
CORE_STATUS = {"invalid_document": 422, "valuation_refused": 422, "refused": 409}

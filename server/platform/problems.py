"""The one shape of every refusal of the JSON API: an RFC 9457 problem document that
keeps the fields clients have always read.

    HTTP/1.1 409 CONFLICT
    Content-Type: application/problem+json

    {"type": "tag:towline,2026:problem:mission_already_cancelled",
     "title": "Conflit", "detail": "La mission M-1 est déjà annulée.",
     "instance": "/api/v1/missions/M-1/cancel",
     "code": "mission_already_cancelled", "message": "La mission M-1 est déjà annulée."}

`code` (stable, for programs) and `message` (for a person, in the request's language) are
what clients branch on and show; `type` is `code` as a URI (a tag URI: it names the case,
it is not a page to fetch), `detail` repeats `message`, `title` names the HTTP status in
the same language, `instance` is the path asked for. RFC 9457's optional `status` member
is left out on purpose: the push has answered `"status": "gap"` / `"fork"` since
protocol 1, and tablets in the field read it (docs/sync-protocol.md "Errors").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, json, request

from shared.i18n import Text

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "tag:towline,2026:problem:"

TITLES: dict[int, Text] = {
    400: Text("Requête incorrecte", "Bad request"),
    401: Text("Authentification requise", "Authentication required"),
    403: Text("Accès refusé", "Forbidden"),
    404: Text("Introuvable", "Not found"),
    405: Text("Méthode non permise", "Method not allowed"),
    406: Text("Format non disponible", "Not acceptable"),
    409: Text("Conflit", "Conflict"),
    411: Text("Longueur requise", "Length required"),
    413: Text("Corps trop volumineux", "Content too large"),
    415: Text("Type de contenu non pris en charge", "Unsupported media type"),
    422: Text("Contenu invalide", "Unprocessable content"),
    426: Text("Mise à jour requise", "Upgrade required"),
    429: Text("Trop de requêtes", "Too many requests"),
    500: Text("Erreur interne", "Internal server error"),
}
OTHER = Text("Refus", "Refused")


def problem(
    code: str, message: str, http_status: int, lang: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The body of a refusal; `extra` adds the case's own fields (`problems`, the push's
    `status` and `acknowledged`…)."""
    title = TITLES.get(http_status, TITLES[500] if http_status >= 500 else OTHER)
    return {
        "type": TYPE_PREFIX + code,
        "title": title(lang),
        "detail": message,
        "instance": request.path,
        **(extra or {}),
        "code": code,
        "message": message,
    }


def respond(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Response:
    """A problem document as a response, with its media type."""
    answer = Response(json.dumps(body) + "\n", status=status, mimetype=MEDIA_TYPE)
    answer.headers.update(headers or {})
    return answer

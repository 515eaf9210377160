"""The Flask app (the Flask tutorial's factory): `create_app()` for gunicorn,
`create_app({...})` for tests.

Configuration, later wins: the defaults below, then `TOWLINE_*` environment variables
(`TOWLINE_DATABASE_URL`, `TOWLINE_SECRET_KEY`, `TOWLINE_VAR_DIR`…; JSON values are
parsed, so `TOWLINE_MAX_CONTENT_LENGTH=1048576` is a number), then the mapping passed
in. Without a SECRET_KEY, one is read from (or created in) `var/secret_key`, owner-only.
Nothing connects to the database at creation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import flask_smorest
from flask import Flask, Response, abort, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from server.platform import job_runtime, keys, openapi_refusals, public_ids
from server.platform.db import DEFAULT_URL, make_engine
from server.platform.errors import CORE_STATUS, ApiError
from server.platform.gzip_body import ERROR, GUNZIPPED, GzipRequests
from server.platform.json_depth import MAX_DEPTH, too_deep
from server.platform.problems import MEDIA_TYPE, problem, respond
from server.platform.web import ENGINE, lang
from shared.errors import InvalidDocument, TowlineError
from shared.i18n import Text
from shared.schema_tools import problems

API_PREFIX = "/api/v1"


def utc_now() -> datetime:
    return datetime.now(UTC)


DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": DEFAULT_URL,
    "VAR_DIR": "var",  # the token key and the server's Ed25519 key live here
    "SECRET_KEY": None,
    "CLOCK": utc_now,
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,  # bytes on the wire (compressed or not)
    "MAX_DECOMPRESSED_LENGTH": 16 * 1024 * 1024,  # a gzip body, once inflated
    "ATTACHMENT_MAX_BYTES": 8 * 1024 * 1024,  # one photo, signature or report from a tablet
    "USER_TOKEN_SECONDS": 30 * 60,
    "DEVICE_TOKEN_SECONDS": 15 * 60,
    "API_TITLE": "Towline",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": API_PREFIX,
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "Towline's sync server and office API. Messages for people are in "
            "French by default; send `Accept-Language: en` for English."
        },
    },
}
SECURITY_SCHEMES = {
    "user": {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/login"},
    "device": {
        "type": "http",
        "scheme": "bearer",
        "description": "POST /api/v1/devices/challenge, then /api/v1/devices/session",
    },
    "party_key": {
        "type": "http",
        "scheme": "bearer",
        "description": "an ordering party's API key <id>.<secret> (docs/orders.md)",
    },
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(job_runtime.DEFAULTS)  # who renders documents after the request
    app.config.from_prefixed_env("TOWLINE")
    app.config.update(config or {})
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = keys.secret_key(Path(app.config["VAR_DIR"]))
    app.extensions[ENGINE] = app.config.get("ENGINE") or make_engine(app.config["DATABASE_URL"])
    job_runtime.install(app)
    # Refs for rows numbered across tenants, in URLs and on pages (public_ids.py).
    app.url_map.converters.update(public_ids.CONVERTERS)
    for name, converter in public_ids.CONVERTERS.items():  # `{{ a.id|anomaly_ref }}`
        app.add_template_filter(
            lambda row_id, kind=converter.kind: public_ids.to_ref(kind, row_id), name
        )

    api = TowlineApi(app, spec_kwargs={"extra_plugins": [openapi_refusals.RefusalsPlugin()]})
    for converter in public_ids.CONVERTERS.values():
        api.register_converter(
            converter,
            lambda _: {"type": "integer", "minimum": 0, "maximum": public_ids.LIMIT - 1},
        )
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    for name, response in openapi_refusals.components().items():
        api.spec.components.response(name, response)
    from server import reactions  # noqa: F401  # areas subscribe to each other's events
    from server.api import BLUEPRINTS  # the views need the app's helpers, not the reverse

    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    from server.api.apidocs import docs_page

    app.extensions["towline.api"] = api
    app.add_url_rule(f"{API_PREFIX}/docs", "api_docs", docs_page)

    from server import desk

    desk.register(app)
    app.register_error_handler(TowlineError, towline_error)
    app.register_error_handler(ValidationError, lambda e: invalid_request(e.messages))
    app.before_request(check_body)
    limits: Callable[[], tuple[int, int]] = lambda: (  # noqa: E731
        int(app.config["MAX_CONTENT_LENGTH"]),
        int(app.config["MAX_DECOMPRESSED_LENGTH"]),
    )
    app.wsgi_app = GzipRequests(app.wsgi_app, limits)  # type: ignore[method-assign]
    return app


# --- errors: one problem document (server/platform/problems.py) --------------------


def error_body(
    code: str, text: Text, status: int = 400, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response:
    """A refusal of the JSON API, in the request's language; a 401 names its scheme."""
    body = problem(code, text(lang()), status, lang(), extra)
    sent = dict(headers or {})
    if status == 401:  # one spelling for the three schemes, whoever raised it
        sent["WWW-Authenticate"] = challenge()
    return respond(body, status, sent)


def challenge() -> str:
    """The `WWW-Authenticate` of a 401 (RFC 6750): the bearer scheme the operation takes,
    as its realm, named like the OpenAPI document's security schemes; `invalid_token`
    when a token was sent."""
    realm = bearer_scheme()
    sent = request.headers.get("Authorization", "").strip()
    return f'Bearer realm="{realm}"' + (', error="invalid_token"' if sent else "")


def bearer_scheme() -> str:
    """Which of the three bearer tokens the matched operation takes (its OpenAPI
    `security`); an operation that takes none is a tablet's (enrolment, session) or an
    office user's (sign-in)."""
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    method = getattr(view_class, request.method.lower(), None) if view_class else view
    security = getattr(method, "_apidoc", {}).get("manual_doc", {}).get("security") or [{}]
    named = next(iter(security[0]), None)
    if named in SECURITY_SCHEMES:
        return str(named)
    return "device" if request.path.startswith(f"{API_PREFIX}/devices/") else "user"


def towline_error(error: TowlineError) -> Response:
    """Every refusal of the core or the server: 4xx with its code and message."""
    status = error.status if isinstance(error, ApiError) else CORE_STATUS.get(error.code, 400)
    headers = error.headers if isinstance(error, ApiError) else {}
    extra: dict[str, Any] = {}
    if isinstance(error, InvalidDocument):
        extra["problems"] = [{"path": p.path, "message": p.text(lang())} for p in error.problems]
    return error_body(error.code, error.text, status, headers, **extra)


def invalid_request(messages: Any, status: int = 422) -> Response:
    """marshmallow's errors as path-named problems; the location (`json`, `query`) is
    dropped from the path when it is the body."""
    if isinstance(messages, Mapping) and set(messages) <= {"json"}:
        messages = messages.get("json", messages)
    found = problems(messages)
    count = len(found)
    head = Text(
        f"Requête invalide : {count} erreur{'s' if count > 1 else ''}",
        f"Invalid request: {count} error{'s' if count > 1 else ''}",
    )
    return error_body(
        "invalid_request",
        head,
        status,
        problems=[{"path": p.path, "message": p.text(lang())} for p in found],
    )


_HTTP_TEXTS: dict[int, tuple[str, Text]] = {
    400: ("bad_request", Text("Requête incorrecte.", "Bad request.")),
    401: ("unauthenticated", Text("Authentification requise.", "Authentication required.")),
    403: ("forbidden", Text("Accès refusé.", "Access denied.")),
    404: ("not_found", Text("Adresse inconnue.", "Unknown address.")),
    405: ("method_not_allowed", Text("Méthode non permise ici.", "Method not allowed here.")),
    406: ("not_acceptable", Text("Format de réponse non disponible.", "Not acceptable.")),
    411: ("length_required", Text("En-tête Content-Length requis.", "Content-Length required.")),
    415: ("unsupported_media_type", Text("Envoyez du JSON.", "Send JSON.")),
    500: (
        "internal_error",
        Text(
            "Erreur interne du serveur : elle a été journalisée, réessayez plus tard.",
            "Internal server error: it has been logged, try again later.",
        ),
    ),
}
TOO_DEEP = Text(
    f"Corps JSON trop imbriqué (au plus {MAX_DEPTH} niveaux de [ ] ou {{ }}) : il n'a pas été lu.",
    f"JSON body nested too deeply (at most {MAX_DEPTH} levels of [ ] or {{ }}): it was not read.",
)
INVALID_JSON = Text(
    "Corps JSON invalide : vérifiez la syntaxe.", "Invalid JSON body: check the syntax."
)


def _too_large(limit: int) -> Text:
    return Text(
        f"Corps de requête trop volumineux (au plus {limit} octets) : envoyez des lots plus "
        "petits.",
        f"Request body too large (at most {limit} bytes): send smaller batches.",
    )


class TowlineApi(flask_smorest.Api):  # type: ignore[misc]  # untyped library
    """flask-smorest's Api with our error payload: a problem document
    (server/platform/problems.py), documented as such."""

    ERROR_SCHEMA = openapi_refusals.Problem

    def _register_responses(self) -> None:
        """flask-smorest's responses per status, as problem documents."""
        self.spec.components.schema("Problem", schema=openapi_refusals.Problem)
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = {MEDIA_TYPE: {"schema": "Problem"}}
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "A refusal", "content": {MEDIA_TYPE: {"schema": "Problem"}}}
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Any:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        if status == 422 and "messages" in data:
            return invalid_request(data["messages"])
        if status == 400 and data.get("messages") == {"json": ["Invalid JSON body."]}:
            return error_body("invalid_json", INVALID_JSON, 400)
        if status == 413:
            return error_body(BODY_TOO_LARGE, _too_large(request.max_content_length or 0), 413)
        code, text = _HTTP_TEXTS.get(
            status, (error.name.lower().replace(" ", "_"), Text(error.name, error.name))
        )
        if status >= 500:
            code, text = _HTTP_TEXTS[500]
        return error_body(code, text, status, dict(data.get("headers") or {}))


BODY_TOO_LARGE = "body_too_large"  # the code docs/sync-protocol.md gives, on every endpoint
_BODY_ERRORS: dict[str, tuple[int, str, Text]] = {
    "unsupported_encoding": (
        415,
        "unsupported_encoding",
        Text("Seul l'encodage gzip est accepté.", "Only the gzip content encoding is accepted."),
    ),
    "length_required": (
        411,
        "length_required",
        Text(
            "Un corps gzip doit annoncer sa taille (Content-Length).",
            "A gzip body must state its size (Content-Length).",
        ),
    ),
    "bad_gzip": (
        400,
        "bad_gzip",
        Text("Corps gzip illisible ou tronqué.", "Unreadable or truncated gzip body."),
    ),
}


def check_body() -> Any:
    """Before any view, any token check and any parser: the gzip middleware's refusals, a
    body over its limit (413 `body_too_large`, even where the view would never read it) and
    a JSON body nested too deeply for Python's parser (400 `json_too_deep`). The desk
    answers these itself, with a page (server/desk/blueprint.py)."""
    desk = request.blueprint == "desk"
    if not desk and (
        any("\x00" in str(v) for v in (request.view_args or {}).values())
        or any("\x00" in k or "\x00" in v for k, v in request.args.items(multi=True))
    ):
        text = Text("Caractère nul refusé dans l'adresse.", "Null character refused in the URL.")
        return error_body("bad_request", text, 400)
    reason = request.environ.get(ERROR)
    wire_limit = int(current_app.config["MAX_CONTENT_LENGTH"])
    if reason is None and (request.content_length or 0) > wire_limit:
        reason = "too_large"  # refused now, not when (or if) the view reads it
    if reason in ("too_large", "too_large_decompressed"):
        if desk:
            abort(413)
        limit = current_app.config[
            "MAX_CONTENT_LENGTH" if reason == "too_large" else "MAX_DECOMPRESSED_LENGTH"
        ]
        return error_body(BODY_TOO_LARGE, _too_large(int(limit)), 413)
    if reason in _BODY_ERRORS:
        status, code, text = _BODY_ERRORS[reason]
        return error_body(code, text, status)
    if request.environ.get(GUNZIPPED):
        request.max_content_length = int(current_app.config["MAX_DECOMPRESSED_LENGTH"])
    if not desk and request.is_json and too_deep(request.get_data(cache=True)):
        return error_body("json_too_deep", TOO_DEEP, 400)
    return None

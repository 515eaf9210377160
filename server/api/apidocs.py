"""The browsable API page at /api/v1/docs, written here so it works offline (the
Swagger and ReDoc pages flask-smorest offers load their scripts from a CDN).

It is rendered from the generated OpenAPI document: every operation with its summary,
who may call it, its parameters, its body and its answers.
"""

from __future__ import annotations

from html import escape
from typing import Any

from flask import Response, current_app

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.6rem .9rem}
.verb{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace}
.path{font-family:monospace;font-size:1.05rem}
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #eee;padding:.2rem .5rem;
text-align:left;font-size:.9rem;vertical-align:top}code{background:#f4f4f4;padding:0 .2rem}
.small{color:#666;font-size:.9rem}
"""


def _ref_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return f"[{_ref_name(schema['items'])}]"
    return str(schema.get("type", "object"))


def _properties(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        schema = schema["items"]
    if "$ref" in schema:
        schema = spec.get("components", {}).get("schemas", {}).get(_ref_name(schema), {})
    props = schema.get("properties") or {}
    if not props:
        return ""
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code>{' *' if name in required else ''}</td>"
        f"<td>{escape(_ref_name(p))}</td>"
        f"<td>{escape(str(p.get('description', '')))}</td></tr>"
        for name, p in props.items()
    )
    return f"<table><tr><th>field</th><th>type</th><th></th></tr>{rows}</table>"


def _operation(spec: dict[str, Any], path: str, verb: str, op: dict[str, Any]) -> str:
    parts = [
        f'<div class="op"><span class="verb">{escape(verb.upper())}</span>'
        f'<span class="path">{escape(path)}</span>'
    ]
    if op.get("summary"):
        parts.append(f"<div>{escape(op['summary'])}</div>")
    if op.get("security"):
        who = ", ".join(next(iter(s)) for s in op["security"])
        parts.append(f'<div class="small">bearer token: {escape(who)}</div>')
    for param in op.get("parameters", []):
        parts.append(
            f'<div class="small">{escape(param.get("in", ""))} parameter '
            f"<code>{escape(param.get('name', ''))}</code></div>"
        )
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    if body.get("schema"):
        parts.append(f"<div>Body: <code>{escape(_ref_name(body['schema']))}</code></div>")
        parts.append(_properties(spec, body["schema"]))
    answers = ", ".join(
        f"{escape(code)} {escape(str(r.get('description', '')))}"
        for code, r in sorted(op.get("responses", {}).items())
    )
    parts.append(f'<div class="small">Answers: {answers}</div></div>')
    return "".join(parts)


def render(spec: dict[str, Any]) -> str:
    by_tag: dict[str, list[str]] = {}
    for path, item in sorted(spec.get("paths", {}).items()):
        for verb, op in item.items():
            if verb in ("get", "post", "put", "patch", "delete"):
                tag = (op.get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append(_operation(spec, path, verb, op))
    info = spec.get("info", {})
    sections = "".join(
        f"<h2>{escape(tag)}</h2>{''.join(ops)}" for tag, ops in sorted(by_tag.items())
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(info.get('title', 'API'))} API</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(info.get('title', 'API'))} API {escape(info.get('version', ''))}</h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        "<p>Machine-readable: <a href='openapi.json'>openapi.json</a>. Errors are RFC 9457 "
        "problem documents (<code>application/problem+json</code>) with <code>code</code> "
        "and <code>message</code>, and <code>problems</code> for invalid input.</p>"
        f"{sections}</body></html>"
    )


def docs_page() -> Response:
    spec = current_app.extensions["towline.api"].spec.to_dict()
    return Response(render(spec), mimetype="text/html")

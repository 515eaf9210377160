"""Today at a glance (being written)."""

from __future__ import annotations

from typing import Any

from flask import render_template_string

from server.desk.blueprint import desk
from server.desk.session import page


@desk.route("/")
@page()
def glance() -> Any:
    return render_template_string(
        '{% extends "desk/base.html" %}{% block content %}'
        '<h1>{{ t("Aujourd\'hui", "Today") }}</h1>{% endblock %}'
    )

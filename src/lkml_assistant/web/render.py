# SPDX-License-Identifier: GPL-2.0-or-later
"""Templates to HTML responses: one Jinja2 environment, autoescaped, and the pages' headers.

Everything a page shows from mail (subjects, names, bodies, Message-IDs) is untrusted:
autoescaping is on for every template, links from data go through
:func:`~lkml_assistant.web.views.safe_href`, and every page carries a Content-Security-Policy
that allows only this origin's stylesheet and images, no script at all, no frames.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from aws_lambda_powertools.event_handler import Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from lkml_assistant import __version__
from lkml_assistant.models.api import ErrorDetail
from lkml_assistant.web import views

HTML = "text/html; charset=utf-8"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

_PACKAGE = resources.files("lkml_assistant.web")


@cache
def environment() -> Environment:
    """Built once per process; templates compile on first use and stay compiled."""
    env = Environment(
        loader=FileSystemLoader(str(_PACKAGE / "templates")),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        href=views.safe_href,
        when=views.when,
        iso=views.iso,
        segment=views.segment,
        patch_title=views.patch_title,
    )
    env.globals.update(version=__version__)
    return env


def page(template: str, *, status: int = 200, **context: Any) -> Response[str]:
    body = environment().get_template(template).render(**context)
    return Response(status_code=status, content_type=HTML, body=body, headers=dict(PAGE_HEADERS))


def error_page(
    status: int, message: str, details: list[ErrorDetail] | None = None, *, base: str = ""
) -> Response[str]:
    titles = {400: "Bad request", 404: "Not found", 500: "Something went wrong"}
    return page(
        "error.html",
        status=status,
        base=base,
        title=titles.get(status, f"Error {status}"),
        status_code=status,
        message=message,
        details=details or [],
        twin=None,
    )


def redirect(location: str) -> Response[str]:
    return Response(
        status_code=303,
        content_type=HTML,
        body="",
        headers={**PAGE_HEADERS, "Location": location},
    )


@cache
def static_files() -> dict[str, tuple[str, str]]:
    """The stylesheet and icon (text both), read once: name -> (content, media type)."""
    found: dict[str, tuple[str, str]] = {}
    for entry in (_PACKAGE / "static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in STATIC_TYPES:
            found[entry.name] = (entry.read_text(encoding="utf-8"), STATIC_TYPES[suffix])
    return found

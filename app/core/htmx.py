"""The one place that knows htmx: its asset, its configuration, and its request and
response headers. An htmx upgrade is a change to this file (and static/vendor/htmx/).

Pages are one template with named blocks; a normal request gets the whole page, an htmx
request the named block (jinja2-fragments), and such responses say ``Vary: HX-Request``
so that no cache serves one for the other.
"""
from __future__ import annotations

import json

from flask import Response, make_response, render_template, request
from flask_babel import LazyString
from htmx_flask import make_response as htmx_make_response
from jinja2_fragments.flask import render_block

HTMX_ASSET = "vendor/htmx/htmx-2.0.11.min.js"

# Defensive settings: requests only to our own origin, no eval (hx-on, js: values),
# no <script> execution from swapped content, no inline indicator styles (strict CSP).
HTMX_CONFIG = {
    "selfRequestsOnly": True,
    "allowEval": False,
    "allowScriptTags": False,
    "includeIndicatorStyles": False,
    "historyCacheSize": 0,
    "refreshOnHistoryMiss": True,
    # A 400 or 422 carries the form again with its errors next to the fields (an inline
    # row editor, a filter with a bad date): swap it like a 200; other errors are not swapped.
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "400", "swap": True, "error": False},
        {"code": "422", "swap": True, "error": False},
        {"code": "[45]..", "swap": False, "error": True},
        {"code": "...", "swap": False},
    ],
}


def config_json() -> str:
    return json.dumps(HTMX_CONFIG, separators=(",", ":"))


def is_htmx() -> bool:
    """True for an htmx request that wants a fragment (not a boosted navigation or a
    history restore, which want the whole page)."""
    hx = request.htmx
    return bool(hx) and not hx.boosted and not hx.history_restore_request


def _resolved(value):
    """A label table of lazy strings as plain text, translated once for this render
    rather than once per row that shows a label."""
    if isinstance(value, dict) and value and all(isinstance(v, LazyString) for v in value.values()):
        return {k: str(v) for k, v in value.items()}
    return value


def render_page(template: str, block: str = "content", status: int = 200, **context) -> Response:
    """The whole page for a normal request, ``block`` for an htmx request."""
    context = {k: _resolved(v) for k, v in context.items()}
    if is_htmx():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def saved(event: str | dict, status: int = 204) -> Response:
    """The answer to an htmx save: no content, and an event the page listens for."""
    return htmx_make_response("", status, trigger=event)


def redirect(url: str) -> Response:
    """A redirect that works for htmx (HX-Redirect) and for plain forms (303)."""
    if is_htmx():
        return htmx_make_response("", 204, redirect=url)
    response = make_response("", 303)
    response.headers["Location"] = url
    return response

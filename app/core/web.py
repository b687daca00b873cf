"""Per-request plumbing: request ids, tenant resolution from the Host, the session
cookie bound to its host, security headers, error pages and logging context."""
from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, current_app, g, make_response, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError

from app.compliance.operations import Actor, set_context
from app.core import htmx
from app.core.db import db
from tenants.registry import HostCache
from tenants.session import pin

_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# Endpoints that never look for a tenant: the health check and static files. (The root
# page is the platform's own on the bare domain and a tenant's elsewhere.)
TENANTLESS_ENDPOINTS = frozenset({"healthz", "static"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)


class HostBoundSessionInterface(SecureCookieSessionInterface):
    """Session cookies signed with a salt that names the host they were issued for: a
    cookie from ``globex.localhost`` does not even decode on ``acme.localhost``. (The
    tenant is not resolved yet when the session opens; the host is what names it.)"""

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        from itsdangerous import URLSafeTimedSerializer

        host = request.host.split(":", 1)[0].lower()
        return URLSafeTimedSerializer(
            app.secret_key,
            salt=f"cookie-session:{host}",
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )


class RequestContextFilter(logging.Filter):
    def filter(self, record):
        try:
            record.request_id = g.get("request_id", "-")
            tenant = g.get("tenant")
            record.tenant = tenant.slug if tenant else "-"
        except RuntimeError:
            record.request_id, record.tenant = "-", "-"
        return True


def _start_request():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.tenant = None
    if request.endpoint in TENANTLESS_ENDPOINTS:
        return None
    base_domain = current_app.config["BASE_DOMAIN"].lower()
    tenant = current_app.extensions["tenant_hosts"].resolve(db.session, request.host.lower(), base_domain)
    if tenant is None:
        host = request.host.split(":", 1)[0].lower()
        if host == base_domain and request.endpoint == "platform.index":
            return None
        return render_template("errors/unknown_tenant.html"), 404
    if not tenant.active:
        return render_template("errors/suspended.html", tenant=tenant), 403
    pin(db.session, tenant)
    g.tenant = tenant
    set_context(db.session, Actor.system("anonymous request"), g.request_id, request.remote_addr)
    return None


def _finish_request(response):
    response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _whole_error_page(template: str, status: int, **context):
    """An error page is always whole (its template has no fragment to give); an htmx
    request is told not to swap it into the element that asked."""
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    if htmx.is_htmx():
        response.headers["HX-Reswap"] = "none"
    return response


def _error_page(status: int, template: str):
    def handler(error):
        return _whole_error_page(template, status, error=error)

    return handler


def _csrf_error(error: CSRFError):
    return _whole_error_page("errors/400.html", 400, error=error, csrf_failed=True)


def init_app(app: Flask) -> None:
    app.session_interface = HostBoundSessionInterface()
    app.extensions["tenant_hosts"] = HostCache(ttl=app.config["TENANT_CACHE_SECONDS"])

    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(CSRFError, _csrf_error)
    for status in (400, 403, 404, 405, 409, 413, 429, 500):
        app.register_error_handler(status, _error_page(status, f"errors/{status if status in (403, 404, 409, 500) else 400}.html"))
    handler = logging.StreamHandler()
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(tenant)s %(request_id)s] %(name)s: %(message)s"))
    app.logger.handlers = [handler]

"""Reading the tenant registry, and the plain value that stands for a tenant while a
request or a job runs (never an ORM object, so it survives commits and processes)."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tenants.models import Tenant, TenantDomain

SLUG_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
RESERVED_SLUGS = frozenset({"www", "api", "admin", "platform", "template", "static", "mail", "app", "status"})
TEMPLATE_SCHEMA = "t__template"


@dataclass(frozen=True)
class TenantRef:
    id: int
    slug: str
    name: str
    schema: str
    role: str
    status: str

    @property
    def active(self) -> bool:
        return self.status == "active"

    @classmethod
    def of(cls, tenant: Tenant) -> "TenantRef":
        return cls(tenant.id, tenant.slug, tenant.name, tenant.schema_name, tenant.role_name, tenant.status)


def schema_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


def validate_slug(slug: str) -> str | None:
    """The reason ``slug`` cannot name a tenant, or None."""
    if not 2 <= len(slug) <= 30:
        return "a slug has 2 to 30 characters"
    if not SLUG_RE.match(slug):
        return "a slug is lower-case letters, digits and single hyphens, starting with a letter"
    if slug in RESERVED_SLUGS:
        return f"'{slug}' is reserved"
    return None


def by_slug(session: Session, slug: str) -> TenantRef | None:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    return TenantRef.of(tenant) if tenant else None


def resolve_host(session: Session, host: str, base_domain: str) -> TenantRef | None:
    """The tenant a request's Host names: ``<slug>.<base_domain>`` or a registered
    custom domain. None for the bare base domain and for unknown hosts."""
    host = host.split(":", 1)[0].strip().lower().rstrip(".")
    base = base_domain.lower()
    if host.endswith("." + base):
        label = host[: -len(base) - 1]
        if "." in label or validate_slug(label):
            return None
        return by_slug(session, label)
    tenant = session.scalar(select(Tenant).join(TenantDomain).where(TenantDomain.domain == host))
    return TenantRef.of(tenant) if tenant else None


class HostCache:
    """Host → tenant, remembered in-process for ``ttl`` seconds so that a request
    costs no registry query. A suspension or a new custom domain is seen by every
    process within ``ttl`` (and at once by the one that made the change)."""

    def __init__(self, ttl: float = 5.0):
        self.ttl = ttl
        self._entries: dict[str, tuple[float, TenantRef | None]] = {}

    def resolve(self, session: Session, host: str, base_domain: str) -> TenantRef | None:
        now = time.monotonic()
        hit = self._entries.get(host)
        if hit is not None and hit[0] > now:
            return hit[1]
        tenant = resolve_host(session, host, base_domain)
        if len(self._entries) > 10_000:  # unknown hosts must not grow it without bound
            self._entries.clear()
        self._entries[host] = (now + self.ttl, tenant)
        return tenant

    def clear(self) -> None:
        self._entries.clear()


def all_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.slug)))

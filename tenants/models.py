"""Tables in schema ``public``: the tenant registry and platform records."""
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, PublicModel


class Tenant(IdMixin, PublicModel):
    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status"),)

    slug: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    schema_name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    role_name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    suspended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    domains: Mapped[list["TenantDomain"]] = relationship(back_populates="tenant", cascade="all, delete-orphan")


class TenantDomain(IdMixin, PublicModel):
    """A custom domain (``portal.acme-med.com``) that resolves to a tenant."""

    __tablename__ = "tenant_domains"

    tenant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("public.tenants.id", ondelete="CASCADE"), nullable=False)
    domain: Mapped[str] = mapped_column(String(253), unique=True, nullable=False)

    tenant: Mapped[Tenant] = relationship(back_populates="domains")


class SchemaMigrationRun(IdMixin, PublicModel):
    """How long each schema's migration took: the record `tenants migrate` keeps."""

    __tablename__ = "schema_migration_runs"

    schema_name: Mapped[str] = mapped_column(String(63), nullable=False, index=True)
    from_revision: Mapped[str | None] = mapped_column(String(64))
    to_revision: Mapped[str] = mapped_column(String(64), nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)

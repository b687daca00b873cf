"""The database handle and the two declarative bases.

Tenant tables (``db.Model``) carry no schema: every transaction pins the tenant's schema
with ``SET LOCAL search_path`` (see ``tenants.session``). Public tables (``PublicModel``)
live in schema ``public`` and hold the tenant registry and platform data only.
"""
from datetime import datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, Identity, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class TenantBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class PublicModel(DeclarativeBase):
    metadata = MetaData(schema="public", naming_convention=NAMING)


db = SQLAlchemy(model_class=TenantBase)


class IdMixin:
    """Identity (not SERIAL) primary keys: ``CREATE TABLE … (LIKE … INCLUDING ALL)``
    gives a cloned tenant schema its own identity sequences."""

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


def ensure_unique(session, model, column, value, own_id: int | None, field: str, message: str) -> None:
    """Raise ``InvalidInput(field, message)`` when another row of ``model`` (not
    ``own_id``) already holds ``value`` in ``column``: the friendly check before the
    unique constraint (a race past it gets the 409 page)."""
    from sqlalchemy import select

    from app.core.errors import InvalidInput

    stmt = select(model.id).where(column == value)
    if own_id is not None:
        stmt = stmt.where(model.id != own_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise InvalidInput(field, message)

"""Pinning a transaction to one tenant.

Every transaction of a session that carries a tenant starts with
``set_config('search_path', …, true)`` and ``set_config('role', …, true)``: the
transaction-scoped forms of ``SET LOCAL``. Nothing survives the transaction, so a
connection returned to the pool (or to PgBouncer in transaction mode) carries no tenant
state. The tenant role has privileges on its own schema only: a query that names another
tenant's schema fails with "permission denied" instead of leaking.
"""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.orm import Session, scoped_session

from tenants.registry import TenantRef

_PIN = text("SELECT set_config('search_path', :path, true), set_config('role', :role, true)")


def _pin_connection(connection, tenant: TenantRef) -> None:
    connection.execute(_PIN, {"path": f'"{tenant.schema}", public', "role": tenant.role})


@event.listens_for(Session, "after_begin")
def _pin_new_transaction(session, transaction, connection):
    tenant = session.info.get("tenant")
    if tenant is not None:
        _pin_connection(connection, tenant)


def _real(session) -> Session:
    return session() if isinstance(session, scoped_session) else session


def pin(session: Session, tenant: TenantRef) -> None:
    """Pin ``session`` to ``tenant`` from now on, including the transaction under way."""
    session = _real(session)
    session.info["tenant"] = tenant
    if session.in_transaction():
        _pin_connection(session.connection(), tenant)


def current_tenant(session: Session) -> TenantRef | None:
    return session.info.get("tenant")


@contextmanager
def tenant_session(session: Session, tenant: TenantRef):
    """Run a block (a job, a CLI command) as ``tenant``; commits on success."""
    session = _real(session)
    if session.in_transaction():
        session.rollback()
    previous = session.info.get("tenant")
    pin(session, tenant)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop("tenant", None)
        if previous is not None:
            session.info["tenant"] = previous

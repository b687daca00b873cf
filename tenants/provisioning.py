"""Creating, suspending and dropping tenants.

A new tenant is cloned from the template schema ``t__template``, which the tenant
migrations keep at head: tables with ``LIKE … INCLUDING DEFAULTS, CONSTRAINTS, IDENTITY,
GENERATED, STORAGE, COMMENTS``, then primary, unique, exclusion and foreign keys and
indexes under their own names, views, triggers, and the rows the migrations seeded
(``alembic_version`` among them), all in one transaction. That replaces replaying the
migration history per tenant, which is what makes tenant creation slow in
schema-per-tenant systems.
"""
from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from tenants.migrations import schema_versions, tenant_head, upgrade_schema_in
from tenants.registry import TEMPLATE_SCHEMA, TenantRef, schema_for, validate_slug

# Tables the tenant role may read and append to but never change: the audit trail and
# generated documents are append-only in PostgreSQL itself, not only in Python. alembic_version is read-only.
APPEND_ONLY_TABLES = ("audit_events", "documents", "signatures", "approval_decisions")
READ_ONLY_TABLES = ("alembic_version",)


class ProvisioningError(Exception):
    pass


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_template(engine: Engine) -> None:
    """Create the template schema if missing and bring it to head."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('medchannel:template'))"))
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {TEMPLATE_SCHEMA}"))
        if schema_versions(conn, [TEMPLATE_SCHEMA])[TEMPLATE_SCHEMA] != tenant_head():
            upgrade_schema_in(conn, TEMPLATE_SCHEMA)


def grant_tenant_role(conn: Connection, schema: str, role: str) -> None:
    """The tenant role's privileges: its own schema only, DML but no DDL, and the
    append-only tables without UPDATE or DELETE. Re-applied after every migration."""
    s, r = _q(schema), _q(role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {r}"))
    conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}"))
    present = set(
        conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename = ANY(:t)"),
            {"s": schema, "t": list(APPEND_ONLY_TABLES + READ_ONLY_TABLES)},
        ).scalars()
    )
    for table in APPEND_ONLY_TABLES:
        if table in present:
            conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.{_q(table)} FROM {r}"))
    for table in READ_ONLY_TABLES:
        if table in present:
            conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {s}.{_q(table)} FROM {r}"))


def _repoint(definition: str, source: str, target: str) -> str:
    """pg_get_indexdef and pg_get_triggerdef qualify the table whatever the search
    path: point the definition at the target schema."""
    return re.sub(rf' ON (ONLY )?"?{re.escape(source)}"?\.', lambda m: f" ON {m.group(1) or ''}{_q(target)}.", definition, count=1)


_TARGET = '"__clone_target__"'  # stands for the new schema in a cached clone plan
_PLANS: dict[tuple, list[str]] = {}


def _clone_plan(conn: Connection, source: str) -> list[str]:
    """The DDL (and seed copies) that recreate ``source`` in a new schema, with the
    target written as ``_TARGET``. Read from the catalog once per template version."""
    unsupported = conn.execute(
        text(
            "SELECT 'function ' || p.proname FROM pg_proc p WHERE p.pronamespace = CAST(:s AS regnamespace) "
            "UNION ALL SELECT 'type ' || t.typname FROM pg_type t "
            "WHERE t.typnamespace = CAST(:s AS regnamespace) AND t.typtype IN ('e', 'd', 'r', 'm') "
            "UNION ALL SELECT 'materialized view ' || relname FROM pg_class "
            "WHERE relnamespace = CAST(:s AS regnamespace) AND relkind = 'm'"
        ),
        {"s": source},
    ).scalars().all()
    if unsupported:
        raise ProvisioningError(
            "tenant migrations must keep functions and types in public; found in the template: " + ", ".join(unsupported)
        )
    # Definitions are read with the source schema on the search path so that they come
    # back unqualified; they are replayed with the target schema on the search path.
    conn.execute(text("SELECT set_config('search_path', :p, true)"), {"p": _q(source)})
    tables = conn.execute(
        text("SELECT relname FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace) AND relkind IN ('r', 'p') ORDER BY oid"),
        {"s": source},
    ).scalars().all()
    sequences = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = CAST(:s AS regnamespace) AND c.relkind = 'S' "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))"
        ),
        {"s": source},
    ).scalars().all()
    # Constraints and indexes are recreated under their own names (LIKE … INCLUDING
    # INDEXES would rename them, and later migrations drop and alter them by name).
    constraints = conn.execute(
        text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = CAST(:s AS regnamespace) AND contype IN ('p', 'u', 'x', 'f') AND conrelid <> 0 "
            "ORDER BY array_position(ARRAY['p', 'u', 'x', 'f']::\"char\"[], contype), oid"
        ),
        {"s": source},
    ).all()
    indexes = conn.execute(
        text(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relnamespace = CAST(:s AS regnamespace) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY i.indexrelid"
        ),
        {"s": source},
    ).scalars().all()
    views = conn.execute(
        text("SELECT relname, pg_get_viewdef(oid) FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace) AND relkind = 'v' ORDER BY oid"),
        {"s": source},
    ).all()
    triggers = conn.execute(
        text(
            "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE c.relnamespace = CAST(:s AS regnamespace) AND NOT t.tgisinternal ORDER BY t.oid"
        ),
        {"s": source},
    ).scalars().all()
    identity = conn.execute(
        text("SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
             "WHERE c.relnamespace = CAST(:s AS regnamespace) AND a.attidentity <> ''"),
        {"s": source},
    ).all()
    populated = [
        t for t in tables if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {_q(source)}.{_q(t)})")).scalar()
    ]
    conn.execute(text("SELECT set_config('search_path', 'public', true)"))

    src, dst = _q(source), _TARGET
    # CHECK constraints come with LIKE (names and expression trees intact).
    like = ("INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY INCLUDING GENERATED "
            "INCLUDING STORAGE INCLUDING COMMENTS")
    plan = [f"SET LOCAL search_path TO {dst}, public"]
    plan += [f"CREATE SEQUENCE {dst}.{_q(seq)}" for seq in sequences]
    plan += [f"CREATE TABLE {dst}.{_q(t)} (LIKE {src}.{_q(t)} {like})" for t in tables]
    plan += [f"ALTER TABLE {dst}.{table} ADD CONSTRAINT {_q(name)} {definition}" for table, name, definition in constraints]
    plan += [_repoint(d, source, "__clone_target__") for d in indexes]
    plan += [f"CREATE VIEW {dst}.{_q(name)} AS {definition.rstrip(';')}" for name, definition in views]
    plan += [_repoint(d, source, "__clone_target__") for d in triggers]
    for table in populated:
        plan.append(f"INSERT INTO {dst}.{_q(table)} OVERRIDING SYSTEM VALUE SELECT * FROM {src}.{_q(table)}")
        plan += [f"SELECT setval(pg_get_serial_sequence('{dst}.{_q(t)}', '{c}'), "
                 f"(SELECT coalesce(max({_q(c)}), 0) + 1 FROM {dst}.{_q(t)}), false)"
                 for t, c in identity if t == table]
    return plan


def _clone_schema(conn: Connection, source: str, target: str) -> None:
    """Recreate ``source`` as ``target`` in one round trip, from a plan cached per
    template version (reading the catalog costs more than replaying it)."""
    key = (conn.engine.url.render_as_string(), source, schema_versions(conn, [source])[source])
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _clone_plan(conn, source)
    script = ";\n".join(plan).replace(_TARGET, _q(target))
    # One multi-statement batch through the driver (no parameters, so no placeholder
    # parsing of the definitions' own % signs).
    conn.connection.driver_connection.execute(script)


def recreate_database(server_url: str, name: str) -> str:
    """Drop database ``name`` (and the tenant roles named after it) and create it empty;
    return its SQLAlchemy URL. For the test suite and the bench, never for production."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = url.set(database="postgres").render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for (role,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (name + "\\_\\_%",)).fetchall():
            conn.execute(f'DROP ROLE "{role}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def role_name_for(conn: Connection, schema: str) -> str:
    """Roles are cluster-wide, so the role name carries the database's name: the demo
    and the test database on one server never share a tenant role."""
    database = conn.execute(text("SELECT current_database()")).scalar()
    role = f"{database}__{schema}"
    if len(role) > 63:
        raise ProvisioningError(f"role name {role!r} is longer than PostgreSQL's 63 characters")
    return role


def create_tenant(engine: Engine, slug: str, name: str, domains: tuple[str, ...] = ()) -> TenantRef:
    problem = validate_slug(slug)
    if problem:
        raise ProvisioningError(problem)
    ensure_template(engine)
    schema = schema_for(slug)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('medchannel:tenant:' || :s))"), {"s": slug})
        if conn.execute(text("SELECT 1 FROM public.tenants WHERE slug = :s"), {"s": slug}).first():
            raise ProvisioningError(f"tenant '{slug}' already exists")
        role = role_name_for(conn, schema)
        if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
            conn.execute(text(f"CREATE ROLE {_q(role)} NOLOGIN"))
        conn.execute(text(f"GRANT {_q(role)} TO CURRENT_USER"))
        conn.execute(text(f"CREATE SCHEMA {_q(schema)}"))
        _clone_schema(conn, TEMPLATE_SCHEMA, schema)
        grant_tenant_role(conn, schema, role)
        tenant_id = conn.execute(
            text(
                "INSERT INTO public.tenants (slug, name, schema_name, role_name, status) "
                "VALUES (:slug, :name, :schema, :role, 'active') RETURNING id"
            ),
            {"slug": slug, "name": name, "schema": schema, "role": role},
        ).scalar()
        for domain in domains:
            conn.execute(
                text("INSERT INTO public.tenant_domains (tenant_id, domain) VALUES (:t, :d)"),
                {"t": tenant_id, "d": domain.lower()},
            )
    return TenantRef(tenant_id, slug, name, schema, role, "active")


def set_status(engine: Engine, slug: str, status: str) -> None:
    with engine.begin() as conn:
        updated = conn.execute(
            text(
                "UPDATE public.tenants SET status = CAST(:st AS text), "
                "suspended_at = CASE WHEN CAST(:st AS text) = 'suspended' THEN now() ELSE NULL END WHERE slug = :s"
            ),
            {"s": slug, "st": status},
        ).rowcount
    if not updated:
        raise ProvisioningError(f"no tenant '{slug}'")


def drop_tenant(engine: Engine, slug: str) -> None:
    with engine.begin() as conn:
        row = conn.execute(
            text("SELECT schema_name, role_name FROM public.tenants WHERE slug = :s FOR UPDATE"), {"s": slug}
        ).first()
        if not row:
            raise ProvisioningError(f"no tenant '{slug}'")
        conn.execute(text(f"DROP SCHEMA IF EXISTS {_q(row.schema_name)} CASCADE"))
        conn.execute(text("DELETE FROM public.tenants WHERE slug = :s"), {"s": slug})
        conn.execute(text(f"DROP ROLE IF EXISTS {_q(row.role_name)}"))

"""The audit trail: recorded by every ORM write, append-only in PostgreSQL, hash-chained
per tenant, and checked by `audit verify`."""
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.catalog.models import ProductLine
from app.compliance.models import AuditEvent
from app.compliance.operations import audited, record_event, reason
from app.compliance.queries import verify_chain
from app.compliance.rules import GENESIS, event_hash, to_json_value
from app.core.db import TenantBase, db


def _events(session, entity_type, entity_id):
    return list(session.scalars(select(AuditEvent).where(AuditEvent.entity_type == entity_type,
                                                         AuditEvent.entity_id == str(entity_id)).order_by(AuditEvent.seq)))


def test_create_update_delete_are_recorded_with_before_and_after(fresh_tenant, as_tenant):
    tenant = fresh_tenant()
    with as_tenant(tenant) as session:
        line = ProductLine(code="IVD", name="体外诊断", name_en="IVD")
        session.add(line)
        session.flush()
        line_id = line.id
    with as_tenant(tenant) as session:
        line = session.get(ProductLine, line_id)
        with reason(session, "统一命名"):
            line.name_en = "In-vitro diagnostics"
            session.flush()
    with as_tenant(tenant) as session:
        session.delete(session.get(ProductLine, line_id))
    with as_tenant(tenant) as session:
        created, updated, deleted = _events(session, "product_lines", line_id)
        assert (created.action, updated.action, deleted.action) == ("create", "update", "delete")
        assert created.before is None and created.after["code"] == "IVD"
        assert updated.before == {"name_en": "IVD"} and updated.after == {"name_en": "In-vitro diagnostics"}
        assert updated.reason == "统一命名"
        assert deleted.after is None and deleted.before["name"] == "体外诊断"
        assert created.actor_type == "system" and created.actor_label == "test"
        assert [e.seq for e in (created, updated, deleted)] == [1, 2, 3]
        assert created.prev_hash == GENESIS and updated.prev_hash == created.hash


def test_passwords_never_reach_the_trail(as_tenant):
    with as_tenant("acme") as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "users")).all()
        values = [str(e.after) + str(e.before) for e in events]
    assert values and not any("argon2" in v for v in values)
    assert any("[redacted]" in v for v in values)


def test_unchanged_assignment_records_nothing(fresh_tenant, as_tenant):
    tenant = fresh_tenant()
    with as_tenant(tenant) as session:
        session.add(ProductLine(code="CV", name="心血管", name_en="CV"))
    with as_tenant(tenant) as session:
        line = session.scalar(select(ProductLine))
        line.name = "心血管"
        session.flush()
        assert len(_events(session, "product_lines", line.id)) == 1


def test_explicit_events_for_set_based_writes(fresh_tenant, as_tenant):
    tenant = fresh_tenant()
    with as_tenant(tenant) as session:
        record_event(session, "bulk_price_update", "skus", None, after={"rows": 1200, "factor": Decimal("0.95")},
                     reason_text="集采降价")
    with as_tenant(tenant) as session:
        event = session.scalar(select(AuditEvent))
        assert event.after == {"rows": 1200, "factor": "0.95"} and event.reason == "集采降价"
        assert verify_chain(session).ok


def test_app_role_cannot_change_or_remove_audit_events(as_tenant):
    for statement in ("UPDATE audit_events SET reason = 'x' WHERE seq = 1", "DELETE FROM audit_events WHERE seq = 1",
                      "TRUNCATE audit_events"):
        with as_tenant("acme") as session:
            with pytest.raises(DBAPIError, match="permission denied"):
                session.execute(text(statement))
            session.rollback()


def test_even_the_owner_is_stopped_by_the_trigger(app):
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE t_acme.audit_events SET reason = 'x' WHERE seq = 1"))


@pytest.mark.parametrize("tamper,broken_at", [
    ("UPDATE {s}.audit_events SET reason = 'forged' WHERE seq = 3", 3),
    ("DELETE FROM {s}.audit_events WHERE seq = 2", 2),
    ("UPDATE {s}.audit_events SET after = jsonb_set(after, '{{name}}', '\"X\"') WHERE seq = 4", 4),
    ("UPDATE {s}.audit_events SET occurred_at = occurred_at + interval '1 second' WHERE seq = 1", 1),
])
def test_audit_verify_names_the_first_tampered_event(app, fresh_tenant, as_tenant, tamper, broken_at):
    tenant = fresh_tenant()
    with as_tenant(tenant) as session:
        for i in range(5):
            session.add(ProductLine(code=f"L{i}", name=f"产品线{i}", name_en=f"Line {i}"))
    runner = app.test_cli_runner()
    intact = runner.invoke(args=["audit", "verify", tenant.slug])
    assert intact.exit_code == 0 and "5 audit events, chain intact" in intact.output
    with app.app_context():
        with db.engine.begin() as conn:  # a superuser who disables the guard first
            conn.execute(text(f'ALTER TABLE "{tenant.schema}".audit_events DISABLE TRIGGER USER'))
            conn.execute(text(tamper.format(s=f'"{tenant.schema}"')))
            conn.execute(text(f'ALTER TABLE "{tenant.schema}".audit_events ENABLE TRIGGER USER'))
    broken = runner.invoke(args=["audit", "verify", tenant.slug])
    assert broken.exit_code == 1
    assert f"chain broken at event {broken_at}" in broken.output


def test_every_business_table_is_audited():
    """A new model is audited unless it says why not (``__audit__ = False``); an
    association table must be the secondary of an audited relationship."""
    mapped = {m.class_.__table__.name: m.class_ for m in TenantBase.registry.mappers}
    exempt = {name for name, cls in mapped.items() if not audited(cls)}
    assert exempt == {"audit_events", "outbox_messages", "jobs", "stock_balances"}
    secondaries = {rel.secondary.name for m in TenantBase.registry.mappers for rel in m.relationships
                   if rel.secondary is not None and audited(m.class_)}
    for table in TenantBase.metadata.tables:
        assert table in mapped or table in secondaries, f"table {table} has no audit coverage"


def test_association_changes_are_recorded_on_the_owner(as_tenant):
    from app.channel.models import Region
    from app.identity.models import User

    with as_tenant("acme") as session:
        user = session.scalar(select(User).where(User.email == "sales.south@acme.test"))
        north = session.scalar(select(Region).where(Region.code == "NE"))
        before_ids = sorted(str(r.id) for r in user.regions)
        user.regions = list(user.regions) + [north]
        session.flush()
        event = _events(session, "users", user.id)[-1]
        assert event.before["regions"] == before_ids
        assert event.after["regions"] == sorted(before_ids + [str(north.id)])
        user.regions = [r for r in user.regions if r.id != north.id]


def test_canonical_form_is_stable_for_money_and_dates():
    from datetime import date, datetime, timezone

    assert to_json_value(Decimal("1.10")) == "1.10"
    assert to_json_value(date(2026, 1, 2)) == "2026-01-02"
    assert to_json_value(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2026-01-02T03:04:05+00:00"
    with pytest.raises(TypeError):
        to_json_value(1.1)
    a = {"seq": 1, "after": {"b": 1, "a": "x"}, "prev_hash": GENESIS}
    b = {"prev_hash": GENESIS, "after": {"a": "x", "b": 1}, "seq": 1}
    assert event_hash(a) == event_hash(b)
    assert event_hash(a) != event_hash(dict(a, seq=2))

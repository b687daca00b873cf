"""The audit trail's writer (留痕).

Recording cannot be forgotten: an ``after_flush`` listener turns every insert, update
and delete of an audited model (every tenant model unless it says ``__audit__ = False``)
into an audit event in the same transaction, with the before and after values of the
changed fields. Set-based writes that bypass the ORM call ``record_event`` themselves.
Who acted, why, and from which request come from ``session.info`` (``set_context``).

Events are numbered per tenant without gaps and hash-chained: a transaction that audits
takes a per-schema advisory lock, reads the chain's last link once, and appends.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event, insert, inspect, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from app.compliance.models import AuditEvent
from app.compliance.rules import GENESIS, event_hash, to_json_value
from tenants.session import current_tenant

NOISE_FIELDS = frozenset({"created_at", "updated_at"})
REDACTED = "[redacted]"


@dataclass(frozen=True)
class Actor:
    type: str  # user | api_key | system
    id: str | None
    label: str | None

    @classmethod
    def user(cls, user) -> "Actor":
        return cls("user", str(user.id), user.email)

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls("system", None, label)


def set_context(session: Session, actor: Actor, request_id: str | None = None, client_ip: str | None = None) -> None:
    session.info["audit_actor"] = actor
    session.info["audit_request"] = (request_id, client_ip)


@contextmanager
def reason(session: Session, text_: str | None, action: str | None = None):
    """Attach the user's reason (and optionally an action name such as 'deactivate')
    to the events recorded inside the block."""
    old = session.info.get("audit_reason"), session.info.get("audit_action")
    session.info["audit_reason"], session.info["audit_action"] = text_, action
    try:
        yield
    finally:
        session.info["audit_reason"], session.info["audit_action"] = old


def audited(cls) -> bool:
    return getattr(cls, "__audit__", True) is not False


def _entity_id(obj) -> str:
    # The mapper reads the key from the instance: new rows have no identity key yet
    # while after_flush runs, but their primary key values are already set.
    return ",".join(str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj))


def _column_values(obj) -> dict:
    state = instance_state(obj)
    redact = getattr(type(obj), "__audit_redact__", frozenset())
    values = {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in NOISE_FIELDS or key not in state.dict:
            continue
        value = state.dict[key]
        values[key] = REDACTED if key in redact and value is not None else to_json_value(value)
    return values


def _collection_ids(items) -> list:
    return sorted(to_json_value(_entity_id(i)) for i in items if i is not None)


def _changes(obj) -> tuple[dict, dict]:
    state = instance_state(obj)
    redact = getattr(type(obj), "__audit_redact__", frozenset())
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in NOISE_FIELDS:
            continue
        hist = state.attrs[key].history
        if not hist.has_changes():
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        if key in redact:
            old, new = (REDACTED if old is not None else None), (REDACTED if new is not None else None)
        before[key], after[key] = to_json_value(old), to_json_value(new)
    for rel in state.mapper.relationships:
        if rel.secondary is None:
            continue  # plain foreign keys are audited as their column
        hist = state.attrs[rel.key].history
        if not (hist.added or hist.deleted):
            continue
        before[rel.key] = _collection_ids(list(hist.unchanged) + list(hist.deleted))
        after[rel.key] = _collection_ids(list(hist.unchanged) + list(hist.added))
    return before, after


def record_event(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    before: dict | None = None,
    after: dict | None = None,
    reason_text: str | None = None,
) -> None:
    """Append one event for a change the ORM listener does not see (a set-based write,
    a sign-in, an export). Runs in the caller's transaction."""
    _append(session, [dict(action=action, entity_type=entity_type, entity_id=None if entity_id is None else str(entity_id),
                           before=before, after=after, reason=reason_text)])


def _chain(session: Session) -> dict:
    """The end of the tenant's chain, read once per transaction under its lock."""
    if current_tenant(session) is None:
        raise RuntimeError("audit events belong to a tenant: pin the session first")
    chain = session.info.get("audit_chain")
    if chain is None:
        conn = session.connection()
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_events'))"))
        row = conn.execute(
            text("SELECT now(), (SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), "
                 "(SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1)")
        ).one()
        chain = {"at": row[0], "seq": row[1] or 0, "hash": row[2] or GENESIS}
        session.info["audit_chain"] = chain
    return chain


def lock_audit_chain(session: Session) -> None:
    """Take the audit chain's lock now rather than at the transaction's first audited
    write: code that locks a row and then writes audited changes, while other code
    writes audited changes and then locks that row, calls this first so that every
    transaction takes the two locks in the same order (no deadlock)."""
    _chain(session)


def _append(session: Session, events: list[dict]) -> None:
    if not events:
        return
    chain = _chain(session)
    conn = session.connection()
    actor = session.info.get("audit_actor") or Actor.system("unattributed")
    request_id, client_ip = session.info.get("audit_request", (None, None))
    rows = []
    for ev in events:
        row = dict(
            seq=chain["seq"] + 1,
            occurred_at=chain["at"],
            actor_type=actor.type,
            actor_id=actor.id,
            actor_label=actor.label,
            action=ev["action"],
            entity_type=ev["entity_type"],
            entity_id=ev["entity_id"],
            before=to_json_value(ev.get("before")),
            after=to_json_value(ev.get("after")),
            reason=ev.get("reason") if ev.get("reason") is not None else session.info.get("audit_reason"),
            request_id=request_id,
            client_ip=client_ip,
            prev_hash=chain["hash"],
        )
        row["hash"] = event_hash(row)
        chain["seq"], chain["hash"] = row["seq"], row["hash"]
        rows.append(row)
    conn.execute(insert(AuditEvent.__table__), rows)


@event.listens_for(Session, "after_flush")
def _audit_flush(session: Session, flush_context) -> None:
    if current_tenant(session) is None:
        return
    action_override = session.info.get("audit_action")
    events = []
    for obj in session.new:
        if audited(type(obj)):
            events.append(dict(action=action_override or "create", entity_type=type(obj).__tablename__,
                               entity_id=_entity_id(obj), before=None, after=_column_values(obj)))
    for obj in session.dirty:
        if audited(type(obj)) and session.is_modified(obj):
            before, after = _changes(obj)
            if after or before:
                events.append(dict(action=action_override or "update", entity_type=type(obj).__tablename__,
                                   entity_id=_entity_id(obj), before=before, after=after))
    for obj in session.deleted:
        if audited(type(obj)):
            events.append(dict(action=action_override or "delete", entity_type=type(obj).__tablename__,
                               entity_id=_entity_id(obj), before=_column_values(obj), after=None))
    _append(session, events)


@event.listens_for(Session, "after_transaction_end")
def _forget_chain(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("audit_chain", None)

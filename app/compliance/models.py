from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, SmallInteger, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, db


class AuditEvent(db.Model):
    """One append-only, hash-chained audit event (留痕). The tenant role has INSERT and
    SELECT on this table only (see tenants.provisioning.APPEND_ONLY_TABLES)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id", "seq"),)
    __audit__ = False

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    actor_type: Mapped[str] = mapped_column(String(20), nullable=False)
    actor_id: Mapped[str | None] = mapped_column(String(40))
    actor_label: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(60), nullable=False, index=True)
    entity_id: Mapped[str | None] = mapped_column(String(60))
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(40))
    client_ip: Mapped[str | None] = mapped_column(String(45))
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class Job(IdMixin, db.Model):
    """A background job, requested in the same transaction as the change that needs it
    (transactional outbox) and handed to RQ after commit. ``request_id`` makes it
    idempotent: asking twice, or running twice, gives one job and one document."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("status IN ('requested', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        Index("ix_jobs_open", "status", "requested_at", postgresql_where=text("status::text = ANY (ARRAY['requested'::text, 'running'::text])")),
    )
    # Progress and heartbeats change many times a second; the request and the outcome
    # are audited as events by the code that asks for the job and by the runner.
    __audit__ = False

    request_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(60), nullable=False)
    params: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="requested")
    progress: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    message: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="3")
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"))
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"))
    entity_type: Mapped[str | None] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id", use_alter=True))

    requested_by = relationship("User")
    document = relationship("Document", foreign_keys=[document_id])


class Document(IdMixin, db.Model):
    """A generated document (PDF, CSV, XLSX), immutable once written: the tenant role
    may insert and read these rows, never change them; the bytes live in storage under
    ``storage_key`` and are checked against ``sha256`` on every download."""

    __tablename__ = "documents"
    __table_args__ = (CheckConstraint("kind IN ('pdf', 'csv', 'xlsx', 'txt')", name="kind"),)

    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(400), unique=True, nullable=False)
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"), unique=True)
    entity_type: Mapped[str | None] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"))
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

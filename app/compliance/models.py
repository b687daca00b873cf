from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Integer, Date, DateTime, ForeignKey, Index, Numeric, SmallInteger, String,
                        Text, func, text)
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
    __table_args__ = (CheckConstraint("kind IN ('pdf', 'csv', 'xlsx', 'txt', 'jpg', 'png')", name="kind"),)

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


class Signature(IdMixin, db.Model):
    """An electronic signature (电子签名): who, when, what it means, and the SHA-256 of
    the exact record version signed, with that version kept beside it. Append-only."""

    __tablename__ = "signatures"
    __table_args__ = (
        CheckConstraint("meaning IN ('approved', 'rejected', 'returned', 'reviewed', 'confirmed', 'disputed')",
                        name="meaning"),
        Index("ix_signatures_entity", "entity_type", "entity_id"),
    )

    signer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    signer_name: Mapped[str] = mapped_column(String(100), nullable=False)
    signer_email: Mapped[str] = mapped_column(String(254), nullable=False)
    on_behalf_of_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    meaning: Mapped[str] = mapped_column(String(20), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(60), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(60), nullable=False)
    record_version: Mapped[dict] = mapped_column(JSONB, nullable=False)
    record_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    second_factor: Mapped[bool] = mapped_column(nullable=False, server_default=text("false"))
    comment: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class ApprovalChain(IdMixin, db.Model):
    """The ordered steps a kind of request goes through (审批流), one active chain per kind."""

    __tablename__ = "approval_chains"

    kind: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    steps = relationship("ApprovalStep", order_by="ApprovalStep.position", cascade="all, delete-orphan",
                         back_populates="chain")


class ApprovalStep(IdMixin, db.Model):
    __tablename__ = "approval_steps"
    __table_args__ = (
        CheckConstraint("condition_op IS NULL OR condition_op IN ('gt', 'gte', 'lt', 'lte', 'eq')", name="op"),
        CheckConstraint("sla_hours IS NULL OR sla_hours > 0", name="sla"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("approval_chains.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    role: Mapped[str] = mapped_column(String(30), nullable=False)
    same_region: Mapped[bool] = mapped_column(nullable=False, server_default=text("false"))
    condition_field: Mapped[str | None] = mapped_column(String(60))
    condition_op: Mapped[str | None] = mapped_column(String(5))
    condition_value: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    sla_hours: Mapped[int | None] = mapped_column(SmallInteger)

    chain = relationship("ApprovalChain", back_populates="steps")


class ApprovalRequest(IdMixin, db.Model):
    """A request moving through its route: in_review (step k of n) → approved,
    rejected, returned for changes, or withdrawn."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        CheckConstraint("status IN ('in_review', 'approved', 'rejected', 'returned', 'withdrawn')", name="status"),
        Index("ix_approval_requests_open", "status", "kind"),
    )

    kind: Mapped[str] = mapped_column(String(60), nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    entity_type: Mapped[str | None] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    requester_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    facts: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    route: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    current_index: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="0")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="in_review")
    version: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    step_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    requester = relationship("User", foreign_keys=[requester_id])
    region = relationship("Region")
    decisions = relationship("ApprovalDecision", order_by="ApprovalDecision.id", back_populates="request")


class ApprovalDecision(IdMixin, db.Model):
    __tablename__ = "approval_decisions"
    __table_args__ = (CheckConstraint("decision IN ('approve', 'reject', 'return')", name="decision"),)

    request_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("approval_requests.id"), nullable=False, index=True)
    version: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    step_index: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    step_name: Mapped[str] = mapped_column(String(100), nullable=False)
    approver_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False)
    on_behalf_of_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(10), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    signature_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("signatures.id"), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    request = relationship("ApprovalRequest", back_populates="decisions")
    approver = relationship("User", foreign_keys=[approver_id])
    signature = relationship("Signature")


class Delegation(IdMixin, db.Model):
    """While ``from_user`` is away (``starts_on``..``ends_on``, Asia/Shanghai days),
    ``to_user`` may decide the steps waiting for them, on their behalf."""

    __tablename__ = "delegations"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="window"),
                      CheckConstraint("from_user_id <> to_user_id", name="not_self"))

    from_user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False, index=True)
    to_user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id"), nullable=False, index=True)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(200))

    from_user = relationship("User", foreign_keys=[from_user_id])
    to_user = relationship("User", foreign_keys=[to_user_id])


class ImportRun(IdMixin, db.Model):
    """One uploaded file imported (or only checked, ``dry_run``) by a background job:
    all rows or none. ``errors`` holds one entry per problem: row, column, message."""

    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'imported', 'checked', 'rejected', 'failed')", name="status"),
    )

    entity: Mapped[str] = mapped_column(String(30), nullable=False)
    filename: Mapped[str] = mapped_column(String(200), nullable=False)
    upload_document_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("documents.id"), nullable=False)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="queued")
    total_rows: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    taken_rows: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    errors: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    upload = relationship("Document", foreign_keys=[upload_document_id])
    job = relationship("Job", foreign_keys=[job_id])
    requested_by = relationship("User")

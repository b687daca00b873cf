"""Rebate policies, periods and settlement runs, the append-only rebate ledger, claims
with evidence, and price protection (价格补差).

The ledger (``rebate_ledger_entries``) is the truth of what a dealer holds. Amounts are
signed: a credit to the dealer is positive (settled, adjusted up, claim, price
protection, a use released), a consumption negative (used, expired, adjusted down).
``accrued`` rows are estimates for an open period, kept apart from the balance: the
dealer's usable balance is Σ amount over every kind but ``accrued``. A trigger refuses
UPDATE and DELETE: a correction is a new row.
"""
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric,
                        SmallInteger, String, Text, UniqueConstraint, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db

POLICY_STATUSES = ("draft", "published", "retired")
PERIODS = ("month", "quarter", "year")
POLICY_KINDS = ("volume", "growth", "collection", "mix")
BASES = ("purchase", "sell_out")
METHODS = ("retroactive", "incremental")


class RebatePolicy(IdMixin, TimestampMixin, db.Model):
    """返利政策, one version of it. A published version is what accrual and settlement
    apply; editing it makes a draft (``supersedes_id``) that can be simulated against
    last period's actual figures and then published in its place.

    ``tiers`` is ascending ``[{"from": "500000.00", "rate": "0.02"}, …]``: the threshold
    on the base (CNY, or growth % for ``growth``, or share % for ``mix``) and the rate
    paid. ``retroactive`` pays the reached tier's rate on the whole base, ``incremental``
    each band at its own rate. ``params`` holds the kind's own settings (collection:
    ``paid_within_days``; mix: ``strategic_sku_ids``). ``conditions`` gate or reduce the
    payout: ``{"sell_out_on_time": {"effect": "gate"} , "qualifications_valid":
    {"effect": "reduce", "rate": "0.5"}}``. Policies stack in ``priority`` order, each
    capped by ``cap_rate`` of its base and ``cap_amount``."""

    __tablename__ = "rebate_policies"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
        CheckConstraint("period IN ('month', 'quarter', 'year')", name="period"),
        CheckConstraint("kind IN ('volume', 'growth', 'collection', 'mix')", name="kind"),
        CheckConstraint("basis IN ('purchase', 'sell_out')", name="basis"),
        CheckConstraint("method IN ('retroactive', 'incremental')", name="method"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity"),
        CheckConstraint("cap_rate IS NULL OR (cap_rate > 0 AND cap_rate <= 1)", name="cap_rate"),
        CheckConstraint("cap_amount IS NULL OR cap_amount > 0", name="cap_amount"),
        CheckConstraint("expires_after_days IS NULL OR expires_after_days > 0", name="expiry"),
        # a code has at most one draft and one published version at a time
        Index("uq_rebate_policies_draft", "code", unique=True, postgresql_where=text("status::text = 'draft'::text")),
        Index("uq_rebate_policies_published", "code", unique=True,
              postgresql_where=text("status::text = 'published'::text")),
    )

    code: Mapped[str] = mapped_column(String(30), nullable=False)
    version: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="1")
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="draft")
    supersedes_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("rebate_policies.id"))
    period: Mapped[str] = mapped_column(String(10), nullable=False, server_default="quarter")
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date | None] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, server_default="volume")
    basis: Mapped[str] = mapped_column(String(20), nullable=False, server_default="purchase")
    method: Mapped[str] = mapped_column(String(20), nullable=False, server_default="retroactive")
    tiers: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")
    params: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    conditions: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    #: scope: empty means every dealer tier / the whole country / every product line
    dealer_tiers: Mapped[list[str] | None] = mapped_column(ARRAY(String(10)))
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    product_line_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    priority: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="100")
    cap_rate: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    cap_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    #: what a settled balance may pay for: 'offset' (票折), 'free_goods' (货补), or both
    usable_as: Mapped[list[str]] = mapped_column(ARRAY(String(12)), nullable=False,
                                                 server_default="{offset,free_goods}")
    #: days after settlement an unused balance expires (none: it does not)
    expires_after_days: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))

    region = relationship("Region", lazy="joined")


class RebatePeriod(IdMixin, db.Model):
    """A settlement period (2026-11, 2026-Q4, 2026): open while it accrues and may be
    settled again; closed, nothing in it changes any more."""

    __tablename__ = "rebate_periods"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        CheckConstraint("period IN ('month', 'quarter', 'year')", name="period"),
        CheckConstraint("ends_on >= starts_on", name="dates"),
    )

    key: Mapped[str] = mapped_column(String(10), unique=True, nullable=False)
    period: Mapped[str] = mapped_column(String(10), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default="open")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))


class SettlementRun(IdMixin, db.Model):
    """One settlement of one period, run as a background job: what it wrote (first
    settlements and adjustments) and a digest of its inputs."""

    __tablename__ = "rebate_settlement_runs"
    __table_args__ = (CheckConstraint("status IN ('requested', 'running', 'done', 'failed')", name="status"),)

    period_key: Mapped[str] = mapped_column(String(10), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="requested")
    job_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("jobs.id"))
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    settled_entries: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    adjusted_entries: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    total_amount: Mapped[Decimal] = mapped_column(Numeric(16, 2), nullable=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


LEDGER_KINDS = ("accrued", "settled", "adjusted", "used", "released", "expired", "claim", "price_protection")


class RebateLedgerEntry(IdMixin, db.Model):
    """返利台账: one signed movement of a dealer's rebate, linked to the rule and the
    records that produced it (``explanation`` keeps the tier, rate, base and the next
    threshold as computed; ``ref_type``/``ref_id`` the order, invoice, claim or run)."""

    __tablename__ = "rebate_ledger_entries"
    __table_args__ = (
        CheckConstraint("kind IN ('accrued', 'settled', 'adjusted', 'used', 'released', 'expired', 'claim', "
                        "'price_protection')", name="kind"),
        Index("ix_rebate_ledger_dealer", "dealer_id", "id"),
        Index("ix_rebate_ledger_period", "period_key", "policy_id", "dealer_id"),
        Index("ix_rebate_ledger_ref", "ref_type", "ref_id"),
        # one first settlement per period × policy version × dealer; changes are 'adjusted' rows
        Index("uq_rebate_ledger_settled", "period_key", "policy_id", "dealer_id", unique=True,
              postgresql_where=text("kind::text = 'settled'::text")),
    )
    #: every row is an audited fact of its own and the table refuses changes

    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    policy_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("rebate_policies.id"))
    period_key: Mapped[str | None] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    base_amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    rate: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    tier_index: Mapped[int | None] = mapped_column(SmallInteger)
    explanation: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    ref_type: Mapped[str | None] = mapped_column(String(40))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    settlement_run_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("rebate_settlement_runs.id"))
    #: Asia/Shanghai business day the movement belongs to (statements read it)
    occurred_on: Mapped[date] = mapped_column(Date, nullable=False)
    #: for credits: the day an unused remainder expires
    expires_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)

    policy = relationship("RebatePolicy", lazy="joined")


CLAIM_STATUSES = ("in_review", "returned", "approved", "rejected", "withdrawn")


class RebateClaim(IdMixin, TimestampMixin, db.Model):
    """A dealer's claim under a program that needs evidence (a promotion, a market
    activity), approved through the engine (kind ``rebate_claim``); approved, it is a
    ``claim`` credit in the ledger. Evidence files are ``documents`` with entity
    ``rebate_claims``."""

    __tablename__ = "rebate_claims"
    __table_args__ = (
        CheckConstraint("status IN ('in_review', 'returned', 'approved', 'rejected', 'withdrawn')", name="status"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("approved_amount IS NULL OR approved_amount >= 0", name="approved_amount"),
        Index("ix_rebate_claims_dealer_id_desc", "dealer_id", "id"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    program: Mapped[str] = mapped_column(String(200), nullable=False)
    activity_on: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    approved_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="in_review")
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    approval_request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_requests.id"))

    dealer = relationship("Dealer", lazy="joined")


class PriceProtection(IdMixin, TimestampMixin, db.Model):
    """价格补差: a price cut for a SKU (after a volume-procurement award, say) credits each
    dealer's unsold channel stock bought at the old price, (old − new) × units, once
    approved through the engine (kind ``price_protection``)."""

    __tablename__ = "price_protections"
    __table_args__ = (
        CheckConstraint("status IN ('in_review', 'approved', 'rejected', 'withdrawn')", name="status"),
        CheckConstraint("new_price >= 0 AND old_price > new_price", name="prices"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    old_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    new_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="in_review")
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    approval_request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_requests.id"))

    sku = relationship("Sku", lazy="joined")
    lines = relationship("PriceProtectionLine", order_by="PriceProtectionLine.id", cascade="all, delete-orphan")


class PriceProtectionLine(IdMixin, db.Model):
    __tablename__ = "price_protection_lines"
    __table_args__ = (
        UniqueConstraint("price_protection_id", "dealer_id"),
        CheckConstraint("quantity > 0 AND amount >= 0", name="figures"),
    )

    price_protection_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("price_protections.id", ondelete="CASCADE"),
                                                     nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    #: the dealer's channel stock of the SKU on the effective day (sell-in − returns − sell-out)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    #: the lots behind ``quantity`` as computed: [{"lot_id", "lot_no", "held", "bought", "bought_at_old",
    #: "eligible"}] (units held on the effective day, units received in all and at or above the old price)
    lots: Mapped[list] = mapped_column(JSONB, nullable=False, server_default="[]")

    dealer = relationship("Dealer", lazy="joined")

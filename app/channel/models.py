"""Regions, dealers and their qualifications, hospitals, and authorizations: who may
sell what, where, until when."""
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Numeric, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db


class Region(IdMixin, TimestampMixin, db.Model):
    """A node of the territory tree: country → 京津冀/华东/华南… → province → city."""

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint("level BETWEEN 0 AND 3", name="level"),)

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str] = mapped_column(String(100), nullable=False)
    parent_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"), index=True)
    level: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    #: Materialised path of ids, "/1/4/17/": a subtree is one indexed prefix match.
    path: Mapped[str] = mapped_column(String(200), nullable=False, server_default="/", index=True)

    parent = relationship("Region", remote_side="Region.id")


class Dealer(IdMixin, TimestampMixin, db.Model):
    """A dealer or agent. ``pending`` until its first-business review (首营审核) approves
    it; a second-tier dealer names the upstream dealer that authorizes it (逐级授权)."""

    __tablename__ = "dealers"
    __table_args__ = (
        CheckConstraint("tier IN ('agent', 'tier1', 'tier2')", name="tier"),
        CheckConstraint("status IN ('pending', 'active', 'inactive', 'rejected')", name="status"),
        CheckConstraint("credit_limit >= 0", name="credit_limit"),
        CheckConstraint("payment_terms_days BETWEEN 0 AND 365", name="payment_terms"),
        CheckConstraint("upstream_dealer_id IS NULL OR upstream_dealer_id <> id", name="upstream_not_self"),
        Index("ix_dealers_name_id", "name", "id"),
    )

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    #: the legal name on the business licence
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    #: 统一社会信用代码 (GB 32100-2015, checksum validated)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    tier: Mapped[str] = mapped_column(String(20), nullable=False, server_default="tier1")
    upstream_dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    region_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("regions.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))
    credit_limit: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    payment_terms_days: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default="60")
    bank_name: Mapped[str | None] = mapped_column(String(200))
    bank_account: Mapped[str | None] = mapped_column(String(40))
    #: remaining shelf life (days) every unit allocated to this dealer must have
    min_shelf_days: Mapped[int | None] = mapped_column(SmallInteger)

    region = relationship("Region", lazy="joined")
    upstream = relationship("Dealer", remote_side="Dealer.id")


QUALIFICATION_KINDS = ("business_license", "operating_permit", "class2_filing")


class Qualification(IdMixin, TimestampMixin, db.Model):
    """A dealer's licence (营业执照, 医疗器械经营许可证, 第二类医疗器械经营备案凭证) with its
    scanned file. A renewal is a new row that goes to review; once approved it supersedes
    the one it replaces."""

    __tablename__ = "qualifications"
    __table_args__ = (
        CheckConstraint("kind IN ('business_license', 'operating_permit', 'class2_filing')", name="kind"),
        CheckConstraint("status IN ('pending', 'approved', 'rejected', 'superseded')", name="status"),
        Index("ix_qualifications_dealer_kind", "dealer_id", "kind"),
    )

    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    number: Mapped[str] = mapped_column(String(60), nullable=False)
    #: device classes covered ("II", "III") — empty for a business licence
    device_classes: Mapped[list[str]] = mapped_column(ARRAY(String(3)), nullable=False, server_default="{}")
    #: 经营范围 as written on the licence (categories such as 6877, 07, 22)
    scope: Mapped[str | None] = mapped_column(Text)
    issued_on: Mapped[date | None] = mapped_column(Date)
    #: empty for a licence without expiry (长期)
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    document_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id"))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="pending")
    replaces_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("qualifications.id"))

    dealer = relationship("Dealer")
    document = relationship("Document")


class Hospital(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "hospitals"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("ownership IN ('public', 'private')", name="ownership"),
        Index("ix_hospitals_name_id", "name", "id"),
    )

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    #: 三级甲等, 三级乙等, 二级甲等 …
    grade: Mapped[str] = mapped_column(String(20), nullable=False)
    region_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("regions.id"), nullable=False, index=True)
    city: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    departments: Mapped[list[str]] = mapped_column(ARRAY(String(60)), nullable=False, server_default="{}")
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    #: the dealer that delivers to this hospital by default (配送商)
    serving_dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    #: remaining shelf life (days) every unit delivered to this hospital must have
    min_shelf_days: Mapped[int | None] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    #: public (公立) hospitals buy under the two-invoice rule (两票制); private ones do not
    ownership: Mapped[str] = mapped_column(String(10), nullable=False, server_default="public")

    region = relationship("Region", lazy="joined")
    serving_dealer = relationship("Dealer")


class Authorization(IdMixin, TimestampMixin, db.Model):
    """授权: a dealer may sell a product line (or a set of SKUs) in a territory (a region's
    subtree, or named hospitals) between two dates. An exclusive authorization admits no
    other dealer's authorization overlapping it in products, territory and time."""

    __tablename__ = "authorizations"
    __table_args__ = (
        CheckConstraint("(product_line_id IS NULL) <> (sku_ids IS NULL)", name="products"),
        CheckConstraint("(region_id IS NULL) <> (hospital_ids IS NULL)", name="territory"),
        CheckConstraint("valid_until >= valid_from", name="validity"),
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        Index("ix_authorizations_dealer_validity", "dealer_id", "valid_until"),
    )

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    product_line_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("product_lines.id"))
    sku_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    hospital_ids: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date] = mapped_column(Date, nullable=False)
    exclusive: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    #: the authorization letter (授权书), generated in the background
    letter_document_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("documents.id"))
    notes: Mapped[str | None] = mapped_column(Text)

    dealer = relationship("Dealer", lazy="joined")
    product_line = relationship("ProductLine", lazy="joined")
    region = relationship("Region", lazy="joined")

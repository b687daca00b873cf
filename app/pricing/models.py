"""Price lists by channel and region, price bands, tender/volume-procurement awards, and
special-price requests (特价申请)."""
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db

CHANNELS = ("distribution", "direct", "agent")


class PriceList(IdMixin, TimestampMixin, db.Model):
    """Prices for one channel, nationally (``region_id`` empty) or in a region's subtree,
    between two dates. The most specific region wins."""

    __tablename__ = "price_lists"
    __table_args__ = (
        CheckConstraint("channel IN ('distribution', 'direct', 'agent')", name="channel"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity"),
    )

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")

    region = relationship("Region", lazy="joined")


class PriceListItem(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "price_list_items"
    __table_args__ = (
        UniqueConstraint("price_list_id", "sku_id"),
        CheckConstraint("price > 0", name="price"),
    )

    price_list_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("price_lists.id", ondelete="CASCADE"), nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    #: unit price in CNY including VAT
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)

    price_list = relationship("PriceList")
    sku = relationship("Sku", lazy="joined")


class PriceBand(IdMixin, TimestampMixin, db.Model):
    """价格带: the floor and ceiling a SKU may be sold at, nationally or in a region."""

    __tablename__ = "price_bands"
    __table_args__ = (
        CheckConstraint("floor > 0 AND ceiling >= floor", name="band"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity"),
        Index("ix_price_bands_sku_region", "sku_id", "region_id"),
    )

    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    floor: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    ceiling: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date | None] = mapped_column(Date)

    sku = relationship("Sku", lazy="joined")
    region = relationship("Region", lazy="joined")


class TenderPrice(IdMixin, TimestampMixin, db.Model):
    """招投标/集采 award: a price won for one hospital, or for every hospital of an
    alliance (联盟, a region's subtree), for a period."""

    __tablename__ = "tender_prices"
    __table_args__ = (
        CheckConstraint("(hospital_id IS NULL) <> (region_id IS NULL)", name="awardee"),
        CheckConstraint("price > 0", name="price"),
        CheckConstraint("valid_until >= valid_from", name="validity"),
        Index("ix_tender_prices_sku", "sku_id", "valid_until"),
    )

    award_no: Mapped[str] = mapped_column(String(60), nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False)
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("regions.id"))
    alliance_name: Mapped[str | None] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date] = mapped_column(Date, nullable=False)

    sku = relationship("Sku", lazy="joined")
    hospital = relationship("Hospital", lazy="joined")
    region = relationship("Region", lazy="joined")


PRICE_REQUEST_STATUSES = ("in_review", "returned", "approved", "rejected", "withdrawn")


class PriceRequest(IdMixin, TimestampMixin, db.Model):
    """特价申请: a dealer asks for prices below the band for one hospital (usually to win a
    tender), for named SKUs with a quantity cap each, within a validity window, with the
    tender documents as evidence (``documents`` rows with entity ``price_requests``).
    Once approved, order pricing honours it for that dealer, hospital, SKU set, cap and
    window only; what orders used of each cap is read from their lines."""

    __tablename__ = "price_requests"
    __table_args__ = (
        CheckConstraint("status IN ('in_review', 'returned', 'approved', 'rejected', 'withdrawn')", name="status"),
        CheckConstraint("valid_until >= valid_from", name="validity"),
        Index("ix_price_requests_dealer_id_desc", "dealer_id", "id"),
        Index("ix_price_requests_cover", "dealer_id", "hospital_id", "status", "valid_until"),
    )

    number: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    dealer_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("dealers.id"), nullable=False)
    hospital_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("hospitals.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="in_review")
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date] = mapped_column(Date, nullable=False)
    #: the tender or project the prices are for (招标编号/项目名称)
    tender_ref: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    #: Σ requested price × cap, CNY including VAT (the approval chain's "amount")
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, server_default="0")
    #: the deepest line's discount below its band floor, in % (the chain's "discount_pct")
    max_discount_pct: Mapped[Decimal] = mapped_column(Numeric(7, 2), nullable=False, server_default="0")
    requested_by_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"))
    approval_request_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("approval_requests.id"))
    #: the evidence (tender documents) as immutable ``documents`` rows, in upload order
    evidence_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), nullable=False, server_default="{}")

    dealer = relationship("Dealer", lazy="joined")
    hospital = relationship("Hospital", lazy="joined")
    lines = relationship("PriceRequestLine", order_by="PriceRequestLine.id", cascade="all, delete-orphan")


class PriceRequestLine(IdMixin, db.Model):
    __tablename__ = "price_request_lines"
    __table_args__ = (
        UniqueConstraint("price_request_id", "sku_id"),
        CheckConstraint("quantity_cap > 0", name="quantity_cap"),
        CheckConstraint("requested_price > 0", name="requested_price"),
    )

    price_request_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("price_requests.id", ondelete="CASCADE"),
                                                  nullable=False)
    sku_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("skus.id"), nullable=False, index=True)
    quantity_cap: Mapped[int] = mapped_column(Integer, nullable=False)
    requested_price: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    #: what the dealer would have paid (resolve_price) and the band floor, at submission
    reference_price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    band_floor: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))

    sku = relationship("Sku", lazy="joined")

"""Price lists by channel and region, price bands, and tender/volume-procurement awards."""
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
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

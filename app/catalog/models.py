"""Product lines, SKUs and their NMPA registration certificates (注册证)."""
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Numeric, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db


class ProductLine(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "product_lines"

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str] = mapped_column(String(100), nullable=False)


class Registration(IdMixin, TimestampMixin, db.Model):
    """An NMPA registration certificate (医疗器械注册证, class II/III) or a class I filing
    (备案凭证, ``valid_until`` empty: it does not expire). A SKU whose certificate has
    expired may not be ordered or shipped."""

    __tablename__ = "registrations"
    __table_args__ = (
        CheckConstraint("device_class IN ('I', 'II', 'III')", name="device_class"),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity"),
    )

    number: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    product_name: Mapped[str] = mapped_column(String(200), nullable=False)
    device_class: Mapped[str] = mapped_column(String(3), nullable=False)
    holder: Mapped[str] = mapped_column(String(200), nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    scope: Mapped[str | None] = mapped_column(Text)


class Sku(IdMixin, TimestampMixin, db.Model):
    """A sellable item. ``pending`` until its first-business review (首营审核) approves it."""

    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'active', 'inactive', 'rejected')", name="status"),
        CheckConstraint("tracking IN ('lot', 'serial')", name="tracking"),
        CheckConstraint("tax_rate >= 0 AND tax_rate < 1", name="tax_rate"),
        CheckConstraint("shelf_life_months IS NULL OR shelf_life_months > 0", name="shelf_life"),
        Index("ix_skus_code_id", "code", "id"),
    )

    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    #: 规格型号
    specification: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20), nullable=False)
    product_line_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("product_lines.id"), nullable=False, index=True)
    registration_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("registrations.id"), index=True)
    #: UDI device identifier (GS1 GTIN-14 with its check digit)
    udi_di: Mapped[str | None] = mapped_column(String(14), unique=True)
    #: 医保耗材编码: the 20-character code and the 7-digit specification suffix, 27 in all
    nhsa_code: Mapped[str | None] = mapped_column(String(27))
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False, server_default="0.13")
    storage: Mapped[str | None] = mapped_column(String(100))
    tracking: Mapped[str] = mapped_column(String(10), nullable=False, server_default="lot")
    shelf_life_months: Mapped[int | None] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    #: implantable / high-value consumable: shipped with serial traceability to the patient
    implant: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")

    product_line = relationship("ProductLine", lazy="joined")
    registration = relationship("Registration", lazy="joined")

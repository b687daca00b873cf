"""Product lines and SKUs: the core the platform needs; the master-data issue adds
registrations, UDI and the rest."""
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db


class ProductLine(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "product_lines"

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    name_en: Mapped[str] = mapped_column(String(100), nullable=False)


class Sku(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "skus"
    __table_args__ = (CheckConstraint("status IN ('active', 'inactive')", name="status"),)

    code: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    specification: Mapped[str | None] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(20), nullable=False)
    product_line_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("product_lines.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")

    product_line = relationship("ProductLine", lazy="joined")

"""Regions, dealers and hospitals. This is the core the platform needs (who a user
belongs to, what a list page shows); the master-data issue extends it."""
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, SmallInteger, String
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
    __tablename__ = "dealers"
    __table_args__ = (
        CheckConstraint("tier IN ('agent', 'tier1', 'tier2')", name="tier"),
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        Index("ix_dealers_name_id", "name", "id"),
    )

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    tier: Mapped[str] = mapped_column(String(20), nullable=False, server_default="tier1")
    region_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("regions.id"), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))

    region = relationship("Region", lazy="joined")


class Hospital(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "hospitals"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        Index("ix_hospitals_name_id", "name", "id"),
    )

    code: Mapped[str] = mapped_column(String(30), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    grade: Mapped[str] = mapped_column(String(20), nullable=False)
    region_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("regions.id"), nullable=False, index=True)
    city: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="active")

    region = relationship("Region", lazy="joined")

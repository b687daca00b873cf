from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import IdMixin, TimestampMixin, db


class User(IdMixin, TimestampMixin, UserMixin, db.Model):
    """A person who signs in. Belongs to exactly one of: the manufacturer, one dealer,
    one hospital (enforced by a CHECK constraint, not only in Python)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("portal IN ('manufacturer', 'dealer', 'hospital')", name="portal"),
        CheckConstraint(
            "(portal = 'manufacturer' AND dealer_id IS NULL AND hospital_id IS NULL)"
            " OR (portal = 'dealer' AND dealer_id IS NOT NULL AND hospital_id IS NULL)"
            " OR (portal = 'hospital' AND hospital_id IS NOT NULL AND dealer_id IS NULL)",
            name="one_membership",
        ),
        CheckConstraint("email = lower(email)", name="email_lower"),
    )
    __audit_redact__ = frozenset({"password_hash", "totp_secret"})

    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    portal: Mapped[str] = mapped_column(String(20), nullable=False)
    dealer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("dealers.id"), index=True)
    hospital_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("hospitals.id"), index=True)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(30)), nullable=False, server_default="{}")
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    invited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Base32 TOTP secret when the user has turned on two-step verification.
    totp_secret: Mapped[str | None] = mapped_column(String(64))

    dealer = relationship("Dealer", lazy="joined")
    hospital = relationship("Hospital", lazy="joined")
    regions = relationship("Region", secondary="user_regions")

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive and not-yet-accepted users cannot sign in
        return self.active and self.password_hash is not None

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def organisation_name(self) -> str:
        if self.dealer is not None:
            return self.dealer.name
        if self.hospital is not None:
            return self.hospital.name
        return ""


class UserRegion(db.Model):
    """The regions a regional manager covers."""

    __tablename__ = "user_regions"

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    region_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("regions.id"), primary_key=True)


class OutboxMessage(IdMixin, db.Model):
    """Mail waiting to be sent (password resets, invitations). Delivery is a later
    concern; until then operators read it with ``flask --app wsgi outbox``."""

    __tablename__ = "outbox_messages"
    __audit__ = False  # a delivery queue, not a business record; the act that wrote it is audited

    to_address: Mapped[str] = mapped_column(String(254), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

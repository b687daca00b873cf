"""Writes about users: sign-in, password reset, invitations, deactivation.

Operations validate, change and flush; they never commit (the request handler does,
once). Every change is audited by the compliance listener, with the action named.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.channel.models import Dealer, Hospital, Region
from app.compliance.operations import reason
from app.identity import rules
from app.identity.models import OutboxMessage, User
from app.identity.queries import user_by_email
from tenants.registry import TenantRef

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that timing does not tell who exists.
_DUMMY_HASH = _hasher.hash("medchannel-timing-equaliser")


class IdentityError(Exception):
    """A refusal the user can act on; ``field`` names the form field it belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class SignInLocked(IdentityError):
    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is ``user``'s (constant work even when they have none)."""
    try:
        return _hasher.verify(user.password_hash or _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return False


def check_new_password(password: str, confirm: str | None = None, field: str = "password") -> None:
    problem = rules.password_problem(password)
    if problem == "too_short":
        raise IdentityError(_("Use at least %(n)d characters.", n=rules.MIN_PASSWORD_LENGTH), field)
    if problem == "letters_and_digits":
        raise IdentityError(_("Use both letters and digits."), field)
    if confirm is not None and confirm != password:
        raise IdentityError(_("The two passwords differ."), "confirm")


# --- sign-in and throttling -------------------------------------------------------

@dataclass(frozen=True)
class Throttle:
    redis: Redis
    max_failures: int
    lock_seconds: int

    def _keys(self, tenant: TenantRef, email: str, ip: str | None) -> tuple[str, str]:
        return f"signin:fail:{tenant.id}:{email}", f"signin:fail-ip:{tenant.id}:{ip or '-'}"

    def check(self, tenant: TenantRef, email: str, ip: str | None) -> None:
        by_email, by_ip = self._keys(tenant, email, ip)
        counts = self.redis.mget(by_email, by_ip)
        email_count, ip_count = (int(c or 0) for c in counts)
        # An address is locked after max_failures; a client IP after 4x that (many e-mails).
        if email_count >= self.max_failures or ip_count >= 4 * self.max_failures:
            key = by_email if email_count >= self.max_failures else by_ip
            retry = max(self.redis.ttl(key), 1)
            raise SignInLocked(
                _("Too many failed sign-ins. Try again in %(m)d minutes or reset your password.", m=-(-retry // 60)),
                retry,
            )

    def failed(self, tenant: TenantRef, email: str, ip: str | None) -> None:
        pipe = self.redis.pipeline()
        for key in self._keys(tenant, email, ip):
            pipe.incr(key)
            pipe.expire(key, self.lock_seconds)
        pipe.execute()

    def succeeded(self, tenant: TenantRef, email: str) -> None:
        self.redis.delete(self._keys(tenant, email, None)[0])


def authenticate(session: Session, throttle: Throttle, tenant: TenantRef, email: str, password: str,
                 ip: str | None) -> User:
    """The active user with these credentials, or IdentityError (same message whether
    the e-mail or the password is wrong)."""
    email = email.strip().lower()
    throttle.check(tenant, email, ip)
    user = user_by_email(session, email)
    try:
        if user is None or user.password_hash is None:
            _hasher.verify(_DUMMY_HASH, password + "x")
            raise VerificationError()
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        throttle.failed(tenant, email, ip)
        raise IdentityError(_("E-mail or password is not correct."))
    if not user.active:
        throttle.failed(tenant, email, ip)
        raise IdentityError(_("This account has been deactivated. Ask your administrator."))
    throttle.succeeded(tenant, email)
    return user


def record_sign_in(session: Session, user: User, password: str) -> None:
    """Note the sign-in (audited as 'sign_in'); upgrade the hash if its parameters aged."""
    with reason(session, None, action="sign_in"):
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = datetime.now(timezone.utc)
        session.flush()


# --- tokens: password reset and invitation ----------------------------------------

RESET, INVITE = "password-reset", "invitation"


def _serializer(secret: str, tenant: TenantRef, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=f"{purpose}:{tenant.slug}")


def _fingerprint(user: User) -> str:
    """Changes whenever the password does: a used token is dead."""
    basis = user.password_hash or f"invited:{user.invited_at.isoformat() if user.invited_at else ''}"
    return hashlib.sha256(basis.encode()).hexdigest()[:20]


def make_token(secret: str, tenant: TenantRef, purpose: str, user: User) -> str:
    return _serializer(secret, tenant, purpose).dumps({"u": user.id, "f": _fingerprint(user)})


def user_for_token(session: Session, secret: str, tenant: TenantRef, purpose: str, token: str, max_age: int) -> User:
    try:
        data = _serializer(secret, tenant, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise IdentityError(_("This link has expired. Ask for a new one."))
    except BadSignature:
        raise IdentityError(_("This link is not valid."))
    user = session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or data.get("f") != _fingerprint(user) or not user.active:
        raise IdentityError(_("This link has already been used or is no longer valid."))
    return user


def request_password_reset(session: Session, secret: str, tenant: TenantRef, email: str,
                           link: Callable[[str], str]) -> None:
    """Queue a reset mail if the address belongs to an active user; say nothing either way."""
    user = user_by_email(session, email)
    if user is None or not user.is_active:
        return
    token = make_token(secret, tenant, RESET, user)
    session.add(OutboxMessage(
        to_address=user.email, kind=RESET,
        subject=_("%(tenant)s: reset your MedChannel password", tenant=tenant.name),
        body=_("Open this link within one hour to choose a new password:\n%(link)s\n\n"
               "If you did not ask for this, ignore this message.", link=link(token)),
    ))
    session.flush()


def set_password(session: Session, user: User, password: str, confirm: str, action: str) -> None:
    check_new_password(password, confirm)
    with reason(session, None, action=action):
        user.password_hash = hash_password(password)
        user.password_changed_at = datetime.now(timezone.utc)
        session.flush()


def change_password(session: Session, user: User, current: str, password: str, confirm: str) -> None:
    if not verify_password(user, current):
        raise IdentityError(_("Your current password is not correct."), "current_password")
    set_password(session, user, password, confirm, action="change_password")


def set_locale(session: Session, user: User, locale: str) -> None:
    with reason(session, None, action="set_language"):
        user.locale = locale
        session.flush()


# --- administration -----------------------------------------------------------------

@dataclass
class Invitation:
    email: str
    name: str
    portal: str
    roles: list[str]
    dealer_id: int | None = None
    hospital_id: int | None = None
    region_ids: tuple[int, ...] = ()


def invite_user(session: Session, secret: str, tenant: TenantRef, inv: Invitation,
                link: Callable[[str], str]) -> User:
    email = inv.email.strip().lower()
    if user_by_email(session, email) is not None:
        raise IdentityError(_("A user with this e-mail already exists."), "email")
    if inv.portal not in rules.PORTALS:
        raise IdentityError(_("Choose where the user belongs."), "portal")
    if not inv.roles:
        raise IdentityError(_("Choose at least one role."), "roles")
    if rules.invalid_roles(inv.portal, inv.roles):
        raise IdentityError(_("These roles do not exist for this kind of user."), "roles")
    dealer_id = inv.dealer_id if inv.portal == "dealer" else None
    hospital_id = inv.hospital_id if inv.portal == "hospital" else None
    if inv.portal == "dealer" and (dealer_id is None or session.get(Dealer, dealer_id) is None):
        raise IdentityError(_("Choose the dealer this user works for."), "dealer_id")
    if inv.portal == "hospital" and (hospital_id is None or session.get(Hospital, hospital_id) is None):
        raise IdentityError(_("Choose the hospital this user works for."), "hospital_id")
    regions = []
    if inv.portal == "manufacturer" and "regional_manager" in inv.roles:
        regions = list(session.scalars(select(Region).where(Region.id.in_(inv.region_ids))))
        if not regions:
            raise IdentityError(_("A regional manager needs at least one region."), "region_ids")
    user = User(email=email, name=inv.name.strip(), portal=inv.portal, roles=sorted(set(inv.roles)),
                dealer_id=dealer_id, hospital_id=hospital_id, invited_at=datetime.now(timezone.utc))
    user.regions = regions
    with reason(session, None, action="invite"):
        session.add(user)
        session.flush()
    token = make_token(secret, tenant, INVITE, user)
    session.add(OutboxMessage(
        to_address=email, kind=INVITE,
        subject=_("%(tenant)s invites you to MedChannel", tenant=tenant.name),
        body=_("Open this link within 7 days to choose your password and sign in:\n%(link)s", link=link(token)),
    ))
    session.flush()
    return user


def set_active(session: Session, actor: User, user: User, active: bool, why: str) -> None:
    if not why.strip():
        raise IdentityError(_("Give a reason; it is kept in the audit trail."), "reason")
    if user.id == actor.id and not active:
        raise IdentityError(_("You cannot deactivate yourself."), "reason")
    with reason(session, why.strip(), action="activate" if active else "deactivate"):
        user.active = active
        session.flush()


# --- two-step verification (TOTP) ------------------------------------------------------

def new_totp_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def totp_uri(secret: str, user: User, issuer: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def enable_totp(session: Session, user: User, secret: str, code: str) -> None:
    import pyotp

    if not pyotp.TOTP(secret).verify((code or "").strip(), valid_window=1):
        raise IdentityError(_("The code is not correct. Check the time on your phone and try again."), "totp_code")
    with reason(session, None, action="enable_totp"):
        user.totp_secret = secret
        session.flush()


def disable_totp(session: Session, user: User, password: str) -> None:
    if not verify_password(user, password):
        raise IdentityError(_("Your current password is not correct."), "totp_password")
    with reason(session, None, action="disable_totp"):
        user.totp_secret = None
        session.flush()

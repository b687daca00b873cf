"""Reads about users. Functions take the session and explicit arguments."""
from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.core.pagination import Page, keyset_page
from app.identity.models import User


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def users_page(session: Session, cursor: str | None, search: str = "", portal: str = "",
               dealer_id: int | None = None, hospital_id: int | None = None) -> Page:
    stmt = select(User)
    if search:
        like = f"%{search.strip().lower()}%"
        stmt = stmt.where(or_(User.email.like(like), func.lower(User.name).like(like)))
    if portal:
        stmt = stmt.where(User.portal == portal)
    if dealer_id is not None:
        stmt = stmt.where(User.dealer_id == dealer_id)
    if hospital_id is not None:
        stmt = stmt.where(User.hospital_id == hospital_id)
    return keyset_page(session, stmt, (User.email, User.id), lambda u: (u.email, u.id), cursor)


def colleagues(session: Session, user: User) -> list[User]:
    """The people of the same organisation (dealer, hospital or manufacturer)."""
    stmt = select(User).where(User.portal == user.portal, User.active.is_(True)).order_by(User.name)
    if user.dealer_id is not None:
        stmt = stmt.where(User.dealer_id == user.dealer_id)
    if user.hospital_id is not None:
        stmt = stmt.where(User.hospital_id == user.hospital_id)
    return list(session.scalars(stmt.limit(200)))

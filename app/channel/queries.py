"""Reads about regions, dealers and hospitals, scoped by the acting user's reach."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session

from app.channel.models import Dealer, Hospital, Region
from app.core.pagination import Page, keyset_page


@dataclass(frozen=True)
class ChannelScope:
    """What part of the channel a user may see: everything (``region_paths`` None), the
    subtrees of some regions (a regional manager), or one dealer or one hospital."""

    region_paths: tuple[str, ...] | None = None
    dealer_id: int | None = None
    hospital_id: int | None = None

    @classmethod
    def of(cls, user) -> "ChannelScope":
        if user.portal == "dealer":
            return cls(region_paths=(), dealer_id=user.dealer_id)
        if user.portal == "hospital":
            return cls(region_paths=(), hospital_id=user.hospital_id)
        if user.has_role("admin", "channel_manager", "finance", "qa_ra", "after_sales"):
            return cls()
        return cls(region_paths=tuple(r.path for r in user.regions))

    def regions_clause(self, region_id_column):
        if self.region_paths is None:
            return None
        if not self.region_paths:
            return false()
        subtree = select(Region.id).where(or_(*[Region.path.startswith(p) for p in self.region_paths]))
        return region_id_column.in_(subtree)


def _scoped(stmt, model, scope: ChannelScope):
    if scope.dealer_id is not None:
        return stmt.where(model.id == scope.dealer_id) if model is Dealer else stmt.where(false())
    if scope.hospital_id is not None:
        return stmt.where(model.id == scope.hospital_id) if model is Hospital else stmt.where(false())
    clause = scope.regions_clause(model.region_id)
    return stmt if clause is None else stmt.where(clause)


def _search(stmt, model, search: str):
    if search:
        like = f"%{search.strip()}%"
        stmt = stmt.where(or_(model.name.ilike(like), model.code.ilike(like)))
    return stmt


def _list_columns(model):
    """A list row: the record's own columns plus its region's names, as plain rows."""
    own = [c for c in model.__table__.columns if c.key not in ("created_at", "updated_at")]
    return select(*own, Region.name.label("region_name"), Region.name_en.label("region_name_en")).join(
        Region, Region.id == model.region_id)


def _channel_page(session: Session, model, scope: ChannelScope, cursor: str | None, search: str,
                  region_id: int | None) -> Page:
    """One page of dealers or hospitals, scoped, searched, in a region's subtree, by name."""
    stmt = _search(_scoped(_list_columns(model), model, scope), model, search)
    if region_id:
        stmt = stmt.where(model.region_id.in_(_subtree_ids(region_id)))
    return keyset_page(session, stmt, (model.name, model.id), lambda r: (r.name, r.id), cursor, entities=False)


def dealers_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "",
                 region_id: int | None = None) -> Page:
    return _channel_page(session, Dealer, scope, cursor, search, region_id)


def hospitals_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "",
                   region_id: int | None = None) -> Page:
    return _channel_page(session, Hospital, scope, cursor, search, region_id)


def _subtree_ids(region_id: int):
    root = select(Region.path).where(Region.id == region_id).scalar_subquery()
    return select(Region.id).where(Region.path.startswith(root))


def regions(session: Session, max_level: int = 3) -> list[Region]:
    return list(session.scalars(select(Region).where(Region.level <= max_level).order_by(Region.path)))


def dealer_choices(session: Session) -> list[Dealer]:
    return list(session.scalars(select(Dealer).where(Dealer.status == "active").order_by(Dealer.name).limit(2000)))


def hospital_choices(session: Session) -> list[Hospital]:
    return list(session.scalars(select(Hospital).where(Hospital.status == "active").order_by(Hospital.name).limit(5000)))

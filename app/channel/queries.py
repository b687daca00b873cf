"""Reads about regions, dealers and hospitals, scoped by the acting user's reach."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, or_, select
from sqlalchemy.orm import Session, selectinload

from app.channel.models import Dealer, Hospital, Qualification, Region
from app.core.pagination import Page, keyset_page

#: the manufacturer roles that may look at the channel (regional managers within their regions)
CHANNEL_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance", "qa_ra", "after_sales")


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
                  region_id: int | None, **filters) -> Page:
    """One page of dealers or hospitals, scoped, searched, in a region's subtree, with
    equality filters on their own columns (empty ones ignored), by name."""
    stmt = _search(_scoped(_list_columns(model), model, scope), model, search)
    if region_id:
        stmt = stmt.where(model.region_id.in_(_subtree_ids(region_id)))
    for column, value in filters.items():
        if value not in (None, ""):
            stmt = stmt.where(getattr(model, column) == value)
    return keyset_page(session, stmt, (model.name, model.id), lambda r: (r.name, r.id), cursor, entities=False)


def dealers_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "",
                 region_id: int | None = None, status: str = "", tier: str = "") -> Page:
    return _channel_page(session, Dealer, scope, cursor, search, region_id, status=status, tier=tier)


def hospitals_page(session: Session, scope: ChannelScope, cursor: str | None, search: str = "",
                   region_id: int | None = None, grade: str = "", serving_dealer_id: int | None = None,
                   status: str = "") -> Page:
    return _channel_page(session, Hospital, scope, cursor, search, region_id, grade=grade,
                         serving_dealer_id=serving_dealer_id, status=status)


def dealer_detail(session: Session, scope: ChannelScope, dealer_id: int) -> Dealer | None:
    """The dealer if ``scope`` reaches it, else None (the page answers 404)."""
    return session.scalar(_scoped(select(Dealer), Dealer, scope).where(Dealer.id == dealer_id))


def hospital_detail(session: Session, scope: ChannelScope, hospital_id: int) -> Hospital | None:
    return session.scalar(_scoped(select(Hospital), Hospital, scope).where(Hospital.id == hospital_id))


def qualifications_of(session: Session, dealer_id: int) -> list[Qualification]:
    """A dealer's qualifications, current ones first within each kind."""
    order = {"approved": 0, "pending": 1, "rejected": 2, "superseded": 3}
    rows = session.scalars(select(Qualification).options(selectinload(Qualification.document))
                           .where(Qualification.dealer_id == dealer_id).order_by(Qualification.id.desc()))
    return sorted(rows, key=lambda q: (q.kind, order.get(q.status, 9)))


def qualification_of(session: Session, dealer_id: int, qualification_id: int) -> Qualification | None:
    """One of ``dealer_id``'s qualifications; None for another dealer's."""
    return session.scalar(select(Qualification).where(Qualification.id == qualification_id,
                                                      Qualification.dealer_id == dealer_id))


def dealer_reviews(session: Session, dealer_id: int) -> list:
    """The dealer's first-business review requests, newest first."""
    from app.compliance.models import ApprovalRequest

    return list(session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.kind == "dealer_review", ApprovalRequest.entity_type == "dealers",
        ApprovalRequest.entity_id == str(dealer_id)).order_by(ApprovalRequest.id.desc())))


def qualification_reviews(session: Session, qualification_ids: list[int]) -> dict[int, object]:
    """The latest review request of each renewed qualification, by qualification id."""
    from app.compliance.models import ApprovalRequest

    if not qualification_ids:
        return {}
    rows = session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.kind == "qualification_review", ApprovalRequest.entity_type == "qualifications",
        ApprovalRequest.entity_id.in_([str(i) for i in qualification_ids])).order_by(ApprovalRequest.id))
    return {int(r.entity_id): r for r in rows}


def served_hospitals(session: Session, dealer_id: int, limit: int = 200) -> list[Hospital]:
    return list(session.scalars(select(Hospital).where(Hospital.serving_dealer_id == dealer_id)
                                .order_by(Hospital.name).limit(limit)))


@dataclass
class RegionNode:
    region: Region
    managers: list
    children: list["RegionNode"]


def region_tree(session: Session) -> list[RegionNode]:
    """The territory tree from its roots, each node with the regional managers who
    cover it (users with that region)."""
    from app.identity.models import User, UserRegion

    regions_ = list(session.scalars(select(Region).order_by(Region.level, Region.name_en)))
    managers: dict[int, list] = {}
    for region_id, user in session.execute(select(UserRegion.region_id, User).join(User, User.id == UserRegion.user_id)
                                           .where(User.active.is_(True)).order_by(User.name)):
        managers.setdefault(region_id, []).append(user)
    nodes = {r.id: RegionNode(r, managers.get(r.id, []), []) for r in regions_}
    roots = []
    for r in regions_:
        (nodes[r.parent_id].children if r.parent_id in nodes else roots).append(nodes[r.id])
    return roots


def _subtree_ids(region_id: int):
    root = select(Region.path).where(Region.id == region_id).scalar_subquery()
    return select(Region.id).where(Region.path.startswith(root))


def regions(session: Session, max_level: int = 3) -> list[Region]:
    return list(session.scalars(select(Region).where(Region.level <= max_level).order_by(Region.path)))


def dealer_choices(session: Session, scope: ChannelScope = ChannelScope()) -> list[Dealer]:
    """Active dealers to choose from, within ``scope`` (a regional manager's choices are
    the dealers of their regions)."""
    stmt = select(Dealer).where(Dealer.status == "active").order_by(Dealer.name).limit(5000)
    return list(session.scalars(_scoped(stmt, Dealer, scope)))


def serving_dealer_choices(session: Session, scope: ChannelScope = ChannelScope()) -> list[Dealer]:
    """The dealers that serve at least one hospital, within ``scope``: what the hospital
    list's "serving dealer" filter offers (a few dozen, however many dealers there are)."""
    serving = select(Hospital.serving_dealer_id).where(Hospital.serving_dealer_id.is_not(None)).distinct()
    return list(session.scalars(_scoped(select(Dealer).where(Dealer.id.in_(serving)).order_by(Dealer.name), Dealer, scope)))


def hospital_choices(session: Session, scope: ChannelScope = ChannelScope()) -> list[Hospital]:
    stmt = select(Hospital).where(Hospital.status == "active").order_by(Hospital.name).limit(5000)
    return list(session.scalars(_scoped(stmt, Hospital, scope)))

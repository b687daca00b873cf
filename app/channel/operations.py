"""Writes about the channel. The master-data issue adds the rest (qualifications,
authorizations, first-business review); these are what the platform needs."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.channel.models import Dealer, Hospital, Region


def add_region(session: Session, code: str, name: str, name_en: str, parent: Region | None = None) -> Region:
    region = Region(code=code, name=name, name_en=name_en, parent=parent, level=0 if parent is None else parent.level + 1)
    session.add(region)
    session.flush()
    region.path = f"{parent.path if parent else '/'}{region.id}/"
    session.flush()
    return region


def add_dealer(session: Session, code: str, name: str, region: Region, tier: str = "tier1", **extra) -> Dealer:
    dealer = Dealer(code=code, name=name, region_id=region.id, tier=tier, **extra)
    session.add(dealer)
    session.flush()
    return dealer


def add_hospital(session: Session, code: str, name: str, grade: str, region: Region, city: str | None = None) -> Hospital:
    hospital = Hospital(code=code, name=name, grade=grade, region_id=region.id, city=city)
    session.add(hospital)
    session.flush()
    return hospital


def dealer_review_decided(session: Session, request) -> None:
    """First-business review decided: the dealer becomes active, or stays out."""
    dealer = session.get(Dealer, int(request.entity_id))
    if dealer is not None and dealer.status == "pending":
        dealer.status = "active" if request.status == "approved" else "rejected"
        session.flush()


def qualification_review_decided(session: Session, request) -> None:
    from app.channel.models import Qualification

    qualification = session.get(Qualification, int(request.entity_id))
    if qualification is not None and qualification.status == "pending":
        qualification.status = "approved" if request.status == "approved" else "rejected"
        session.flush()

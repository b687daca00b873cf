"""``flask --app wsgi demo seed``: the demo tenants, filled once (a second run only
reports what is there)."""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Sku
from app.channel import operations as channel_ops
from app.channel.models import Dealer, Hospital, Region
from app.compliance import approvals
from app.compliance.models import ApprovalChain
from app.compliance.operations import Actor, set_context
from app.demo import data
from app.identity.models import User
from app.identity.operations import hash_password
from tenants.migrations import migrate_all, upgrade_public
from tenants.provisioning import create_tenant
from tenants.registry import by_slug
from tenants.session import tenant_session


def seed_all(engine: Engine, session: Session) -> Iterator[str]:
    upgrade_public(engine)
    migrate_all(engine, jobs=1)
    for slug, spec in data.TENANTS.items():
        tenant = by_slug(session, slug)
        session.rollback()
        if tenant is None:
            tenant = create_tenant(engine, slug, spec["name"])
            yield f"created tenant {slug}"
        with tenant_session(session, tenant):
            set_context(session, Actor.system("demo seed"))
            if session.scalar(select(func.count()).select_from(User)):
                yield f"{slug}: already seeded"
            else:
                seed_tenant(session, slug, spec)
                yield f"{slug}: seeded {len(spec['dealers'])} dealers, {len(data.HOSPITALS)} hospitals, {len(spec['skus'])} SKUs"
            # Later stages are seeded once each, so an older demo database catches up.
            if not session.scalar(select(func.count()).select_from(ApprovalChain)):
                seed_approvals(session, slug, spec)
                yield f"{slug}: seeded approval chains and sample requests"


def seed_tenant(session: Session, slug: str, spec: dict) -> None:
    regions: dict[str, Region] = {}
    country = channel_ops.add_region(session, "CN", "中国", "China")
    for code, name, name_en, provinces in data.REGIONS:
        area = regions[code] = channel_ops.add_region(session, code, name, name_en, country)
        for p_code, p_name, p_en, cities in provinces:
            province = regions[p_code] = channel_ops.add_region(session, p_code, p_name, p_en, area)
            for c_code, c_name, c_en in cities:
                regions[c_code] = channel_ops.add_region(session, c_code, c_name, c_en, province)

    lines = {}
    for code, name, name_en in spec["product_lines"]:
        lines[code] = ProductLine(code=code, name=name, name_en=name_en)
        session.add(lines[code])
    session.flush()
    for code, name, specification, unit, line in spec["skus"]:
        session.add(Sku(code=code, name=name, specification=specification, unit=unit, product_line_id=lines[line].id))

    dealers: dict[str, Dealer] = {}
    for code, name, tier, region, contact, phone in spec["dealers"]:
        dealers[code] = channel_ops.add_dealer(session, code, name, regions[region], tier,
                                               contact_name=contact, contact_phone=phone)
    hospitals: dict[str, Hospital] = {}
    for code, name, grade, city, city_name in data.HOSPITALS:
        hospitals[code] = channel_ops.add_hospital(session, code, name, grade, regions[city], city_name)

    password = hash_password(data.PASSWORD)
    for local, name, roles, region_codes in data.MANUFACTURER_USERS:
        user = User(email=f"{local}@{slug}.test", name=name, portal="manufacturer", roles=roles, password_hash=password)
        user.regions = [regions[c] for c in region_codes]
        session.add(user)
    for local, dealer_code, name, roles in spec["dealer_users"]:
        session.add(User(email=f"{local}@{slug}.test", name=name, portal="dealer", roles=roles,
                         dealer_id=dealers[dealer_code].id, password_hash=password))
    for local, hospital_code, name, roles in spec["hospital_users"]:
        session.add(User(email=f"{local}@{slug}.test", name=name, portal="hospital", roles=roles,
                         hospital_id=hospitals[hospital_code].id, password_hash=password))
    session.flush()


def seed_approvals(session: Session, slug: str, spec: dict) -> None:
    """The chains a mid-sized maker starts with, and two price requests in flight."""
    from decimal import Decimal

    step = approvals.StepSpec
    for kind, steps in data.CHAINS.items():
        for name, role, same_region, field, op, value, sla in steps:
            approvals.add_step(session, kind, step(name, role, same_region, field, op,
                                                   None if value is None else Decimal(value), sla))
    for local, title, facts in spec.get("sample_requests", ()):
        requester = session.scalar(select(User).where(User.email == f"{local}@{slug}.test"))
        dealer = requester.dealer
        approvals.submit(session, "price_request", title, requester, facts, ("dealers", dealer.id), dealer.region_id)

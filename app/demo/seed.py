"""``flask --app wsgi demo seed``: the demo tenants, filled once (a second run only
reports what is there)."""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Registration, Sku
from app.channel import operations as channel_ops
from app.channel.models import Dealer, Hospital, Region
from app.compliance import approvals
from app.compliance.models import ApprovalChain
from app.compliance.operations import Actor, set_context
from app.demo import data, master_data
from app.demo.finance import seed_finance
from app.demo.orders import seed_orders
from app.demo.prices import seed_special_prices, seed_two_invoice
from app.demo.recalls import seed_recalls
from app.demo.rebate_use import seed_rebate_use
from app.demo.rebates import seed_rebates
from app.demo.statements import seed_statements
from app.demo.stock import seed_stock
from app.core.i18n import shanghai_today
from app.finance.models import Payment, Statement
from app.identity.models import User
from app.identity.operations import hash_password
from app.inventory.models import Warehouse
from app.orders.models import Order
from app.pricing.models import PriceRequest
from app.rebates.models import RebateClaim, RebatePolicy
from app.service.models import InstalledUnit, RecallCampaign, ServicePlan, ServiceTicket
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
            if not session.scalar(select(func.count()).select_from(Registration)):
                yield f"{slug}: {seed_master_data(session, slug)}"
            if not session.scalar(select(func.count()).select_from(Warehouse)):
                yield f"{slug}: {seed_stock(session, slug)}"
            if not session.scalar(select(func.count()).select_from(Order)):
                yield f"{slug}: {seed_orders(session, slug)}"
            if not session.scalar(select(func.count()).select_from(Payment)):
                yield f"{slug}: {seed_finance(session, slug)}"
            if not session.scalar(select(func.count()).select_from(PriceRequest)):
                yield f"{slug}: {seed_special_prices(session, slug)}"
            if not session.scalar(select(func.count()).select_from(Hospital).where(Hospital.ownership == "private")):
                yield f"{slug}: {seed_two_invoice(session, slug)}"
            if not session.scalar(select(func.count()).select_from(RebatePolicy)):
                yield f"{slug}: {seed_rebates(session, slug)}"
            if not session.scalar(select(func.count()).select_from(RebateClaim)):
                yield f"{slug}: {seed_rebate_use(session, slug)}"
            if not session.scalar(select(func.count()).select_from(Statement)):
                yield f"{slug}: {seed_statements(session, slug)}"
            if not session.scalar(select(func.count()).select_from(InstalledUnit)):
                from app.demo.installed_base import seed_installed_base

                yield f"{slug}: {seed_installed_base(session, slug)}"
            if not session.scalar(select(func.count()).select_from(ServicePlan)):
                from app.demo.service_plans import seed_service_plans

                yield f"{slug}: {seed_service_plans(session, slug)}"
            if not session.scalar(select(func.count()).select_from(ServiceTicket)):
                from app.demo.tickets import seed_tickets

                yield f"{slug}: {seed_tickets(session, slug)}"
            if not session.scalar(select(func.count()).select_from(RecallCampaign)):
                yield f"{slug}: {seed_recalls(session, slug)}"


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
    """The chains a mid-sized maker starts with (requests in flight come with their
    stages: special prices in app.demo.prices)."""
    from decimal import Decimal

    step = approvals.StepSpec
    for kind, steps in data.CHAINS.items():
        for name, role, same_region, field, op, value, sla in steps:
            approvals.add_step(session, kind, step(name, role, same_region, field, op,
                                                   None if value is None else Decimal(value), sla))


#: the day the demo's dates were written for: seeded later, every date moves by as many
#: days, so what was near expiry, current or lapsed then is so on the seeding day too
AUTHORED_ON = "2026-11-25"


def demo_day(text: str):
    from datetime import date

    return date.fromisoformat(text) + (shanghai_today() - date.fromisoformat(AUTHORED_ON))


def _year_named(text: str, start: str) -> str:
    """A name or code written with the authored year ("2026 年度…") in the year its
    shifted start falls in."""
    return text.replace(AUTHORED_ON[:4], str(demo_day(start).year))


def _uscc(province: str, code: str) -> str:
    """A well-formed unified social credit code for a demo dealer (stable per code)."""
    import hashlib

    from app.channel.rules import USCC_ALPHABET, uscc_check_char

    digest = hashlib.sha256(code.encode()).digest()
    org = "".join(USCC_ALPHABET[b % 31] for b in digest[:8]) + USCC_ALPHABET[digest[8] % 10]
    first17 = "91" + master_data.DIVISIONS[province] + org
    return first17 + uscc_check_char(first17)


def _gtin(company: int, item: int) -> str:
    body = f"0697{company:05d}{item:04d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def seed_master_data(session: Session, slug: str) -> str:
    """Stage 2: registrations and product details, the rest of the dealer network with
    qualifications, ~150 hospitals, authorizations, price lists, bands and tender awards."""
    from decimal import Decimal

    from app.channel.models import Authorization, Qualification
    from app.pricing.models import PriceBand, PriceList, PriceListItem, TenderPrice

    md = master_data
    known = set(session.scalars(select(User.email)))
    for local, name, roles, _regions in data.MANUFACTURER_USERS:  # logins added since stage 1
        if f"{local}@{slug}.test" not in known:
            session.add(User(email=f"{local}@{slug}.test", name=name, portal="manufacturer", roles=roles,
                             password_hash=hash_password(data.PASSWORD)))
    tenant_name = data.TENANTS[slug]["name"]
    regions = {r.code: r for r in session.scalars(select(Region))}
    lines = {p.code: p for p in session.scalars(select(ProductLine))}
    skus = {s.code: s for s in session.scalars(select(Sku).order_by(Sku.code))}

    def prefix_of(code: str) -> str:
        return next(p for p in sorted(md.PRICES, key=len, reverse=True) if code.startswith(p))

    for number, name, cls, start, until, prefixes, scope in md.REGISTRATIONS[slug]:
        registration = Registration(number=number, product_name=name, device_class=cls, holder=tenant_name,
                                    valid_from=demo_day(start), valid_until=demo_day(until), scope=scope)
        session.add(registration)
        session.flush()
        for sku in skus.values():
            if any(sku.code.startswith(p) for p in prefixes):
                sku.registration_id = registration.id
    company = 10000 + sum(map(ord, slug)) % 90000
    for i, sku in enumerate(skus.values(), 1):
        instrument = sku.unit == "台"
        reagent = sku.product_line.code in ("IVD", "POCT") and not instrument
        sku.udi_di = _gtin(company, i)
        sku.tracking = "serial" if instrument or sku.code.startswith(("SH-TAVR", "SH-LAAO")) else "lot"
        sku.implant = sku.code.startswith(("CV-DES", "SH-"))
        sku.shelf_life_months = None if instrument else (12 if reagent else 36)
        sku.storage = "2～8℃冷藏，避免冻融" if reagent else ("常温，防潮防震" if instrument else "常温，避光、干燥处保存")
        if sku.product_line.code in ("CV", "SH"):  # consumables carry the 医保耗材编码
            sku.nhsa_code = f"C{2 if sku.product_line.code == 'CV' else 3:02d}{i:04d}{company:06d}0000000" + f"{i:07d}"
    session.flush()

    dealers = {d.code: d for d in session.scalars(select(Dealer))}
    for code, name, tier, province, contact, phone, upstream, status in md.MORE_DEALERS[slug]:
        dealers[code] = channel_ops.add_dealer(session, code, name, regions[province], tier, contact_name=contact,
                                               contact_phone=phone, status=status)
    upstreams = dict(md.UPSTREAM[slug], **{d[0]: d[6] for d in md.MORE_DEALERS[slug] if d[6]})
    for n, dealer in enumerate(sorted(dealers.values(), key=lambda d: d.code)):
        province = dealer.region.code.split("-")[0]
        dealer.uscc = _uscc(province, dealer.code)
        dealer.upstream_dealer_id = dealers[upstreams[dealer.code]].id if dealer.code in upstreams else None
        dealer.credit_limit = Decimal({"agent": "5000000.00", "tier1": "2000000.00", "tier2": "500000.00"}[dealer.tier])
        dealer.payment_terms_days = {"agent": 90, "tier1": 60, "tier2": 45}[dealer.tier]
        dealer.bank_name = f"{md.BANKS[n % len(md.BANKS)]}{dealer.region.name}分行"
        dealer.bank_account = f"{6222 + n:04d}{(n * 7919) % 10**8:08d}{n % 10000:04d}"
        dealer.address = f"{dealer.region.name}市某区经开大道 {18 + n * 3} 号"
        dealer.contact_email = f"{dealer.code.lower()}@example.cn"
        prefix = md.PERMIT_PREFIX[province]
        session.add(Qualification(dealer_id=dealer.id, kind="business_license", number=dealer.uscc, status="approved",
                                  scope="医疗器械销售；医疗器械技术咨询、技术服务", issued_on=demo_day("2015-06-01")))
        session.add(Qualification(
            dealer_id=dealer.id, kind="operating_permit", number=f"{prefix}药监械经营许{2016 + n % 8}{n + 1:04d}号",
            device_classes=["II", "III"], scope="III类：6877介入器材，13无源植入器械，03神经和心血管手术器械；II类、III类：6840体外诊断试剂",
            issued_on=demo_day("2022-01-11"), valid_until=demo_day(md.PERMIT_UNTIL.get(dealer.code, "2029-03-31")),
            status="approved"))
        session.add(Qualification(dealer_id=dealer.id, kind="class2_filing", number=f"{prefix}药监械经营备{2016 + n % 8}{n + 31:04d}号",
                                  device_classes=["II"], scope="II类医疗器械（不含体外诊断试剂除外）", issued_on=demo_day("2016-08-01"),
                                  status="approved"))
    session.flush()

    hospitals = {h.code: h for h in session.scalars(select(Hospital))}
    for city, grade, names in md.MORE_HOSPITALS:
        province = city.split("-")[0]
        for name in names:
            n = 1 + max([int(c.rsplit("-", 1)[1]) for c in hospitals if c.startswith(f"H-{province}-")] or [0])
            code = f"H-{province}-{n:03d}"
            hospitals[code] = channel_ops.add_hospital(session, code, name, grade, regions[city], regions[city].name.rstrip("市"))
    by_region: dict[int, list] = {}
    for dealer in dealers.values():
        by_region.setdefault(dealer.region_id, []).append(dealer)
    for hospital in hospitals.values():
        hospital.departments = md.DEPARTMENTS.get(hospital.grade, md.DEPARTMENTS["三级乙等"])
        hospital.address = md.ADDRESSES.get(hospital.code)
        province = regions[hospital.region.code.split("-")[0]]
        serving = sorted((d for d in by_region.get(province.id, []) if d.status == "active"), key=lambda d: d.code)
        hospital.serving_dealer_id = serving[0].id if serving else None
    session.flush()

    count = {}
    for dealer_code, line, territory, exclusive, start, until in md.AUTHORIZATIONS[slug]:
        year = demo_day(start).year
        count[year] = count.get(year, 0) + 1
        session.add(Authorization(
            code=f"AUTH-{year}-{count[year]:04d}", dealer_id=dealers[dealer_code].id, product_line_id=lines[line].id,
            region_id=regions[territory].id if isinstance(territory, str) else None,
            hospital_ids=None if isinstance(territory, str) else [hospitals[h].id for h in territory],
            valid_from=demo_day(start), valid_until=demo_day(until), exclusive=exclusive))
    for code, name, channel, region, start, until, column, factor, only in md.PRICE_LISTS:
        price_list = PriceList(code=code, name=_year_named(name, start), channel=channel,
                               region_id=regions[region].id if region else None,
                               valid_from=demo_day(start), valid_until=demo_day(until))
        session.add(price_list)
        session.flush()
        for sku in skus.values():
            if only and not sku.code.startswith(only):
                continue  # a regional list overrides a few lines only
            price = (Decimal(md.PRICES[prefix_of(sku.code)][column]) * Decimal(factor)).quantize(Decimal("0.01"))
            session.add(PriceListItem(price_list_id=price_list.id, sku_id=sku.id, price=price))
    for sku in skus.values():
        dist, agent, direct = (Decimal(v) for v in md.PRICES[prefix_of(sku.code)])
        session.add(PriceBand(sku_id=sku.id, region_id=None, floor=(agent * Decimal("0.95")).quantize(Decimal("0.01")),
                              ceiling=direct, valid_from=demo_day("2026-01-01"), valid_until=demo_day("2026-12-31")))
    for award, sku_prefix, awardee, alliance, price, start, until in md.TENDERS[slug]:
        for sku in (s for s in skus.values() if s.code.startswith(sku_prefix)):
            in_region = awardee in regions
            session.add(TenderPrice(award_no=award, sku_id=sku.id, price=Decimal(price), alliance_name=alliance,
                                    hospital_id=None if in_region else hospitals[awardee].id,
                                    region_id=regions[awardee].id if in_region else None,
                                    valid_from=demo_day(start), valid_until=demo_day(until)))
    session.flush()
    return (f"seeded {len(md.REGISTRATIONS[slug])} registrations, {len(dealers)} dealers with qualifications, "
            f"{len(hospitals)} hospitals, {sum(count.values())} authorizations, {len(md.PRICE_LISTS)} price lists")

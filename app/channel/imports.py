"""Import specs of the channel: regions, dealers, hospitals, authorizations."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.catalog.models import ProductLine, Sku
from app.channel.models import Authorization, Dealer, Hospital, Region
from app.compliance.imports import (IMPORT_ROLES, Choice, Column, Day, Flag, ImportSpec, Integer, Number, Reference,
                                    ReferenceList, Text, TextList, register_import)
from app.core.errors import InvalidInput


def by_code(model):
    def find(session, values):
        code = values.get("code")
        return session.scalar(select(model).where(model.code == code)) if code else None

    return find


# --- regions -------------------------------------------------------------------------------

def _apply_region(session, values, existing, user):
    from app.channel import operations as ops

    return ops.save_region(session, values, existing)


register_import(ImportSpec(
    name="regions", label=_l("Regions"), roles=IMPORT_ROLES, key=("code",), find=by_code(Region), apply=_apply_region,
    description=_l("The territory tree: areas, provinces and cities under their parent region."),
    columns=(
        Column("code", "区域编码", "Region code", Text(30, upper=True), required=True, example="JS-WX"),
        Column("name", "区域名称", "Name", Text(100), required=True, example="无锡"),
        Column("name_en", "英文名称", "English name", Text(100), required=True, example="Wuxi"),
        Column("parent_id", "上级区域编码", "Parent region code", Reference(Region, _l("region")), example="JS",
               note=_l("Empty only for the country itself.")),
    ),
))


# --- dealers -------------------------------------------------------------------------------

TIER_OPTIONS = {"agent": ("代理商", "Agent"), "tier1": ("一级经销商", "一级", "Tier 1"),
                "tier2": ("二级经销商", "二级", "Tier 2")}


def _apply_dealer(session, values, existing, user):
    """A new dealer arrives pending: it trades only after its qualifications are on file
    and its first-business review approves it; an import never sets a status."""
    from app.channel import operations as ops

    return ops.save_dealer(session, values, existing)


register_import(ImportSpec(
    name="dealers", label=_l("Dealers"), roles=IMPORT_ROLES, key=("code",), find=by_code(Dealer), apply=_apply_dealer,
    description=_l("Dealers and agents; an existing dealer (same code) is updated."),
    columns=(
        Column("code", "经销商编码", "Dealer code", Text(30, upper=True), required=True, example="D-JS-101"),
        Column("name", "经销商名称", "Legal name", Text(200), required=True, example="无锡康达医疗器械有限公司"),
        Column("uscc", "统一社会信用代码", "Unified social credit code", Text(18, upper=True),
               example="91320200MA1XXXXXXX", note=_l("18 characters, checked with its check character.")),
        Column("tier", "层级", "Tier", Choice(TIER_OPTIONS), example="一级经销商"),
        Column("upstream_dealer_id", "上级经销商编码", "Upstream dealer code", Reference(Dealer, _l("dealer")),
               note=_l("Second-tier dealers only: the dealer that authorizes them, already entered "
                       "(import first-tier dealers first).")),
        Column("region_id", "区域编码", "Region code", Reference(Region, _l("region")), required=True, example="JS-WX"),
        Column("contact_name", "联系人", "Contact", Text(100), example="王磊"),
        Column("contact_phone", "联系电话", "Phone", Text(40), example="0510-8888 6666"),
        Column("contact_email", "邮箱", "E-mail", Text(254), example="wanglei@example.com"),
        Column("address", "地址", "Address", Text(300), example="无锡市梁溪区人民中路 1 号"),
        Column("credit_limit", "信用额度", "Credit limit", Number(2, minimum=0), example="500000.00"),
        Column("payment_terms_days", "账期（天）", "Payment terms (days)", Integer(0, 365), example=60),
        Column("bank_name", "开户银行", "Bank", Text(200), example="中国工商银行无锡分行"),
        Column("bank_account", "银行账号", "Bank account", Text(40), example="1103 0201 0900 0123 456"),
    ),
))


# --- hospitals -----------------------------------------------------------------------------

GRADE_OPTIONS = {"三级甲等": ("三级甲等", "三甲", "3A"), "三级乙等": ("三级乙等", "三乙", "3B"),
                 "三级丙等": ("三级丙等", "三丙", "3C"), "二级甲等": ("二级甲等", "二甲", "2A"),
                 "二级乙等": ("二级乙等", "二乙", "2B"), "一级": ("一级", "1"), "未定级": ("未定级", "Ungraded")}


def _apply_hospital(session, values, existing, user):
    from app.channel import operations as ops

    return ops.save_hospital(session, values, existing)


register_import(ImportSpec(
    name="hospitals", label=_l("Hospitals"), roles=IMPORT_ROLES, key=("code",), find=by_code(Hospital),
    apply=_apply_hospital, description=_l("Hospitals; an existing hospital (same code) is updated."),
    columns=(
        Column("code", "医院编码", "Hospital code", Text(30, upper=True), required=True, example="H-JS-101"),
        Column("name", "医院名称", "Name", Text(200), required=True, example="无锡市人民医院"),
        Column("grade", "医院等级", "Grade", Choice(GRADE_OPTIONS), required=True, example="三级甲等"),
        Column("region_id", "区域编码", "Region code", Reference(Region, _l("region")), required=True, example="JS-WX"),
        Column("city", "城市", "City", Text(100), example="无锡"),
        Column("address", "地址", "Address", Text(300), example="无锡市梁溪区清扬路 299 号"),
        Column("departments", "科室", "Departments", TextList(60), example="心内科、导管室、检验科"),
        Column("contact_name", "联系人", "Contact", Text(100), example="陈静"),
        Column("contact_phone", "联系电话", "Phone", Text(40), example="0510-8270 0778"),
        Column("serving_dealer_id", "配送经销商编码", "Serving dealer code", Reference(Dealer, _l("dealer")),
               example="D-SH-001"),
    ),
))


# --- authorizations ------------------------------------------------------------------------

AUTHORIZATION_KEY = ("dealer_id", "product_line_id", "sku_ids", "region_id", "hospital_ids", "valid_from", "valid_until")


def _find_authorization(session, values):
    """An active authorization with exactly this reach and window (a file imported twice)."""
    stmt = select(Authorization).where(Authorization.status == "active")
    for key in AUTHORIZATION_KEY:
        column, value = getattr(Authorization, key), values.get(key)
        if value is None:
            stmt = stmt.where(column.is_(None))
        elif isinstance(value, list):
            stmt = stmt.where(column == sorted(value))
        else:
            stmt = stmt.where(column == value)
    return session.scalars(stmt.limit(1)).first()


def _apply_authorization(session, values, existing, user):
    from app.channel import authorizations

    if existing is not None:
        raise InvalidInput("dealer_id", _("This dealer already holds this authorization (%(code)s).",
                                          code=existing.code))
    values = {k: sorted(v) if isinstance(v, list) else v for k, v in values.items()}
    return authorizations.create_authorization(session, values, requested_by=user)


register_import(ImportSpec(
    name="authorizations", label=_l("Authorizations"), roles=IMPORT_ROLES, key=AUTHORIZATION_KEY,
    find=_find_authorization, apply=_apply_authorization,
    description=_l("New authorizations: a dealer, a product line or SKUs, a region or hospitals, a period. "
                   "Each gets its code and its letter (授权书)."),
    columns=(
        Column("dealer_id", "经销商编码", "Dealer code", Reference(Dealer, _l("dealer")), required=True,
               example="D-SH-001"),
        Column("product_line_id", "产品线编码", "Product line code", Reference(ProductLine, _l("product line")),
               example="CV", note=_l("A product line, or SKU codes in the next column: one of the two.")),
        Column("sku_ids", "产品编码", "SKU codes", ReferenceList(Sku, _l("SKU"))),
        Column("region_id", "区域编码", "Region code", Reference(Region, _l("region")), example="SH",
               note=_l("A region, or hospital codes in the next column: one of the two.")),
        Column("hospital_ids", "医院编码", "Hospital codes", ReferenceList(Hospital, _l("hospital"))),
        Column("valid_from", "开始日期", "Valid from", Day(), required=True, example="2025-01-01"),
        Column("valid_until", "结束日期", "Valid until", Day(), required=True, example="2025-12-31"),
        Column("exclusive", "独家", "Exclusive", Flag(), example="否"),
        Column("notes", "备注", "Notes", Text(2000)),
    ),
))

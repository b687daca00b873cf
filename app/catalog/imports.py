"""Import spec of the catalog: SKUs."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.catalog.models import ProductLine, Registration, Sku
from app.compliance.imports import Choice, Column, Flag, ImportSpec, Integer, Number, Reference, Text, register_import


def _find_sku(session, values):
    code = values.get("code")
    return session.scalar(select(Sku).where(Sku.code == code)) if code else None


def _apply_sku(session, values, existing, user):
    from app.catalog import operations as ops

    # A new SKU imported by a user goes to its first-business review like one made on its page.
    return ops.save_sku(session, values, existing, requester=user)


register_import(ImportSpec(
    name="skus", label=_l("SKUs"), roles=("admin", "channel_manager", "qa_ra"), key=("code",), find=_find_sku,
    apply=_apply_sku, description=_l("Products (SKUs); an existing SKU (same code) is updated."),
    columns=(
        Column("code", "产品编码", "SKU code", Text(40, upper=True), required=True, example="CV-DES-3018"),
        Column("name", "产品名称", "Name", Text(200), required=True, example="药物洗脱冠脉支架系统"),
        Column("specification", "规格型号", "Specification", Text(200), example="3.0×18mm"),
        Column("unit", "单位", "Unit", Text(20), required=True, example="套"),
        Column("product_line_id", "产品线编码", "Product line code", Reference(ProductLine, _l("product line")),
               required=True, example="CV"),
        Column("registration_id", "注册证号", "Registration number",
               Reference(Registration, _l("registration certificate"), code_attr="number", upper=False),
               example="国械注准20193130001", note=_l("The certificate must be entered before its SKUs.")),
        Column("udi_di", "UDI-DI", "UDI-DI", Text(14), example="06901234567892",
               note=_l("GTIN-14 with its check digit.")),
        Column("nhsa_code", "医保耗材编码", "Medical-insurance code", Text(60),
               note=_l("The letter C and 26 digits (20-character code plus 7-digit specification code).")),
        Column("tax_rate", "税率", "Tax rate", Number(4, minimum=Decimal(0), percent=True), example="13%",
               note=_l("13% or 0.13; empty means 13%.")),
        Column("storage", "储存条件", "Storage", Text(100), example="常温，避光"),
        Column("tracking", "追溯方式", "Tracking", Choice({"lot": ("批号", "Lot"), "serial": ("序列号", "Serial")}),
               example="批号"),
        Column("shelf_life_months", "有效期（月）", "Shelf life (months)", Integer(1, 600), example=24),
        Column("implant", "植入类", "Implant", Flag(), example="是"),
    ),
))

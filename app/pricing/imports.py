"""Import spec of pricing: the items (SKU and price) of existing price lists."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l

from app.catalog.models import Sku
from app.compliance.imports import Column, ImportSpec, Number, Reference, register_import
from app.pricing.models import PriceList


def _apply_item(session, values, existing, user):
    from app.pricing import operations as ops

    return ops.save_price_list_item(session, values)


register_import(ImportSpec(
    name="price_list_items", label=_l("Price list items"), roles=("admin", "channel_manager", "finance"),
    key=("price_list_id", "sku_id"), apply=_apply_item,
    description=_l("Prices of SKUs in existing price lists; a SKU already in the list gets the new price."),
    columns=(
        Column("price_list_id", "价目表编码", "Price list code", Reference(PriceList, _l("price list")), required=True,
               example="PL-DIST-2025"),
        Column("sku_id", "产品编码", "SKU code", Reference(Sku, _l("SKU")), required=True, example="CV-DES-3018"),
        Column("price", "价格", "Price", Number(2, minimum=Decimal("0.01")), required=True, example="6800.00",
               note=_l("Unit price in CNY including VAT, at most 2 decimals.")),
    ),
))

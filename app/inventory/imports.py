"""Import spec of dealers' sell-out (流向): a dealer uploads its monthly sales to
hospitals as .xlsx or .csv; every row goes through ``record_sell_out`` for the signed-in
dealer only, all rows or none."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.catalog.models import Sku
from app.channel.models import Dealer, Hospital
from app.compliance.imports import Column, Day, ImportSpec, Integer, Number, Reference, Text, register_import
from app.core.errors import InvalidInput

SELL_OUT_ROLES = ("dealer_owner", "dealer_sales")
#: the import run the rows being applied belong to (set by the dealer's upload page)
RUN_KEY = "sell_out_import_run_id"


def _apply_sell_out(session, values, existing, user):
    from app.inventory.sellout import record_sell_out

    dealer = session.get(Dealer, user.dealer_id) if user is not None and user.dealer_id else None
    if dealer is None:
        raise InvalidInput(None, _("Only a dealer's users can upload sell-out."))
    try:
        return record_sell_out(session, dealer, user, values, source="import",
                               import_run_id=session.info.get(RUN_KEY))
    except InvalidInput as err:
        # a lot chosen by id does not exist in a file: the typed lot or serial column is meant
        if err.field == "lot_id":
            raise InvalidInput("serial_no" if values.get("serial_no") and not values.get("lot_no") else "lot_no",
                               err.message) from None
        raise


SELL_OUT_SPEC = register_import(ImportSpec(
    name="sell_out", label=_l("Sell-out"), roles=SELL_OUT_ROLES, key=(), apply=_apply_sell_out,
    description=_l("Your sales to hospitals (流向): one row per invoice line, checked against the lots you received."),
    columns=(
        Column("sold_on", "销售日期", "Sale date", Day(), required=True, example="2026-11-03"),
        Column("hospital_id", "医院编码", "Hospital code", Reference(Hospital, _l("hospital")), required=True,
               example="H-SH-001"),
        Column("sku_id", "产品编码", "SKU code", Reference(Sku, _l("SKU")), required=True, example="CV-DES-2518"),
        Column("lot_no", "批号", "Lot", Text(20), example="L2511A",
               note=_l("The lot number, or the serial number in the next column for serial-controlled products.")),
        Column("serial_no", "序列号", "Serial number", Text(20)),
        Column("quantity", "数量", "Quantity", Integer(1, 1_000_000), required=True, example=2),
        Column("unit_price", "单价", "Unit price", Number(2, minimum=0), required=True, example="6800.00",
               note=_l("CNY including VAT, as invoiced to the hospital.")),
        Column("invoice_no", "发票号", "Invoice number", Text(40), required=True, example="04412345"),
    ),
))

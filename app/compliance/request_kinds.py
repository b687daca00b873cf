"""The kinds of request that go through approval chains, with the figures their
conditions may test. The domain issues attach what happens on a decision
(``register_kind(..., on_decided=…)``) and submit requests; admins configure chains now."""
from flask_babel import lazy_gettext as _l

from app.compliance.approvals import Fact, register_kind

AMOUNT = Fact("amount", _l("Amount (CNY)"), "CNY")

register_kind("price_request", _l("Special-price request"),
              (Fact("discount_pct", _l("Discount below the band floor (%)"), "%"), AMOUNT))
register_kind("rebate_claim", _l("Rebate claim"), (AMOUNT,))
register_kind("order_over_credit", _l("Order over credit limit"), (AMOUNT, Fact("over_limit", _l("Amount over the limit (CNY)"), "CNY")))
register_kind("dealer_review", _l("First-business review of a dealer"))
register_kind("product_review", _l("First-business review of a product"))
register_kind("return_request", _l("Return"), (AMOUNT,))

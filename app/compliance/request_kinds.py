"""The kinds of request that go through approval chains, with the figures their
conditions may test, and the domain function called when one is decided."""
from flask_babel import lazy_gettext as _l

from app.compliance.approvals import Fact, register_kind

AMOUNT = Fact("amount", _l("Amount (CNY)"), "CNY")

register_kind("price_request", _l("Special-price request"),
              (Fact("discount_pct", _l("Discount below the band floor (%)"), "%"), AMOUNT),
              on_decided="app.pricing.special_prices:price_request_decided",
              on_changed="app.pricing.special_prices:price_request_changed")
register_kind("rebate_claim", _l("Rebate claim"), (AMOUNT, Fact("approved_amount", _l("Approved amount (CNY)"), "CNY")),
              on_decided="app.rebates.claims:claim_decided", on_changed="app.rebates.claims:claim_changed")
register_kind("price_protection", _l("Price protection"), (AMOUNT,), on_decided="app.rebates.protection:protection_decided",
              on_changed="app.rebates.protection:protection_changed")
register_kind("order_over_credit", _l("Order over credit limit"), (AMOUNT, Fact("over_limit", _l("Amount over the limit (CNY)"), "CNY"),
                                                                    Fact("overdue_amount", _l("Overdue receivables (CNY)"), "CNY")),
              on_decided="app.orders.operations:credit_approval_decided")
register_kind("dealer_review", _l("First-business review of a dealer"),
              on_decided="app.channel.operations:dealer_review_decided",
              before_approval="app.channel.operations:dealer_review_check")
register_kind("qualification_review", _l("Review of a renewed qualification"),
              on_decided="app.channel.operations:qualification_review_decided")
register_kind("product_review", _l("First-business review of a product"),
              on_decided="app.catalog.operations:product_review_decided")
register_kind("transfer", _l("Stock transfer"), (Fact("quantity", _l("Units"), ""),), on_decided="app.inventory.transfers:transfer_decided")
register_kind("project_registration", _l("Project registration"), (Fact("conflicts", _l("Conflicting registrations"), ""),), on_decided="app.orders.projects:project_decided")
register_kind("return_request", _l("Return"), (AMOUNT,), on_decided="app.orders.fulfilment:return_decided")

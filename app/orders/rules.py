"""Pure order rules: an order's fulfilment status from its lines, and the credit check."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

#: statuses decided by people or gates; fulfilment never moves an order out of these
HELD = ("pending_approval", "rejected", "cancelled", "closed")


@dataclass(frozen=True)
class LineProgress:
    quantity: int
    allocated: int   # allocated and not yet shipped
    shipped: int     # shipped (signed for or not)
    delivered: int   # signed for


def fulfilment_status(current: str, lines: list[LineProgress]) -> str:
    """approved → allocated → partially_shipped → shipped → delivered, from the lines.
    Statuses a person or gate set (pending approval, rejected, cancelled, closed) stay."""
    if current in HELD or not lines:
        return current
    if all(line.delivered >= line.quantity for line in lines):
        return "delivered"
    if all(line.shipped >= line.quantity for line in lines):
        return "shipped"
    if any(line.shipped for line in lines):
        return "partially_shipped"
    if all(line.allocated + line.shipped >= line.quantity for line in lines):
        return "allocated"
    return "approved"


@dataclass(frozen=True)
class CreditCheck:
    limit: Decimal
    open_amount: Decimal     # accepted orders not yet invoiced + open receivables
    overdue_amount: Decimal  # open invoices past their due day (less money received, not yet matched)
    order_amount: Decimal

    @property
    def exposure(self) -> Decimal:
        return self.open_amount + self.order_amount

    @property
    def over_limit(self) -> Decimal:
        return max(Decimal("0"), self.exposure - self.limit)

    @property
    def passes(self) -> bool:
        return self.over_limit == 0 and self.overdue_amount == 0

    def facts(self) -> dict:
        return {"limit": str(self.limit), "open_amount": str(self.open_amount), "overdue_amount": str(self.overdue_amount),
                "order_amount": str(self.order_amount), "over_limit": str(self.over_limit)}

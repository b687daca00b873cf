"""Inventory's scheduled work: once a day, available stock past its expiry date moves
to ``expired`` (movement kind "expiry") in every active tenant, so FEFO, the stock
overview and the alerts never count it as sellable."""
from __future__ import annotations

from app.core.daily import daily


@daily("stock-expiry", needs_table="stock_balances", actor="stock expiry")
def expire_due_stock(session, day) -> str | None:
    """``expire_stock`` for the day; safe to run twice (nothing is left to expire)."""
    from app.inventory.operations import expire_stock

    moved = expire_stock(session, day)
    return f"{moved} balance(s) of stock expired on {day}" if moved else None

"""The order timeline (订单动态): one row per thing that happened to an order."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.orders.models import Order, OrderEvent


def add_event(session: Session, order: Order, kind: str, actor_id: int | None = None, **details) -> OrderEvent:
    """Record that ``kind`` happened to the order; ``details`` are the facts its sentence
    names (JSON values: numbers as strings for money, shipment numbers, lots …)."""
    event = OrderEvent(order_id=order.id, kind=kind, actor_id=actor_id, details=details)
    session.add(event)
    session.flush()
    return event

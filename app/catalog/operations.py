"""Writes about the catalog: product lines, registrations, SKUs."""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.catalog.models import Sku


def product_review_decided(session: Session, request) -> None:
    """First-business review of a product decided: the SKU becomes orderable, or not."""
    sku = session.get(Sku, int(request.entity_id))
    if sku is not None and sku.status == "pending":
        sku.status = "active" if request.status == "approved" else "rejected"
        session.flush()

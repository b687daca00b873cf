"""Demo stage: reconciliation statements (对账单) for acme's two demo dealers, for the
month before last (华东医疗器械's already confirmed with its owner's signature) and last
month (awaiting confirmation: try confirming or disputing it as dealer1), generated and
printed through the real operations.

It runs after the finance and rebate stages and states what they wrote: the history
orders the finance stage placed and shipped in those months, their invoices and the
payments that settled them, and the rebate ledger's movements.
"""
from __future__ import annotations


from sqlalchemy import select
from sqlalchemy.orm import Session

from app.channel.models import Dealer
from app.core.i18n import shanghai_today
from app.finance.models import Statement
from app.finance.statements import operations as ops
from app.finance.statements import rules
from app.identity.models import User

__all__ = ["Statement", "seed_statements"]

DEALERS = {"acme": ("D-SH-001", "D-GD-001")}


def seed_statements(session: Session, slug: str) -> str:
    codes = DEALERS.get(slug)
    if not codes:
        return "no demo statements"
    last = rules.previous_month(rules.month_start(shanghai_today()))
    before = rules.previous_month(last)
    dealers = [session.scalar(select(Dealer).where(Dealer.code == code)) for code in codes]
    dealers = [d for d in dealers if d is not None]
    count = 0
    for month in (before, last):
        for dealer in dealers:
            if ops.generate_now(session, dealer.id, month).outcome == "issued":
                count += 1
    owner = session.scalar(select(User).where(User.email == f"dealer1@{slug}.test"))
    first = ops.current(session, owner.dealer_id, before) if owner is not None else None
    if first is not None and first.status == "issued":
        from app.demo.data import PASSWORD

        ops.confirm(session, first, owner, PASSWORD, None)
    return f"generated {count} statements for {before:%Y-%m} and {last:%Y-%m}"

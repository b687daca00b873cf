"""Dealer pages: our rebate ledger (返利台账) with its figures and entries, and one entry
explained — never another dealer's."""
from __future__ import annotations

from flask_login import current_user

from app.channel.queries import ChannelScope
from app.core.db import db
from app.core.handlers import RHDealer, get_or_404
from app.rebates import claims
from app.rebates import ledger_queries as lq
from portals import rebate_ledger as shared


class RHRebateLedger(RHDealer):
    """Usable balance, what of it pays for 票折 / 货补, what expires when, the estimate of
    open periods, and every entry newest first with the balance after it."""

    def get(self):
        return shared.ledger_page("dealer/rebate_ledger.html", current_user.dealer,
                                  can_claim=current_user.has_role(*claims.CLAIMANTS))


class RHRebateEntry(RHDealer):
    def _load(self, entry_id):
        self.entry = get_or_404(lq.entry_for(db.session, ChannelScope.of(current_user), entry_id))

    def get(self, entry_id):
        return shared.entry_page("dealer/rebate_entry.html", self.entry)

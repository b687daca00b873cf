"""Manufacturer pages: rebate balances per dealer (region filter, export), one dealer's
ledger, one entry explained — within the user's regions — and the settings of rebate
use (the 票折 cap, how long claim and price-protection credits stay usable)."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.channel import queries as channel_q
from app.channel.queries import ChannelScope
from app.compliance import queries as audit_q
from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHManufacturer, get_or_404
from app.core.htmx import redirect, render_page
from app.core.settings import settings as all_settings
from app.rebates import ledger_queries as lq
from app.rebates import use_settings
from portals import rebate_ledger as shared
from portals.forms import refused


def _scope():
    return ChannelScope.of(current_user)


class RHRebateLedger(RHManufacturer):
    """Balances per dealer, by dealer code; filter by region and search; export."""

    roles = lq.LEDGER_VIEWERS

    def get(self):
        flt = lq.BalanceFilter.of(request.args)
        page = lq.balances_page(db.session, _scope(), flt, request.args.get("after"))
        return render_page("manufacturer/rebate_ledger.html", block="results", page=page, flt=flt,
                           regions=channel_q.regions(db.session, max_level=1),
                           can_configure=RHRebateUseSettings.allows(current_user))


class RHRebateDealerLedger(RHManufacturer):
    roles = lq.LEDGER_VIEWERS

    def _load(self, dealer_id):
        self.dealer = get_or_404(lq.dealer_for(db.session, _scope(), dealer_id))

    def get(self, dealer_id):
        return shared.ledger_page("manufacturer/rebate_dealer_ledger.html", self.dealer)


class RHRebateEntry(RHManufacturer):
    roles = lq.LEDGER_VIEWERS

    def _load(self, entry_id):
        self.entry = get_or_404(lq.entry_for(db.session, _scope(), entry_id))

    def get(self, entry_id):
        return shared.entry_page("manufacturer/rebate_entry.html", self.entry, dealer=self.entry_dealer(),
                                 history=audit_q.history(db.session, "rebate_ledger_entries", str(self.entry.id)))

    def entry_dealer(self):
        from app.channel.models import Dealer

        return db.session.get(Dealer, self.entry.dealer_id)


class RHRebateUseSettings(RHManufacturer):
    roles = ("admin",)

    def _form(self, form, errors, status=200):
        return render_page("manufacturer/rebate_use_settings.html", status=status, form=form, errors=errors)

    def get(self):
        return self._form(all_settings(db.session), {})

    def post(self):
        values = {k: request.form.get(k, "") for k in use_settings.SETTINGS}
        try:
            use_settings.save(db.session, values)
        except InvalidInput as err:
            return self._form(values, refused(err, tuple(use_settings.SETTINGS)), status=400)
        flash(_("Settings saved."), "success")
        return redirect(url_for("manufacturer.rebate_use_settings"))

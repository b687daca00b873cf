"""The dealer's rebate page (返利): for each policy in force, why the amount is what it
is — the base and the lines behind it, the tier reached, the conditions, and what it
takes to reach the next tier. Everything is the signed-in dealer's own: the dealer's id
comes from the user, never from the request."""
from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from app.core.db import db
from app.core.errors import InvalidInput
from app.core.handlers import RHDealer, get_or_404
from app.core.htmx import render_page
from app.core.i18n import shanghai_today
from app.rebates import explain, policies, rules
from app.rebates.models import RebatePolicy
from app.rebates.settlement import parse_key


def _order_link(order_id: int) -> str | None:
    """The dealer's order page, where that endpoint exists."""
    from flask import url_for

    return url_for("dealer.order", order_id=order_id) if "dealer.order" in current_app.view_functions else None


class RHRebates(RHDealer):
    """Every policy in force for the chosen period (default: the running quarter, or
    the newest period the dealer has)."""

    def get(self):
        dealer, today = current_user.dealer, shanghai_today()
        keys = explain.dealer_period_keys(db.session, dealer, today)
        key = request.args.get("period", "")
        if key not in keys:
            running = [k for k in keys if rules.parse_period(k)[1] <= today <= rules.parse_period(k)[2]]
            key = (sorted(running, key=lambda k: ("quarter", "month", "year").index(rules.parse_period(k)[0]))
                   or keys or [None])[0]
        views = explain.dealer_views(db.session, dealer, key, today) if key else []
        return render_page("dealer/rebates.html", dealer=dealer, keys=keys, key=key, views=views, today=today,
                           ledger="dealer.rebate_ledger" in current_app.view_functions, **policies.view_helpers())


class RHRebatePolicy(RHDealer):
    """One policy for one period: the tiers, the bands, and the lines behind the base."""

    def _load(self, policy_id):
        self.dealer, self.today = current_user.dealer, shanghai_today()
        policy = get_or_404(db.session.get(RebatePolicy, policy_id))
        try:
            self.key = parse_key(request.args.get("period") or rules.period_key(policy.period, self.today))
        except InvalidInput:
            self.key = rules.period_key(policy.period, self.today)
        views = [v for v in explain.dealer_views(db.session, self.dealer, self.key, self.today)
                 if v.policy.id == policy.id]
        self.view = get_or_404(views[0] if views else None)

    def get(self, policy_id):
        view = self.view
        page = explain.base_lines(db.session, self.dealer.id, view.policy, view.window, request.args.get("after"))
        returns = (explain.credited_returns(db.session, self.dealer.id, view.policy, view.window)
                   if view.policy.kind != "collection" and view.policy.basis == "purchase" else [])
        return render_page("dealer/rebate_policy.html", block="results", view=view, policy=view.policy, key=self.key,
                           page=page, returns=returns, order_link=_order_link, tiers=rules.parse_tiers(view.policy.tiers),
                           **policies.view_helpers())

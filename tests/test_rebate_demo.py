"""The demo's rebates: acme's policies, last quarter settled and closed, this quarter
accrued, a draft waiting to be simulated; dealer1 sees the why-page of its agent policy."""
import re

from sqlalchemy import func, select

from app.rebates import rules
from app.rebates.models import RebateLedgerEntry, RebatePeriod, RebatePolicy
from app.core.i18n import shanghai_today

CQ = rules.period_key("quarter", shanghai_today())
LQ = rules.shift_key(CQ, -1)


def test_acme_demo_has_a_closed_settled_quarter_and_accrues_this_one(as_tenant):
    with as_tenant("acme") as session:
        # (other tests add policies of their own: the demo's are the ACME- ones)
        demo = RebatePolicy.code.like("ACME-%")
        codes = set(session.scalars(select(RebatePolicy.code).where(RebatePolicy.status == "published", demo)))
        assert codes == {"ACME-T1-CV", "ACME-AGENT", "ACME-IVD-GROWTH", "ACME-COLLECT", "ACME-MIX"}
        assert session.scalar(select(func.count()).select_from(RebatePolicy).where(RebatePolicy.status == "draft", demo)) == 1
        assert session.scalar(select(RebatePeriod.status).where(RebatePeriod.key == LQ)) == "closed"
        settled = dict(session.execute(select(RebatePolicy.code, func.sum(RebateLedgerEntry.amount))
                                       .join(RebatePolicy).where(RebateLedgerEntry.period_key == LQ,
                                                                 RebateLedgerEntry.kind.in_(("settled", "adjusted")))
                                       .group_by(RebatePolicy.code)).all())
        assert settled["ACME-AGENT"] > 0 and settled["ACME-T1-CV"] > 0 and settled["ACME-IVD-GROWTH"] > 0
        accrued_lq = session.scalar(select(func.sum(RebateLedgerEntry.amount)).join(RebatePolicy).where(
            RebateLedgerEntry.period_key == LQ, RebateLedgerEntry.kind == "accrued", demo))
        assert accrued_lq in (None, 0)
        accrued = session.scalar(select(func.sum(RebateLedgerEntry.amount)).join(RebatePolicy).where(
            RebateLedgerEntry.period_key == CQ, RebateLedgerEntry.kind == "accrued", demo))
        assert accrued > 0


def test_demo_dealer1_sees_its_agent_rebate_and_the_way_to_the_next_tier(signed_in):
    page = signed_in("acme", "dealer1").get("/dealer/rebates").get_data(as_text=True)
    card = re.search(r'<section class="card rebate" data-policy="ACME-AGENT">.*?</section>', page, re.S).group(0)
    assert "代理商分段累进返利" in card and "<progress" in card and "即可达到" in card
    # last quarter: (1,547,000 − 1,000,000) × 1.5 % = 8,205 (the next band starts at 3,000,000)
    last = signed_in("acme", "dealer1").get(f"/dealer/rebates?period={LQ}").get_data(as_text=True)
    assert "已结算" in last and "¥8,205.00" in last

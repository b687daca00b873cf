"""Accrual (计提): the running estimate of what each dealer will earn under each policy
in the periods not settled yet, kept in the ledger as ``accrued`` rows.

``accrue`` computes every dealer's result for the current period of each policy kind
in use (and for ended periods still open and not settled — a late sell-out report still
moves their estimate) exactly as settlement will (``bases.results_for``), and appends the
difference from what is accrued so far, so that Σ accrued per period × policy × dealer
equals the current estimate. Nothing changed, nothing is written. Each row names the
run that wrote it (``ref_type='jobs'``) and keeps the estimate's explanation.

It runs as the ``rebates.accrue`` job: once a day for every tenant (``@daily``, request
id ``rebates-accrue-<day>``, so a repeat is the same job), and when someone asks for it
on the settlements page. It is not requested after each shipment or sell-out report:
an estimate a day old is what accruals are for, the dealer's page computes its own
figures live, and a request per transaction would cost the order path a job row for
nothing a dealer could see.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from app.compliance.operations import record_event
from app.core.daily import daily
from app.core.i18n import shanghai_today
from app.core.jobs import JobContext, Output, job_kind, request_job
from app.core.money import ZERO
from app.rebates import bases, rules
from app.rebates.models import RebateLedgerEntry, RebatePeriod, RebatePolicy
from app.rebates.settlement import ensure_period, is_settled, lock_period

ACCRUERS = ("admin", "finance", "channel_manager")


def accrual_keys(session: Session, today: date) -> list[str]:
    """The periods whose estimates are kept: today's period of each kind a policy in
    force uses (published, or retired but still running to the end of this period), and
    ended periods still open that were never settled."""
    from sqlalchemy import or_

    kinds = session.scalars(select(RebatePolicy.period).where(
        RebatePolicy.status.in_(("published", "retired")), RebatePolicy.published_at.is_not(None),
        or_(RebatePolicy.valid_until.is_(None), RebatePolicy.valid_until >= today)).distinct())
    keys = {rules.period_key(kind, today) for kind in kinds}
    keys |= {key for key in session.scalars(select(RebatePeriod.key).where(
        RebatePeriod.status == "open", RebatePeriod.starts_on <= today)) if not is_settled(session, key)}
    return sorted(keys)


@dataclass
class AccrualSummary:
    keys: list
    rows: int = 0
    total: Decimal = ZERO   # Σ of the deltas written
    estimate: Decimal = ZERO


def accrue_period(session: Session, key: str, today: date, ref: tuple[str | None, int | None] = (None, None)) -> tuple[int, Decimal, Decimal]:
    """Bring period ``key``'s accrued rows to the current estimate; (rows written, Σ
    deltas, Σ estimate). A closed or settled period is left alone."""
    lock_period(session, key)
    period = ensure_period(session, key, lock=True)
    if period.status == "closed" or is_settled(session, key):
        return 0, ZERO, ZERO
    results = bases.results_for(session, key, today)
    held = {(r.code, r.dealer_id): (r.accrued, r.policy_id) for r in session.execute(text(
        "SELECT p.code, e.dealer_id, sum(e.amount) AS accrued, max(e.policy_id) AS policy_id "
        "FROM rebate_ledger_entries e JOIN rebate_policies p ON p.id = e.policy_id "
        "WHERE e.period_key = :key AND e.kind = 'accrued' GROUP BY p.code, e.dealer_id"), {"key": key})}
    entries, total = [], ZERO
    for code, dealer_id in sorted(set(results) | set(held)):
        result = results.get((code, dealer_id))
        accrued, last_policy = held.get((code, dealer_id), (ZERO, None))
        target = result.amount if result else ZERO
        if target == accrued:
            continue
        explanation = (result.explanation(key) if result else {"policy": code, "period": key, "amount": "0.00",
                                                               "no_longer_applies": True})
        explanation.update(estimate=True, previous=str(accrued), target=str(target))
        entries.append(dict(
            dealer_id=dealer_id, policy_id=result.policy.id if result else last_policy, period_key=key, kind="accrued",
            amount=target - accrued, base_amount=result.row.base if result else None,
            rate=result.outcome.rate if result else None, tier_index=result.outcome.tier if result else None,
            explanation=explanation, ref_type=ref[0], ref_id=ref[1], occurred_on=today))
        total += target - accrued
    estimate = sum((r.amount for r in results.values()), ZERO)
    if entries:  # a set-based write: one audit event for the lot
        session.execute(insert(RebateLedgerEntry.__table__), entries)
        record_event(session, "accrue_rebates", "rebate_periods", period.id, after={
            "period": key, "ref": f"{ref[0]}:{ref[1]}" if ref[0] else None, "rows": len(entries), "delta": str(total),
            "estimate": str(estimate), "dealers": len({d for _c, d in results})})
    return len(entries), total, estimate


def accrue(session: Session, today: date, ref: tuple[str | None, int | None] = (None, None), progress=None) -> AccrualSummary:
    """Accrue every period that keeps estimates (see ``accrual_keys``)."""
    keys = accrual_keys(session, today)
    summary = AccrualSummary(keys)
    for n, key in enumerate(keys):
        rows, total, estimate = accrue_period(session, key, today, ref)
        summary.rows += rows
        summary.total += total
        summary.estimate += estimate
        if progress:
            progress(int(95 * (n + 1) / len(keys)))
    return summary


@job_kind("rebates.accrue", _l("Rebate accrual"), roles=ACCRUERS, timeout=3600)
def accrue_job(ctx: JobContext) -> Output:
    day = date.fromisoformat(ctx.params["day"]) if ctx.params.get("day") else shanghai_today()
    with ctx.session() as session:
        summary = accrue(session, day, ("jobs", ctx.job_id), progress=ctx.progress)
    body = (f"rebate accrual {day.isoformat()}: periods {', '.join(summary.keys) or '-'}; "
            f"{summary.rows} rows written, delta {summary.total}, estimate {summary.estimate}\n")
    return Output(f"rebate-accrual-{day.isoformat()}-{ctx.job_id}.txt", body.encode(), "text/plain; charset=utf-8", "txt")


def request_accrual(session: Session, user, request_id: str, day: date | None = None):
    """Ask for the estimates to be brought up to date now."""
    day = day or shanghai_today()
    return request_job(session, "rebates.accrue", {"day": day.isoformat()}, request_id, requested_by=user)


@daily("rebate-accrual", needs_table="rebate_ledger_entries", actor="rebate accrual")
def daily_accrual(session: Session, day: date) -> str | None:
    """Once a Shanghai day: request the day's accrual where a policy is published."""
    if not session.scalar(select(func.count()).select_from(RebatePolicy).where(RebatePolicy.status == "published")):
        return None
    job = request_job(session, "rebates.accrue", {"day": day.isoformat()}, f"rebates-accrue-{day.isoformat()}")
    return f"rebate accrual requested (job {job.id})"

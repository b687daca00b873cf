"""Settlement (结算) of a rebate period, its periods, and closing them.

``rebates.settle`` (a background job) settles one ended period in **one transaction**
under a per-period advisory lock: for every policy governing the period, one SQL
statement computes every dealer's payout (``bases.results_for``); the results are
compared with what the ledger already holds for the period × policy code × dealer, and
the difference is written in one bulk insert:

* nothing settled yet → a ``settled`` row (also when it pays 0: the dealer's record of
  why, with the tier it missed);
* settled before and the figure changed (a late sell-out report, a credited return, a
  new policy version) → an ``adjusted`` row of the difference (±);
* unchanged → nothing. Running a period twice writes nothing the second time.

The period's ``accrued`` estimates are reversed (a negative ``accrued`` row per policy
and dealer), so Σ accrued of a settled period is 0. A worker killed mid-run rolls the
whole transaction back; the job runs again and writes the one set of rows. A closed
period refuses: its settlement is final. Set-based writes bypass the ORM's audit
listener, so each run records one audit event with its counts and totals.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from app.compliance.operations import reason, record_event
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.jobs import JobContext, JobRefused, Output, job_kind, request_job
from app.core.money import ZERO
from app.rebates import bases, rules
from app.rebates.models import RebateLedgerEntry, RebatePeriod, RebatePolicy, SettlementRun

#: who may settle and close periods
SETTLERS = ("admin", "finance")
#: who may look at periods, runs and results (regional managers within their regions)
SETTLEMENT_VIEWERS = ("admin", "finance", "channel_manager", "regional_manager")


def lock_period(session: Session, key: str) -> None:
    """Serialise everything that writes a period (settlement, accrual, closing) until
    the transaction ends, per tenant schema and period key."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/rebate_period'), hashtext(:key))"),
                    {"key": key})


def parse_key(value: str | None, field_name: str = "period_key") -> str:
    """A period key from a form, normalised (2026-q4 → 2026-Q4); InvalidInput otherwise."""
    key = (value or "").strip().upper()
    try:
        rules.parse_period(key)
    except ValueError:
        raise InvalidInput(field_name, _("Enter a period such as 2026-Q3, 2026-11 or 2026.")) from None
    return key


def ensure_period(session: Session, key: str, lock: bool = False) -> RebatePeriod:
    """The period row for ``key``, created open the first time."""
    stmt = select(RebatePeriod).where(RebatePeriod.key == key)
    period = session.scalar(stmt.with_for_update() if lock else stmt)
    if period is None:
        kind, start, end = rules.parse_period(key)
        period = RebatePeriod(key=key, period=kind, starts_on=start, ends_on=end, status="open")
        session.add(period)
        session.flush()
    return period


def request_settlement(session: Session, key: str, user, request_id: str, today: date | None = None) -> SettlementRun:
    """Ask for period ``key`` to be settled in the background; the same request id (a
    double click) gives the same run. Refuses a period not ended yet or closed."""
    from app.compliance.models import Job

    key = parse_key(key)
    today = today or shanghai_today()
    earlier = session.scalar(select(Job).where(Job.request_id == request_id))
    if earlier is not None and earlier.kind == "rebates.settle":
        return session.get(SettlementRun, earlier.params["run_id"])
    _kind, _start, end = rules.parse_period(key)
    if end >= today:
        raise InvalidInput("period_key", _("%(key)s ends on %(day)s: settle it once it has ended.", key=key,
                                           day=end.isoformat()))
    period = ensure_period(session, key)
    if period.status == "closed":
        raise InvalidInput("period_key", _("%(key)s is closed: its settlement is final.", key=key))
    run = SettlementRun(period_key=key, status="requested", requested_by_id=getattr(user, "id", None))
    session.add(run)
    session.flush()
    job = request_job(session, "rebates.settle", {"run_id": run.id, "period_key": key}, request_id, requested_by=user,
                      entity=("rebate_settlement_runs", str(run.id)))
    run.job_id = job.id
    session.flush()
    return run


@dataclass
class Summary:
    period_key: str
    policies: int = 0
    dealers: int = 0
    settled: int = 0
    adjusted: int = 0
    reversed: int = 0
    written: Decimal = ZERO        # Σ settled + adjusted amounts this run wrote
    reversed_amount: Decimal = ZERO
    period_total: Decimal = ZERO   # Σ settled + adjusted of the period after the run
    rows: list = field(default_factory=list)


class PeriodClosed(Exception):
    pass


def is_settled(session: Session, key: str) -> bool:
    """Whether period ``key`` has been settled (a run finished, or settled rows exist)."""
    return bool(session.scalar(select(
        select(SettlementRun.id).where(SettlementRun.period_key == key, SettlementRun.status == "done").exists()
        | select(RebateLedgerEntry.id).where(RebateLedgerEntry.period_key == key,
                                             RebateLedgerEntry.kind == "settled").exists())))


def _ledger_state(session: Session, key: str) -> dict[tuple[str, int], dict]:
    """Per (policy code, dealer): Σ settled+adjusted, whether a settled row exists, Σ
    accrued, and the latest policy version written."""
    rows = session.execute(text(
        "SELECT p.code, e.dealer_id, "
        "coalesce(sum(e.amount) FILTER (WHERE e.kind IN ('settled', 'adjusted')), 0) AS settled, "
        "bool_or(e.kind = 'settled') AS has_settled, "
        "coalesce(sum(e.amount) FILTER (WHERE e.kind = 'accrued'), 0) AS accrued, max(e.policy_id) AS policy_id "
        "FROM rebate_ledger_entries e JOIN rebate_policies p ON p.id = e.policy_id "
        "WHERE e.period_key = :key AND e.kind IN ('settled', 'adjusted', 'accrued') GROUP BY p.code, e.dealer_id"),
        {"key": key})
    return {(r.code, r.dealer_id): {"settled": r.settled, "has_settled": r.has_settled, "accrued": r.accrued,
                                    "policy_id": r.policy_id} for r in rows}


def settle(session: Session, key: str, run: SettlementRun | None, today: date, progress=None,
           user_id: int | None = None) -> Summary:
    """Settle period ``key`` in the caller's transaction (see the module). Raises
    ``PeriodClosed`` for a closed period."""
    lock_period(session, key)
    period = ensure_period(session, key, lock=True)
    if period.status == "closed":
        raise PeriodClosed(key)
    policies = bases.applicable_policies(session, key)
    results = bases.results_for(session, key, today, policies=policies,
                                progress=(lambda done, total: progress(int(85 * done / max(total, 1))))
                                if progress else None)
    state = _ledger_state(session, key)
    summary = Summary(key, policies=len(policies), dealers=len({d for _c, d in results}))
    ref = ("rebate_settlement_runs", run.id) if run is not None else (None, None)
    entries = []

    def entry(kind: str, dealer_id: int, policy_id: int, amount: Decimal, explanation: dict, result=None,
              expires_after: int | None = None):
        entries.append(dict(
            dealer_id=dealer_id, policy_id=policy_id, period_key=key, kind=kind, amount=amount,
            base_amount=result.row.base if result else None, rate=result.outcome.rate if result else None,
            tier_index=result.outcome.tier if result else None, explanation=explanation, ref_type=ref[0],
            ref_id=ref[1], settlement_run_id=ref[1], occurred_on=today, created_by_id=user_id,
            expires_on=(date.fromordinal(today.toordinal() + expires_after)
                        if expires_after and amount > 0 and kind != "accrued" else None)))

    for (code, dealer_id) in sorted(set(results) | set(state)):
        result, held = results.get((code, dealer_id)), state.get((code, dealer_id))
        target = result.amount if result else ZERO
        policy = result.policy if result else session.get(RebatePolicy, held["policy_id"])
        explanation = result.explanation(key) if result else {
            "policy": code, "version": policy.version, "name": policy.name, "period": key, "amount": "0.00",
            "no_longer_applies": True}
        if held is None or not held["has_settled"]:
            if result is not None:
                entry("settled", dealer_id, policy.id, target, explanation, result, policy.expires_after_days)
                summary.settled += 1
                summary.written += target
        elif target != held["settled"]:
            delta = target - held["settled"]
            entry("adjusted", dealer_id, policy.id, delta,
                  dict(explanation, previous=str(held["settled"]), target=str(target)), result,
                  policy.expires_after_days)
            summary.adjusted += 1
            summary.written += delta
        if held is not None and held["accrued"] != 0:
            entry("accrued", dealer_id, held["policy_id"], -held["accrued"],
                  {"policy": code, "period": key, "reverses": str(held["accrued"]), "settled": True})
            summary.reversed += 1
            summary.reversed_amount += held["accrued"]
    if entries:
        session.execute(insert(RebateLedgerEntry.__table__), entries)
    summary.period_total = session.scalar(text(
        "SELECT coalesce(sum(amount), 0) FROM rebate_ledger_entries WHERE period_key = :key "
        "AND kind IN ('settled', 'adjusted')"), {"key": key})
    summary.rows = [(code, dealer_id, r.policy.version, r.row.base, r.outcome.tier, r.outcome.rate, r.amount)
                    for (code, dealer_id), r in sorted(results.items())]
    if run is not None:
        run.status, run.settled_entries, run.adjusted_entries = "done", summary.settled, summary.adjusted
        run.total_amount = summary.written
        run.finished_at = session.scalar(select(func.now()))
    record_event(session, "settle_rebates", "rebate_periods", period.id, after={
        "period": key, "run": run.id if run else None, "policies": [f"{p.code} v{p.version}" for p in policies],
        "dealers": summary.dealers, "settled_entries": summary.settled, "adjusted_entries": summary.adjusted,
        "accrual_reversals": summary.reversed, "written": str(summary.written),
        "accrued_reversed": str(summary.reversed_amount), "period_total": str(summary.period_total)})
    session.flush()
    return summary


def settle_now(session: Session, key: str, user=None, today: date | None = None) -> SettlementRun:
    """Settle ``key`` in the caller's transaction, recorded as a run like the job's (the
    demo seeding uses it; pages go through ``request_settlement``)."""
    key = parse_key(key)
    run = SettlementRun(period_key=key, status="running", requested_by_id=getattr(user, "id", None))
    session.add(run)
    session.flush()
    settle(session, key, run, today or shanghai_today(), user_id=getattr(user, "id", None))
    return run


def _set_run(ctx: JobContext, run_id: int, status: str) -> None:
    with ctx.session() as session:
        run = session.get(SettlementRun, run_id, with_for_update=True)
        if run is not None and run.status != "done":
            run.status = status


@job_kind("rebates.settle", _l("Rebate settlement"), roles=SETTLERS, timeout=3600)
def settle_job(ctx: JobContext) -> Output:
    """Settle one period (params ``run_id``, ``period_key``) and write the results as
    an Excel report (the period's settled figures per dealer and policy)."""
    run_id, key = int(ctx.params["run_id"]), ctx.params["period_key"]
    _set_run(ctx, run_id, "running")
    ctx.progress(5, _("Computing the bases"))
    try:
        with ctx.session() as session:
            run = session.get(SettlementRun, run_id)
            if run is None:
                raise JobRefused("no such settlement run")
            if run.status == "done":  # finished before the worker died after committing
                summary = Summary(key, settled=run.settled_entries, adjusted=run.adjusted_entries,
                                  written=run.total_amount)
            else:
                summary = settle(session, key, run, shanghai_today(), progress=ctx.progress,
                                 user_id=run.requested_by_id)
            ctx.progress(90, _("Writing the report"))
            data = settlement_report(session, key, run, summary)
    except PeriodClosed:
        _set_run(ctx, run_id, "failed")
        raise JobRefused(f"period {key} is closed") from None
    except JobRefused:
        raise
    except Exception:
        _set_run(ctx, run_id, "failed")
        raise
    return Output(f"rebate-settlement-{key}-run{run_id}.xlsx", data,
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")


def settlement_report(session: Session, key: str, run, summary: Summary) -> bytes:
    """The period's settled figures per dealer and policy, and what this run wrote."""
    from openpyxl import Workbook

    from app.channel.models import Dealer

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Settlement"))
    sheet.append([_("Period"), key, _("Run"), run.id if run else ""])
    sheet.append([_("Written this run"), _("Settled (rebate)"), summary.settled, _("Adjusted"), summary.adjusted,
                  _("Amount"), summary.written, _("Accruals reversed"), summary.reversed])
    sheet.append([])
    sheet.append([_("Dealer code"), _("Dealer"), _("Policy"), _("Version"), _("Base"), _("Tier"), _("Rate"),
                  _("Settled amount")])
    names = dict(session.execute(select(Dealer.id, Dealer.code)).all())
    full = dict(session.execute(select(Dealer.id, Dealer.name)).all())
    for code, dealer_id, version, base, tier, rate, amount in summary.rows:
        sheet.append([names.get(dealer_id), full.get(dealer_id), code, version, base,
                      "" if tier is None else tier + 1, "" if rate is None else rate, amount])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def close_period(session: Session, key: str, user, today: date | None = None) -> RebatePeriod:
    """Close a settled period: nothing in it changes any more (settlement refuses it,
    accrual ignores it)."""
    key = parse_key(key)
    lock_period(session, key)
    period = session.scalar(select(RebatePeriod).where(RebatePeriod.key == key).with_for_update())
    if period is None or not is_settled(session, key):
        raise InvalidInput("period_key", _("Settle %(key)s before closing it.", key=key))
    if period.status == "closed":
        raise InvalidInput("period_key", _("%(key)s is already closed.", key=key))
    if session.scalar(select(func.count()).select_from(SettlementRun).where(
            SettlementRun.period_key == key, SettlementRun.status.in_(("requested", "running")))):
        raise InvalidInput("period_key", _("A settlement of %(key)s is still running: close it when it is done.",
                                           key=key))
    with reason(session, None, action="close"):
        period.status, period.closed_by_id = "closed", getattr(user, "id", None)
        period.closed_at = session.scalar(select(func.now()))
        session.flush()
    return period

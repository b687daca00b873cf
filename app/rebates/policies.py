"""Rebate policies (返利政策): reads, and the writes that shape their versions.

A policy is a chain of versions sharing a ``code``. A new policy is a draft (version
1); a draft is edited freely, simulated against last period's actual figures, then
published. Editing a published version makes a draft of the next version
(``supersedes_id``) — the published one keeps applying until the draft is published
in its place. Publishing a version retires the one it supersedes.

Which version governs a period: the highest published (or since retired) version of
the code that starts on or before the period's first day, if it still runs at the
period's last day (``bases.applicable_policies``). Validity windows are whole periods —
a quarterly policy starts on the first day of a quarter and ends on the last day of
one — so a base never covers half a period, and a version that replaces another takes
over from a period boundary. A version may not start inside a closed period.

Values come from a form (text) or code (typed); every problem is collected and raised
at once as ``PolicyInvalid`` (field → message, tier rows as ``tiers-<n>-from`` /
``tiers-<n>-rate``), nothing written. Writes flush, never commit; ORM writes are audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session

from app.catalog.models import ProductLine, Sku
from app.channel.models import Region
from app.compliance.operations import reason
from app.core import coerce
from app.core.errors import InvalidInput
from app.core.i18n import shanghai_today
from app.core.money import MAX_AMOUNT
from app.core.pagination import Page, keyset_page
from app.rebates import rules
from app.rebates.models import BASES, RebatePeriod, RebatePolicy

#: manufacturer roles that may look at policies (regional managers: those reaching their regions)
POLICY_VIEWERS = ("admin", "channel_manager", "regional_manager", "finance")
#: who drafts, publishes and retires policies
POLICY_EDITORS = ("admin", "channel_manager")
DEALER_TIERS = ("agent", "tier1", "tier2")
USES = ("offset", "free_goods")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,29}$")
MAX_TIERS = 12
HUNDRED = Decimal(100)


def labels() -> dict:
    """What the pages call things (translated when rendered)."""
    from flask_babel import lazy_gettext as _l

    return {
        "kind": {"volume": _l("Volume"), "growth": _l("Growth"), "collection": _l("Collection speed"),
                 "mix": _l("Product mix")},
        "basis": {"purchase": _l("Purchases"), "sell_out": _l("Sell-out")},
        "method": {"retroactive": _l("Retroactive (whole base at the tier reached)"),
                   "incremental": _l("Incremental (each band at its rate)")},
        "method_short": {"retroactive": _l("Retroactive"), "incremental": _l("Incremental")},
        "period": {"month": _l("Monthly"), "quarter": _l("Quarterly"), "year": _l("Yearly")},
        "status": {"draft": _l("Draft"), "published": _l("Published"), "retired": _l("Retired")},
        "tier": {"agent": _l("Agent"), "tier1": _l("Tier 1"), "tier2": _l("Tier 2")},
        "condition": {"sell_out_on_time": _l("Sell-out reported on time"),
                      "qualifications_valid": _l("No expired qualifications at period end")},
        "effect": {"gate": _l("Not met: nothing is paid"), "reduce": _l("Not met: the payout is reduced")},
        "use": {"offset": _l("Invoice offset"), "free_goods": _l("Free goods")},
        "capped_by": {"cap_rate": _l("capped at its share of the base"), "cap_amount": _l("capped at its amount")},
        "period_status": {"current": _l("Running"), "ended": _l("Ended, not settled"), "settled": _l("Settled (rebate)"),
                          "closed": _l("Closed")},
        "run_status": {"requested": _l("Waiting"), "running": _l("Running"), "done": _l("Done"),
                       "failed": _l("Failed")},
    }


def threshold_text(kind: str, value) -> str:
    """A tier's threshold as people write it: ¥500,000 (amounts), 10% (growth, share)."""
    value = Decimal(str(value))
    if kind in ("growth", "mix"):
        return rules.number_text(value) + "%"
    return f"¥{value:,.0f}" if value == value.to_integral_value() else f"¥{value:,.2f}"


def view_helpers() -> dict:
    """What the rebate templates use to show rates, thresholds and labels."""
    return {"L": labels(), "pct": rules.percent_text, "num": rules.number_text, "threshold": threshold_text,
            "growth_pct": rules.growth_pct, "share_pct": rules.share_pct}


class PolicyInvalid(InvalidInput):
    """Every problem of a policy form at once: ``errors`` maps a field (or a tier row's
    ``tiers-<n>-from``) to its message."""

    def __init__(self, errors: dict[str, str]):
        field, message = next(iter(errors.items()))
        super().__init__(field, message)
        self.errors = errors


# --- reading values ----------------------------------------------------------------------

def _decimal(raw, places: int) -> Decimal | None:
    """A finite decimal with at most ``places`` decimals, or None when it is not one."""
    if isinstance(raw, Decimal):
        value = raw
    else:
        text_value = str(raw).strip().replace(",", "").replace("，", "").lstrip("¥￥").rstrip("%")
        try:
            value = Decimal(text_value)
        except (InvalidOperation, ValueError):
            return None
    if not value.is_finite() or value.as_tuple().exponent < -places or abs(value) >= MAX_AMOUNT:
        return None
    return value


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _list(values: dict, field: str) -> list:
    value = values.get(field)
    if _blank(value):
        return []
    if isinstance(value, (list, tuple, set)):
        return [v for v in value if not _blank(v)]
    return [v for v in str(value).replace(",", " ").split() if v]


def tier_rows(values: dict) -> list[dict]:
    """The tier rows as typed: a list of {"from", "rate"} (rate in percent), from either
    ``values["tiers"]`` or form fields ``tier_from`` / ``tier_rate`` (lists)."""
    if "tiers" in values and values["tiers"] is not None:
        return [{"from": t.get("from", ""), "rate": t.get("rate", "")} for t in values["tiers"]]
    froms, rates = values.get("tier_from") or [], values.get("tier_rate") or []
    froms = froms if isinstance(froms, list) else [froms]
    rates = rates if isinstance(rates, list) else [rates]
    rows = [{"from": f, "rate": r} for f, r in zip(froms, rates)]
    return [r for r in rows if not (_blank(r["from"]) and _blank(r["rate"]))]


def _tiers(kind: str, rows: list[dict], errors: dict) -> list[dict]:
    """Ascending thresholds, rates 0–100 %, stored as fractions; errors by row."""
    if not rows:
        errors["tiers"] = _("Add at least one tier.")
        return []
    if len(rows) > MAX_TIERS:
        errors["tiers"] = _("At most %(n)d tiers.", n=MAX_TIERS)
        return []
    out, previous = [], None
    for n, row in enumerate(rows):
        low = _decimal(row.get("from", ""), 2) if not _blank(row.get("from")) else None
        if low is None:
            errors[f"tiers-{n}-from"] = _("Enter the threshold as a number with at most two decimals.")
        elif low < 0:
            errors[f"tiers-{n}-from"] = _("A threshold cannot be negative.")
        elif kind == "mix" and low > HUNDRED:
            errors[f"tiers-{n}-from"] = _("A share is at most 100 %.")
        elif kind == "growth" and low > 1000:
            errors[f"tiers-{n}-from"] = _("Enter a growth of at most 1000 %.")
        elif previous is not None and low <= previous:
            errors[f"tiers-{n}-from"] = _("Each threshold must be above the one before it.")
        rate = _decimal(row.get("rate", ""), 2) if not _blank(row.get("rate")) else None
        if rate is None:
            errors[f"tiers-{n}-rate"] = _("Enter the rate in percent with at most two decimals, such as 2.5.")
        elif not 0 <= rate <= HUNDRED:
            errors[f"tiers-{n}-rate"] = _("A rate is from 0 to 100 %.")
        if low is not None:
            previous = low if previous is None else max(previous, low)
        if low is not None and rate is not None:
            out.append({"from": str(low.quantize(Decimal("0.01"))), "rate": str((rate / HUNDRED).quantize(Decimal("0.0001")))})
    return out


def _percent(values: dict, field: str, errors: dict, low: Decimal, high: Decimal, required=False,
             low_inclusive=True) -> Decimal | None:
    raw = values.get(field)
    if _blank(raw):
        if required:
            errors[field] = _("This field is required.")
        return None
    value = _decimal(raw, 2)
    if value is None or value > high or value < low or (not low_inclusive and value == low):
        errors[field] = _("Enter a percentage above %(low)s and at most %(high)s.", low=low, high=high) \
            if not low_inclusive else _("Enter a percentage from %(low)s to %(high)s.", low=low, high=high)
        return None
    return (value / HUNDRED).quantize(Decimal("0.0001"))


def _whole(values: dict, field: str, errors: dict, low: int, high: int, required=False) -> int | None:
    try:
        return coerce.whole(values, field, low, high, required=required)
    except InvalidInput as err:
        errors[field] = err.message
        return None


def _choice(values: dict, field: str, choices, errors: dict, default: str) -> str:
    try:
        return coerce.choice(values, field, choices, default)
    except InvalidInput as err:
        errors[field] = err.message
        return default


def _day(values: dict, field: str, errors: dict, required=False) -> date | None:
    try:
        day = coerce.day(values, field, required=required)
    except InvalidInput as err:
        errors[field] = err.message
        return None
    if day is not None and not date(2000, 1, 1) <= day <= date(2100, 12, 31):
        errors[field] = _("Enter a date between 2000 and 2100.")
        return None
    return day


def _ids(values: dict, field: str, errors: dict) -> list[int]:
    out = []
    for item in _list(values, field):
        one = coerce.as_id(item) if not isinstance(item, int) else item
        if one is None:
            errors[field] = _("Choose a valid option.")
            return []
        if one not in out:
            out.append(one)
    return out


def _conditions(values: dict, errors: dict) -> dict:
    """``cond_<name>``: '' (none), 'gate' or 'reduce'; ``cond_<name>_rate``: percent still paid."""
    out = {}
    if isinstance(values.get("conditions"), dict):  # typed: already in the stored form
        values = dict(values, **{f"cond_{k}": v.get("effect", "") for k, v in values["conditions"].items()},
                      **{f"cond_{k}_rate": (Decimal(str(v["rate"])) * HUNDRED).normalize()
                         for k, v in values["conditions"].items() if v.get("rate") is not None})
    for name in rules.CONDITIONS:
        effect = (values.get(f"cond_{name}") or "").strip() if isinstance(values.get(f"cond_{name}"), str) \
            else values.get(f"cond_{name}") or ""
        if not effect:
            continue
        if effect not in rules.EFFECTS:
            errors[f"cond_{name}"] = _("Choose gate or reduce.")
            continue
        if effect == "gate":
            out[name] = {"effect": "gate"}
        else:
            rate = _percent(values, f"cond_{name}_rate", errors, Decimal(0), Decimal("99.99"), required=True)
            if rate is not None:
                out[name] = {"effect": "reduce", "rate": str(rate)}
    return out


# --- the policy form -------------------------------------------------------------------------

def check_policy(session: Session, values: dict, policy: RebatePolicy | None = None) -> dict:
    """Every attribute of a policy from ``values``, validated; PolicyInvalid with all
    the problems otherwise. ``policy`` is the draft being edited (None: a new policy)."""
    errors: dict[str, str] = {}
    revision = policy is not None and policy.supersedes_id is not None
    code = policy.code if policy is not None else None
    if policy is None:
        code = values.get("code").strip() if isinstance(values.get("code"), str) else values.get("code")
        if not code:
            errors["code"] = _("This field is required.")
        elif not CODE_RE.match(code):
            errors["code"] = _("Use letters, digits, - and _ (at most 30), starting with a letter or digit.")
        elif session.scalar(select(func.count()).select_from(RebatePolicy).where(RebatePolicy.code == code)):
            errors["code"] = _("Policy %(code)s already exists: edit it to make a new version.", code=code)
    try:
        name = coerce.text(values, "name", required=True, max_length=200)
    except InvalidInput as err:
        errors["name"], name = err.message, None
    period = _choice(values, "period", rules.PERIODS, errors, "quarter")
    if revision:
        superseded = session.get(RebatePolicy, policy.supersedes_id)
        if period != superseded.period:
            errors["period"] = _("A new version keeps the period of the one it replaces; create a new policy "
                                 "for another period.")
    kind = _choice(values, "kind", rules.KINDS, errors, "volume")
    basis = _choice(values, "basis", BASES, errors, "purchase")
    method = _choice(values, "method", rules.METHODS, errors, "retroactive")
    if kind == "mix" and method != "retroactive":
        errors["method"] = _("A product-mix target pays the reached tier's rate on the whole base: choose "
                             "retroactive.")
    if kind == "collection":
        basis = "purchase"  # collections are what was paid, whatever was bought
    valid_from = _day(values, "valid_from", errors, required=True)
    valid_until = _day(values, "valid_until", errors)
    if valid_from and period in rules.PERIODS and not rules.is_period_start(period, valid_from):
        errors["valid_from"] = _("A policy starts on the first day of a period (%(day)s begins its period).",
                                 day=rules.parse_period(rules.period_key(period, valid_from))[1].isoformat())
    if valid_until and period in rules.PERIODS and not rules.is_period_end(period, valid_until):
        errors["valid_until"] = _("A policy ends on the last day of a period (%(day)s ends that period).",
                                  day=rules.parse_period(rules.period_key(period, valid_until))[2].isoformat())
    if valid_from and valid_until and valid_until < valid_from and "valid_until" not in errors:
        errors["valid_until"] = _("The end date is before the start date.")
    if valid_from and "valid_from" not in errors and period in rules.PERIODS:
        key = rules.period_key(period, valid_from)
        if session.scalar(select(RebatePeriod.status).where(RebatePeriod.key == key)) == "closed":
            errors["valid_from"] = _("%(key)s is closed: a version can start from the next period.", key=key)
    tiers = _tiers(kind, tier_rows(values), errors)

    dealer_tiers = [t for t in _list(values, "dealer_tiers")]
    if any(t not in DEALER_TIERS for t in dealer_tiers):
        errors["dealer_tiers"], dealer_tiers = _("Choose agent, tier 1 or tier 2."), []
    try:
        region_id = coerce.ident(values, "region_id")
    except InvalidInput as err:
        errors["region_id"], region_id = err.message, None
    if region_id is not None and session.get(Region, region_id) is None:
        errors["region_id"] = _("No such region.")
    line_ids = _ids(values, "product_line_ids", errors)
    if line_ids and len(session.scalars(select(ProductLine.id).where(ProductLine.id.in_(line_ids))).all()) != len(line_ids):
        errors["product_line_ids"] = _("No such product line.")
    if line_ids and kind == "collection":
        errors["product_line_ids"] = _("Collections are counted per invoice, not per product line: leave the "
                                       "product lines empty.")
    priority = _whole(values, "priority", errors, 1, 999) or 100
    cap_rate = _percent(values, "cap_rate", errors, Decimal(0), HUNDRED, low_inclusive=False)
    cap_amount = None
    if not _blank(values.get("cap_amount")):
        try:
            cap_amount = coerce.money(values, "cap_amount")
        except InvalidInput as err:
            errors["cap_amount"] = err.message
    expires = _whole(values, "expires_after_days", errors, 1, 3650)
    # not given (code): both uses; given but nothing ticked (a form): one is needed
    usable_as = list(USES) if values.get("usable_as") is None else _list(values, "usable_as")
    if not usable_as or any(u not in USES for u in usable_as):
        errors["usable_as"], usable_as = _("Choose invoice offset or free goods."), list(USES)
    params: dict = {}
    if kind == "collection":
        days = _whole(values, "paid_within_days", errors, 1, 365, required=True)
        if days:
            params["paid_within_days"] = days
    if kind == "mix":
        skus = _ids(values, "strategic_sku_ids", errors)
        if not skus and "strategic_sku_ids" not in errors:
            errors["strategic_sku_ids"] = _("Choose the strategic products whose share counts.")
        elif skus and len(session.scalars(select(Sku.id).where(Sku.id.in_(skus))).all()) != len(skus):
            errors["strategic_sku_ids"] = _("No such product.")
        params["strategic_sku_ids"] = skus
    if coerce.flag(values, "exclusive"):
        params["exclusive"] = True
    conditions = _conditions(values, errors)
    try:
        description = coerce.text(values, "description", max_length=2000)
    except InvalidInput as err:
        errors["description"], description = err.message, None
    if errors:
        raise PolicyInvalid(errors)
    return dict(code=code, name=name, period=period, kind=kind, basis=basis, method=method, valid_from=valid_from,
                valid_until=valid_until, tiers=tiers, dealer_tiers=dealer_tiers or None, region_id=region_id,
                product_line_ids=line_ids or None, priority=priority, cap_rate=cap_rate, cap_amount=cap_amount,
                expires_after_days=expires, usable_as=usable_as, params=params, conditions=conditions,
                description=description)


def save_draft(session: Session, values: dict, policy: RebatePolicy | None = None) -> RebatePolicy:
    """Create a policy as a draft (``policy`` None) or change a draft."""
    if policy is not None and policy.status != "draft":
        raise InvalidInput("form", _("Only a draft can be edited: make a new version of a published policy."))
    attrs = check_policy(session, values, policy)
    if policy is None:
        policy = RebatePolicy(code=attrs["code"], version=1, status="draft")
        session.add(policy)
    for key, value in attrs.items():
        if key != "code":
            setattr(policy, key, value)
    session.flush()
    return policy


def form_values(policy: RebatePolicy) -> dict:
    """A policy as the form shows it (rates in percent)."""
    def pct(fraction) -> str:
        return "" if fraction is None else format((Decimal(str(fraction)) * HUNDRED).normalize(), "f")

    values = {"code": policy.code, "name": policy.name, "period": policy.period, "kind": policy.kind,
              "basis": policy.basis, "method": policy.method, "valid_from": policy.valid_from.isoformat(),
              "valid_until": policy.valid_until.isoformat() if policy.valid_until else "",
              "tiers": [{"from": t["from"], "rate": pct(t["rate"])} for t in policy.tiers or []],
              "dealer_tiers": list(policy.dealer_tiers or []), "region_id": policy.region_id or "",
              "product_line_ids": list(policy.product_line_ids or []), "priority": policy.priority,
              "cap_rate": pct(policy.cap_rate), "cap_amount": "" if policy.cap_amount is None else str(policy.cap_amount),
              "expires_after_days": policy.expires_after_days or "", "usable_as": list(policy.usable_as or USES),
              "paid_within_days": (policy.params or {}).get("paid_within_days", ""),
              "strategic_sku_ids": list((policy.params or {}).get("strategic_sku_ids") or []),
              "exclusive": bool((policy.params or {}).get("exclusive")), "description": policy.description or ""}
    for name, spec in (policy.conditions or {}).items():
        values[f"cond_{name}"] = spec.get("effect", "")
        values[f"cond_{name}_rate"] = pct(spec.get("rate")) if spec.get("rate") is not None else ""
    return values


def open_draft(session: Session, code: str) -> RebatePolicy | None:
    return session.scalar(select(RebatePolicy).where(RebatePolicy.code == code, RebatePolicy.status == "draft"))


def revise(session: Session, policy: RebatePolicy) -> RebatePolicy:
    """The draft of the next version of published ``policy`` (the open draft if one
    exists), a copy to edit, simulate and publish in its place."""
    if policy.status != "published":
        raise InvalidInput("form", _("Only the published version can be revised."))
    draft = open_draft(session, policy.code)
    if draft is not None:
        return draft
    version = session.scalar(select(func.max(RebatePolicy.version)).where(RebatePolicy.code == policy.code)) + 1
    draft = RebatePolicy(code=policy.code, version=version, status="draft", supersedes_id=policy.id)
    for attr in ("name", "period", "valid_from", "valid_until", "kind", "basis", "method", "tiers", "params",
                 "conditions", "dealer_tiers", "region_id", "product_line_ids", "priority", "cap_rate", "cap_amount",
                 "usable_as", "expires_after_days", "description"):
        setattr(draft, attr, getattr(policy, attr))
    # a new version takes over from the next period unless the editor says otherwise
    next_start = rules.parse_period(rules.shift_key(rules.period_key(policy.period, shanghai_today()), 1))[1]
    draft.valid_from = max(policy.valid_from, next_start)
    if draft.valid_until is not None and draft.valid_until < draft.valid_from:
        draft.valid_until = None
    session.add(draft)
    session.flush()
    return draft


def publish(session: Session, draft: RebatePolicy, user) -> RebatePolicy:
    """Publish a draft: it governs its periods from now on; the version it supersedes
    is retired (it still governs the periods before the draft starts)."""
    if draft.status != "draft":
        raise InvalidInput("form", _("Only a draft can be published."))
    check_policy(session, form_values(draft), draft)  # a period may have closed since it was saved
    with reason(session, None, action="publish"):
        current = session.scalars(select(RebatePolicy).where(RebatePolicy.code == draft.code,
                                                             RebatePolicy.status == "published")).all()
        for old in current:
            old.status = "retired"
        draft.status, draft.published_by_id = "published", getattr(user, "id", None)
        draft.published_at = session.scalar(select(func.now()))
        session.flush()
    return draft


def retire(session: Session, policy: RebatePolicy, today: date | None = None) -> RebatePolicy:
    """Retire a published policy: it still governs the current period (accrued so far,
    settled when the period ends) and no period after it."""
    if policy.status != "published":
        raise InvalidInput("form", _("Only a published policy can be retired."))
    today = today or shanghai_today()
    end = rules.parse_period(rules.period_key(policy.period, today))[2]
    if policy.valid_from > end:
        # a retired version still governs the periods it covers, so one that has not
        # started cannot be retired into nothing: it is replaced by a new version instead
        raise InvalidInput("form", _("This policy starts on %(day)s: retire it once it has started, or publish a new "
                                     "version in its place.", day=policy.valid_from.isoformat()))
    with reason(session, None, action="retire"):
        policy.status = "retired"
        if policy.valid_until is None or policy.valid_until > end:
            policy.valid_until = end
        session.flush()
    return policy


def discard(session: Session, draft: RebatePolicy) -> None:
    """Throw a draft away (it never governed anything)."""
    if draft.status != "draft":
        raise InvalidInput("form", _("Only a draft can be discarded."))
    session.delete(draft)
    session.flush()


# --- reads -----------------------------------------------------------------------------------

def _visible(stmt, scope):
    """Policies a user may see: every one, or for a regional manager those with no
    region or whose region overlaps theirs (either contains the other); none for a
    dealer or hospital scope."""
    if scope.dealer_id is not None or scope.hospital_id is not None:
        return stmt.where(false())
    if scope.region_paths is None:
        return stmt
    if not scope.region_paths:
        return stmt.where(RebatePolicy.region_id.is_(None))
    region_path = select(Region.path).where(Region.id == RebatePolicy.region_id).scalar_subquery()
    overlaps = [or_(region_path.startswith(p), func.starts_with(p, region_path)) for p in scope.region_paths]
    return stmt.where(or_(RebatePolicy.region_id.is_(None), *overlaps))


@dataclass
class PolicyFilter:
    status: str = ""
    kind: str = ""
    search: str = ""


def policies_page(session: Session, scope, flt: PolicyFilter, cursor: str | None) -> Page:
    """Policies by code then version (newest first within a code), filtered and scoped."""
    stmt = _visible(select(RebatePolicy), scope)
    if flt.status:
        stmt = stmt.where(RebatePolicy.status == flt.status)
    if flt.kind:
        stmt = stmt.where(RebatePolicy.kind == flt.kind)
    if flt.search:
        like = f"%{flt.search.strip()}%"
        stmt = stmt.where(or_(RebatePolicy.code.ilike(like), RebatePolicy.name.ilike(like)))
    return keyset_page(session, stmt, (RebatePolicy.code, RebatePolicy.id), lambda p: (p.code, p.id), cursor)


def policy_for(session: Session, scope, policy_id: int) -> RebatePolicy | None:
    return session.scalar(_visible(select(RebatePolicy).where(RebatePolicy.id == policy_id), scope))


def versions_of(session: Session, code: str) -> list[RebatePolicy]:
    return list(session.scalars(select(RebatePolicy).where(RebatePolicy.code == code)
                                .order_by(RebatePolicy.version.desc())))


def region_paths(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Region.id, Region.path)).all())

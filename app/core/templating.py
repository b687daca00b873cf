"""Jinja globals and filters shared by every page."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request, url_for
from flask_babel import format_datetime, get_locale
from flask_login import current_user

from app.compliance.rules import ACTION_LABELS, ENTITY_LABELS
from app.core import htmx
from app.core.money import fen
from app.identity.rules import PORTAL_LABELS, ROLES


def money(value) -> str:
    """CNY, to the fen, ROUND_HALF_UP, grouped: ¥1,234,567.80."""
    if value is None:
        return ""
    q = fen(value)
    return f"¥{q:,}"


def shown(value) -> str:
    """An audit value as people read it: nothing is a dash, not 'None'."""
    return "—" if value is None or value == "" else value


_ZONES: dict[str, ZoneInfo] = {}


def local_time(value: datetime | None, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """A stored UTC time in the display zone (Asia/Shanghai). The default, numeric
    format needs no locale data, so it skips Babel (a list page shows fifty of these)."""
    if value is None:
        return ""
    if fmt == "yyyy-MM-dd HH:mm" and value.tzinfo is not None:
        name = current_app.config["BABEL_DEFAULT_TIMEZONE"]
        zone = _ZONES.get(name) or _ZONES.setdefault(name, ZoneInfo(name))
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return format_datetime(value, fmt)


def audit_label(kind: str, key: str) -> str:
    labels = ACTION_LABELS if kind == "action" else ENTITY_LABELS
    return str(labels.get(key, key))


def role_label(portal: str, role: str) -> str:
    return str(ROLES.get(portal, {}).get(role, role))


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(money=money, local_time=local_time, shown=shown)
    app.jinja_env.globals.update(
        htmx_asset=htmx.HTMX_ASSET,
        htmx_config=htmx.config_json,
        role_label=role_label,
        audit_label=audit_label,
        approvals_waiting=approvals_waiting,
        recalls_waiting=recalls_waiting,
        can_open=can_open,
        plain_url=plain_url,
        action_keys=sorted(ACTION_LABELS),
        portal_labels=PORTAL_LABELS,
        role_keys={portal: list(roles) for portal, roles in ROLES.items()},
    )

    @app.context_processor
    def _page_context():
        return {
            "tenant": g.get("tenant"),
            "current_locale": ui_locale(),
            "languages": current_app.config["LANGUAGES"],
            "portal_home": portal_home(),
        }


def ui_locale() -> str:
    """The LANGUAGES key of the page's language (Babel reports zh_CN as zh_Hans_CN)."""
    return "en" if get_locale().language == "en" else "zh_CN"


WAITING_TTL = 30  # seconds a navigation count may lag behind others' submissions


def _waiting_key(user) -> str:
    return f"approvals-waiting:{g.tenant.id}:{user.id}"


def approvals_waiting() -> int:
    """The count beside "Approvals" in the navigation. Counting means two queries and a
    check per waiting request, on every page; Redis keeps each user's figure for
    WAITING_TTL seconds, and the user's own decisions clear it at once."""
    from app.compliance.approvals import inbox_count
    from app.core.db import db
    from app.core.redis import get_redis

    if "approvals_waiting" in g:
        return g.approvals_waiting
    count = 0
    if current_user.is_authenticated and current_user.portal == "manufacturer":
        redis, key = get_redis(), _waiting_key(current_user)
        cached = redis.get(key)
        if cached is None:
            count = inbox_count(db.session, current_user)
            redis.set(key, count, ex=WAITING_TTL)
        else:
            count = int(cached)
    g.approvals_waiting = count
    return count


def recalls_waiting() -> int:
    """The count beside a dealer's or hospital's "Recall notices": active recalls it has
    not reported on (one indexed count, only for those portals)."""
    from app.core.db import db
    from app.service.recall_queries import waiting_count

    if not current_user.is_authenticated or current_user.portal not in ("dealer", "hospital"):
        return 0
    if "recalls_waiting" not in g:
        g.recalls_waiting = waiting_count(db.session, current_user)
    return g.recalls_waiting


def forget_approvals_waiting(user) -> None:
    from app.core.redis import get_redis

    get_redis().delete(_waiting_key(user))


_CAN_OPEN: dict[tuple, bool] = {}
_PLAIN_URLS: dict[tuple, str] = {}


def plain_url(endpoint: str) -> str:
    """``url_for(endpoint)`` for a page without arguments, remembered per script root
    (the menu builds two dozen of these on every page)."""
    key = (endpoint, request.script_root)
    url = _PLAIN_URLS.get(key)
    if url is None:
        url = _PLAIN_URLS[key] = url_for(endpoint)
    return url


def can_open(endpoint: str) -> bool:
    """Whether the signed-in user may open ``endpoint``: the handler's own declaration
    decides, so the navigation never repeats a role list. A handler's answer depends on
    the portal and roles only, so it is remembered per (endpoint, portal, roles): the
    menu asks two dozen times on every page."""
    user = current_user._get_current_object()
    if not user.is_authenticated:
        key = (endpoint, None, ())
    else:
        key = (endpoint, user.portal, tuple(user.roles))
    answer = _CAN_OPEN.get(key)
    if answer is None:
        view = current_app.view_functions.get(endpoint)
        handler = getattr(view, "view_class", None)
        answer = _CAN_OPEN[key] = handler is not None and handler.allows(user)
    return answer


def portal_home() -> str | None:
    if current_user and current_user.is_authenticated:
        return url_for(f"{current_user.portal}.dashboard")
    return None

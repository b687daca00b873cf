"""Language and time zone. Simplified Chinese is the default, English the second; times
are stored in UTC and shown in Asia/Shanghai."""
from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import get_translations
from flask_login import current_user


SHANGHAI = ZoneInfo("Asia/Shanghai")


@lru_cache(maxsize=None)
def _parsed(code: str) -> Locale:
    # Flask-Babel parses the selector's answer on every request, and Locale.parse
    # consults the locale data files each time; a parsed Locale is passed through.
    return Locale.parse(code)


def select_locale() -> Locale:
    return _parsed(_choose_locale())


def _choose_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # jobs and commands speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    best = request.accept_languages.best_match(["zh", "zh_CN", "en"])
    if best and best.startswith("en"):
        return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def _translations():
    """The request's translations, looked up once per request: Flask-Babel's own
    template gettext looks them up on every call (~50 µs each, the largest cost of a
    list page before this)."""
    if not has_request_context():
        return get_translations()
    cached = g.get("_translations")
    if cached is None:
        cached = g._translations = get_translations()
    return cached


def install_template_gettext(app: Flask) -> None:
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


def shanghai_today(now=None):
    """Today's date where our users are: every business date (validity, expiry, the
    year in a code) is a Shanghai date, whatever the server's clock zone."""
    from datetime import datetime

    return (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()

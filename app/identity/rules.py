"""Portals and roles: who a user can be. Pure data and checks, no I/O."""
from flask_babel import lazy_gettext as _l

PORTALS = ("manufacturer", "dealer", "hospital")

ROLES = {
    "manufacturer": {
        "admin": _l("Administrator"),
        "channel_manager": _l("Channel manager"),
        "regional_manager": _l("Regional manager"),
        "finance": _l("Finance"),
        "qa_ra": _l("QA/RA"),
        "after_sales": _l("After-sales"),
    },
    "dealer": {
        "dealer_owner": _l("Dealer owner"),
        "dealer_sales": _l("Dealer sales"),
        "dealer_finance": _l("Dealer finance"),
    },
    "hospital": {
        "equipment": _l("Equipment department"),
        "purchasing": _l("Purchasing"),
        "clinical_engineer": _l("Clinical engineer"),
    },
}

PORTAL_LABELS = {
    "manufacturer": _l("Manufacturer"),
    "dealer": _l("Dealer"),
    "hospital": _l("Hospital"),
}

MIN_PASSWORD_LENGTH = 10


def invalid_roles(portal: str, roles: list[str]) -> list[str]:
    """The roles in ``roles`` that a user of ``portal`` cannot hold."""
    allowed = ROLES.get(portal, {})
    return [r for r in roles if r not in allowed]


def password_problem(password: str) -> str | None:
    """Why ``password`` is too weak, as an untranslated message id, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return "too_short"
    if password.isdigit() or password.isalpha():
        return "letters_and_digits"
    return None

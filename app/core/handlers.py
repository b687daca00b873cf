"""The request-handler base: one path for every request.

    resolve tenant (before_request) → authenticate → authorize by portal and role
    → name the acting user for the audit trail
    → _load (404 for what is missing or out of scope) → _check_access (403)
    → _process (act) → commit once, or roll back on any error.

Permissions are declared as class attributes, never re-checked by hand in a view:

    class RHDealers(RHManufacturer):
        roles = ("admin", "channel_manager")
"""
from __future__ import annotations

from flask import abort, g, redirect, request, url_for
from flask.views import MethodView
from sqlalchemy.exc import IntegrityError
from flask_login import current_user

from app.compliance.operations import Actor, set_context
from app.core.db import db


class RH(MethodView):
    #: None: anyone may call it (sign-in pages); otherwise the user's portal must match.
    portal: str | None = None
    #: The user needs one of these roles; empty means any user of the portal.
    roles: tuple[str, ...] = ()
    #: Whether the request needs a signed-in user.
    login_required: bool = True
    #: Whether the request needs a tenant host (everything but platform pages does).
    tenant_required: bool = True

    def dispatch_request(self, **kwargs):
        if self.tenant_required and g.get("tenant") is None:
            abort(404)
        if self.login_required and not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not self.allows(current_user):
            abort(403)
        if current_user.is_authenticated:
            set_context(db.session, Actor.user(current_user), g.request_id, request.remote_addr)
        try:
            self._load(**kwargs)
            self._check_access()
            response = super().dispatch_request(**kwargs)
            db.session.commit()
            return response
        except IntegrityError:
            # Two requests raced past the same uniqueness check (a double submit): the
            # database refused the second; say so rather than fail with a 500.
            db.session.rollback()
            abort(409)
        except BaseException:
            db.session.rollback()
            raise

    @classmethod
    def allows(cls, user) -> bool:
        """Whether ``user`` passes this handler's declared portal and roles (also what
        the navigation asks before showing a link)."""
        if cls.portal is not None and (not user.is_authenticated or user.portal != cls.portal):
            return False
        return not cls.roles or user.has_role(*cls.roles)

    def _load(self, **kwargs) -> None:
        """Load the objects the request is about; abort(404) for missing ones."""

    def _check_access(self) -> None:
        """Object-level checks beyond portal and role; abort(403) to refuse."""


def get_or_404(value):
    """The loaded object, or a 404 if it is None (missing or out of scope)."""
    if value is None:
        abort(404)
    return value


class RHManufacturer(RH):
    portal = "manufacturer"


class RHDealer(RH):
    portal = "dealer"


class RHHospital(RH):
    portal = "hospital"


class RHPublic(RH):
    login_required = False

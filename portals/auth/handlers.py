"""Sign-in, sign-out, password reset, invitations, the account page and the language switch."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from app.compliance.operations import Actor, record_event, set_context
from app.core.db import db
from app.core.handlers import RH, RHPublic
from app.core.htmx import render_page
from app.core.redis import get_redis
from app.identity import operations as ops
from portals.auth.forms import ChangePasswordForm, ForgotPasswordForm, LocaleForm, LoginForm, SetPasswordForm
from portals.forms import apply_error


def safe_next(target: str | None, portal: str | None = None) -> str | None:
    """A local path to go to after sign-in; None for anything that leaves this host or
    this user's portal."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if portal and not (target.startswith(f"/{portal}/") or target == f"/{portal}" or target.startswith("/account")):
        return None
    return target


def _throttle() -> ops.Throttle:
    cfg = current_app.config
    return ops.Throttle(get_redis(), cfg["LOGIN_MAX_FAILURES"], cfg["LOGIN_LOCK_SECONDS"])


def _sign_in(user) -> None:
    session.clear()
    login_user(user)
    session["tenant_id"] = g.tenant.id
    if user.locale:
        session["locale"] = user.locale


class RHLogin(RHPublic):
    def get(self):
        if current_user.is_authenticated:
            return redirect(url_for(f"{current_user.portal}.dashboard"))
        form = LoginForm(next=request.args.get("next", ""))
        return render_page("auth/login.html", form=form)

    def post(self):
        form = LoginForm()
        status = 200
        if form.validate_on_submit():
            try:
                user = ops.authenticate(db.session, _throttle(), g.tenant, form.email.data, form.password.data,
                                        request.remote_addr)
            except ops.SignInLocked as err:
                form.form_errors.append(err.message)
                status = 429
            except ops.IdentityError as err:
                apply_error(form, err)
                status = 401
            else:
                set_context(db.session, Actor.user(user), g.request_id, request.remote_addr)
                ops.record_sign_in(db.session, user, form.password.data)
                _sign_in(user)
                return redirect(safe_next(form.next.data, user.portal) or url_for(f"{user.portal}.dashboard"), 303)
        else:
            status = 400
        return render_page("auth/login.html", form=form, status=status)


class RHLogout(RH):
    def post(self):
        record_event(db.session, "sign_out", "users", current_user.id)
        logout_user()
        session.clear()
        flash(_("You have signed out."), "info")
        return redirect(url_for("auth.login"), 303)


class RHForgotPassword(RHPublic):
    def get(self):
        return render_page("auth/forgot.html", form=ForgotPasswordForm(), sent=False)

    def post(self):
        form = ForgotPasswordForm()
        if not form.validate_on_submit():
            return render_page("auth/forgot.html", form=form, sent=False, status=400)
        ops.request_password_reset(
            db.session, current_app.secret_key, g.tenant, form.email.data,
            lambda token: url_for("auth.reset_password", token=token, _external=True),
        )
        return render_page("auth/forgot.html", form=form, sent=True)


class RHTokenPassword(RHPublic):
    """Choose a password from a signed link: a reset, or accepting an invitation."""

    purpose = ops.RESET
    template = "auth/reset.html"

    def _load(self, token):
        max_age = current_app.config["PASSWORD_RESET_MAX_AGE" if self.purpose == ops.RESET else "INVITATION_MAX_AGE"]
        try:
            self.user = ops.user_for_token(db.session, current_app.secret_key, g.tenant, self.purpose, token, max_age)
            self.problem = None
        except ops.IdentityError as err:
            self.user, self.problem = None, err.message

    def get(self, token):
        return render_page(self.template, form=SetPasswordForm(), problem=self.problem, user=self.user,
                           status=200 if self.user else 400)

    def post(self, token):
        form = SetPasswordForm()
        if self.user is None:
            return render_page(self.template, form=form, problem=self.problem, user=None, status=400)
        if form.validate_on_submit():
            set_context(db.session, Actor.user(self.user), g.request_id, request.remote_addr)
            try:
                ops.set_password(db.session, self.user, form.password.data, form.confirm.data,
                                 action="reset_password" if self.purpose == ops.RESET else "accept_invitation")
            except ops.IdentityError as err:
                apply_error(form, err)
            else:
                _sign_in(self.user)
                flash(_("Your password is set. Welcome."), "success")
                return redirect(url_for(f"{self.user.portal}.dashboard"), 303)
        return render_page(self.template, form=form, problem=None, user=self.user, status=400)


class RHAcceptInvitation(RHTokenPassword):
    purpose = ops.INVITE
    template = "auth/invitation.html"


class RHAccount(RH):
    def get(self):
        return render_page("auth/account.html", form=ChangePasswordForm(), **_totp_context())

    def post(self):
        form = ChangePasswordForm()
        if form.validate_on_submit():
            try:
                ops.change_password(db.session, current_user, form.current_password.data, form.password.data,
                                    form.confirm.data)
            except ops.IdentityError as err:
                apply_error(form, err)
            else:
                flash(_("Your password has been changed."), "success")
                return redirect(url_for("auth.account"), 303)
        return render_page("auth/account.html", form=form, status=400, **_totp_context())


def _totp_context(error: dict | None = None) -> dict:
    pending = session.get("totp_pending")
    uri = ops.totp_uri(pending, current_user, g.tenant.name) if pending else None
    return {"totp_pending": pending, "totp_uri": uri, "totp_error": error or {}}


class RHTotp(RH):
    """Turn two-step verification on (show a secret, confirm with a code) or off."""

    def post(self):
        action = request.form.get("action")
        try:
            if action == "start":
                session["totp_pending"] = ops.new_totp_secret()
            elif action == "confirm" and session.get("totp_pending"):
                ops.enable_totp(db.session, current_user, session["totp_pending"], request.form.get("totp_code", ""))
                session.pop("totp_pending")
                flash(_("Two-step verification is on. Signatures will ask for a code."), "success")
            elif action == "disable":
                ops.disable_totp(db.session, current_user, request.form.get("totp_password", ""))
                flash(_("Two-step verification is off."), "info")
        except ops.IdentityError as err:
            return render_page("auth/account.html", form=ChangePasswordForm(), status=400,
                               **_totp_context({err.field: err.message}))
        return redirect(url_for("auth.account") + "#totp", 303)


class RHLocale(RHPublic):
    """The language switch: a plain form, so it works without JavaScript."""

    def post(self):
        form = LocaleForm()
        if form.validate_on_submit():
            session["locale"] = form.locale.data
            if current_user.is_authenticated:
                ops.set_locale(db.session, current_user, form.locale.data)
        portal = current_user.portal if current_user.is_authenticated else None
        return redirect(safe_next(form.next.data, portal) or safe_next(form.next.data) or url_for("platform.index"), 303)

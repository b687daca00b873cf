"""URL map of sign-in and account pages."""
from flask import Blueprint

from portals.auth import handlers as h

bp = Blueprint("auth", __name__)

bp.add_url_rule("/login", view_func=h.RHLogin.as_view("login"))
bp.add_url_rule("/logout", view_func=h.RHLogout.as_view("logout"))
bp.add_url_rule("/password/forgot", view_func=h.RHForgotPassword.as_view("forgot_password"))
bp.add_url_rule("/password/reset/<token>", view_func=h.RHTokenPassword.as_view("reset_password"))
bp.add_url_rule("/invitation/<token>", view_func=h.RHAcceptInvitation.as_view("accept_invitation"))
bp.add_url_rule("/account", view_func=h.RHAccount.as_view("account"))
bp.add_url_rule("/account/totp", view_func=h.RHTotp.as_view("totp"))
bp.add_url_rule("/locale", view_func=h.RHLocale.as_view("set_locale"))

"""The root URL: the platform's landing page on the bare domain; on a tenant's host,
the signed-in user's portal or the sign-in page."""
from flask import Blueprint, g, redirect, url_for
from flask_login import current_user

from app.core.handlers import RHPublic
from app.core.htmx import render_page


class RHIndex(RHPublic):
    tenant_required = False

    def get(self):
        if g.get("tenant") is None:
            return render_page("platform/index.html")
        if current_user.is_authenticated:
            return redirect(url_for(f"{current_user.portal}.dashboard"))
        return redirect(url_for("auth.login"))


bp = Blueprint("platform", __name__)

bp.add_url_rule("/", view_func=RHIndex.as_view("index"))

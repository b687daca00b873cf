"""The JSON API, ``/api/v1``. Wired now; API keys and endpoints come with the features."""
from flask import Blueprint, g, jsonify
from flask_login import current_user

from app.core.handlers import RH


class RHApiRoot(RH):
    login_required = False

    def get(self):
        return jsonify(api="v1", tenant=g.tenant.slug, authenticated=current_user.is_authenticated)


bp = Blueprint("api", __name__, url_prefix="/api/v1")

bp.add_url_rule("/", view_func=RHApiRoot.as_view("root"))

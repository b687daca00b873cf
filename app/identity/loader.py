"""Flask-Login's user loader: a user is loaded only inside the tenant whose session
issued the sign-in, and only while active."""
from flask import g, session

from app.extensions import db, login_manager
from app.identity.models import User

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"
login_manager.login_message = None


@login_manager.user_loader
def load_user(user_id: str):
    tenant = g.get("tenant")
    if tenant is None or session.get("tenant_id") != tenant.id or not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return user

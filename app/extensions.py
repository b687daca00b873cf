"""Extensions are created here, unbound, and ``init_app``'d by ``create_app``."""
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from htmx_flask import Htmx

from app.core.db import db

babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()

__all__ = ["db", "babel", "login_manager", "csrf", "htmx"]

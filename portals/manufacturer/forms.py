from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.identity.rules import ROLES
from portals.forms import REQUIRED, EmailAddress, MultiCheckboxField


def _all_roles():
    return [(role, label) for portal in ROLES.values() for role, label in portal.items()]


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(REQUIRED), EmailAddress(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=100)])
    portal = SelectField(_l("Belongs to"), choices=[("manufacturer", _l("Manufacturer")), ("dealer", _l("Dealer")),
                                                    ("hospital", _l("Hospital"))])
    roles = MultiCheckboxField(_l("Roles"), choices=_all_roles())
    dealer_id = SelectField(_l("Dealer"), coerce=int, validators=[Optional()], validate_choice=False)
    hospital_id = SelectField(_l("Hospital"), coerce=int, validators=[Optional()], validate_choice=False)
    region_ids = MultiCheckboxField(_l("Regions (regional managers)"), coerce=int, validate_choice=False)


class ActiveForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=500)])

"""Form pieces shared by the portals."""
from flask_babel import lazy_gettext as _l
from wtforms import SelectMultipleField, widgets


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def apply_error(form, error) -> None:
    """Show an operation's refusal next to the field it names (or above the form)."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = list(field.errors) + [error.message]
    else:
        form.form_errors.append(error.message)


REQUIRED = _l("This field is required.")


class EmailAddress:
    """E-mail syntax check with email-validator (no DNS look-up). ``.test`` addresses are
    accepted while ALLOW_TEST_EMAIL_DOMAINS is on (demo and staging tenants use them)."""

    def __call__(self, form, field):
        from email_validator import EmailNotValidError, validate_email
        from flask import current_app
        from wtforms.validators import ValidationError

        try:
            validate_email(field.data or "", check_deliverability=False,
                           test_environment=current_app.config["ALLOW_TEST_EMAIL_DOMAINS"])
        except EmailNotValidError:
            raise ValidationError(_l("Enter a valid e-mail address."))


def refused(err, fields=None) -> dict:
    """An operation refused the input (``InvalidInput``): nothing of this request is kept
    (rolled back) and the page shows the message by its field — or at the top of the form
    when the field is not one of ``fields``."""
    from app.core.db import db

    db.session.rollback()
    field = err.field if err.field and (fields is None or err.field in fields) else "form"
    return {field: err.message}

"""Administration forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length

from forms.auth import LANGUAGE_CHOICES
from forms.cases import MultiCheckboxField

STAFF_ROLE_CHOICES = [
    ("assessor", _l("Assessor")),
    ("coordinator", _l("Coordinator")),
    ("admin", _l("Administrator")),
]


class StaffUserForm(FlaskForm):
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    email = EmailField(
        _l("E-mail address"), validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)]
    )
    role = SelectField(_l("Role"), choices=STAFF_ROLE_CHOICES)
    language = SelectField(_l("Preferred language"), choices=LANGUAGE_CHOICES, default="en")
    password = PasswordField(
        _l("Initial password (at least 10 characters)"), validators=[DataRequired(), Length(min=10, max=1024)]
    )


class QualificationsForm(FlaskForm):
    """What an assessor may assess: named credentials, whole sectors, and the languages they read. The
    choices are set by the view from the catalog."""

    credential_ids = MultiCheckboxField(_l("Credentials"), coerce=int)
    sectors = MultiCheckboxField(_l("Whole sectors"))
    languages = MultiCheckboxField(_l("Languages the assessor reads"), choices=LANGUAGE_CHOICES)

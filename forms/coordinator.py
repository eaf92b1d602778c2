"""The coordinator's forms: registering a candidate in person."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, Length, Optional

from forms.auth import LANGUAGE_CHOICES


class AssistedRegistrationForm(FlaskForm):
    """Only a name is needed: many candidates registered in person have no e-mail and no papers."""

    display_name = StringField(_l("The candidate's name"), validators=[DataRequired(), Length(max=120)])
    language = SelectField(_l("The candidate's language"), choices=LANGUAGE_CHOICES, default="uk")
    phone = TelField(_l("Phone number (optional)"), validators=[Optional(), Length(max=40)])
    email = EmailField(
        _l("E-mail address (optional)"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)]
    )
    consent_in_person = BooleanField(
        _l("The candidate has read the privacy text (or had it read to them) and agrees."),
        validators=[DataRequired(message=_l("Without the candidate's consent we cannot keep their data."))],
    )

"""The candidate's profile form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional, Regexp

from forms.auth import LANGUAGE_CHOICES


class ProfileForm(FlaskForm):
    language = SelectField(_l("Preferred language"), choices=LANGUAGE_CHOICES)
    phone = StringField(
        _l("Phone number (optional)"),
        validators=[
            Optional(),
            Length(max=40),
            Regexp(r"^\+?[0-9 ()\-]{6,40}$", message=_l("Write the number with digits, e.g. +380 44 123 4567.")),
        ],
    )
    contact_by_email = BooleanField(_l("By e-mail"))
    contact_by_phone = BooleanField(_l("By phone or text message"))
    target_group = RadioField(
        _l("Which describes you best? (optional)"),
        choices=[
            ("", _l("I prefer not to say")),
            ("displaced", _l("I had to leave my home (internally displaced or refugee)")),
            ("career_changer", _l("I am changing careers")),
            ("other", _l("Other")),
        ],
        default="",
        validators=[Optional()],
    )
    accessibility_needs = TextAreaField(
        _l("Anything we should arrange for you (optional)"), validators=[Optional(), Length(max=2000)]
    )

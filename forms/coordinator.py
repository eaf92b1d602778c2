"""The coordinator's forms: registering a candidate in person, the queue's filters and its bulk actions."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

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


#: The optional target groups of a candidate's profile, as staff read them.
TARGET_GROUP_CHOICES = [
    ("displaced", _l("Displaced person")),
    ("career_changer", _l("Career changer")),
    ("other", _l("Other")),
]


class QueueFilterForm(FlaskForm):
    """The queue's filters, as the URL gives them (a GET form: a view can be bookmarked and shared, and reading
    changes nothing, so it carries no CSRF token). The page takes its labels and the order's choices from
    here; the choices that come from data are filled in by the view, which checks each value against them.
    Only the number of days has a rule of its own, checked by `QueueDaysForm` on each request."""

    class Meta:
        csrf = False

    credential = SelectField(_l("Credential"), coerce=str, validators=[Optional()])
    sector = SelectField(_l("Sector"), validators=[Optional()])
    centre = SelectField(_l("Centre"), coerce=str, validators=[Optional()])
    language = SelectField(_l("Candidate's language"), validators=[Optional()])
    target_group = SelectField(_l("Target group"), validators=[Optional()])
    assessor = SelectField(_l("Assessor"), validators=[Optional()])
    state = SelectField(_l("State"), validators=[Optional()])
    min_days = IntegerField(_l("In this state for at least (days)"),
                            validators=[Optional(), NumberRange(min=0, max=3650)])
    overdue = BooleanField(_l("Only overdue cases"))
    sort = SelectField(
        _l("Order"),
        choices=[("age", _l("Longest in their state first")), ("due", _l("Soonest due first"))],
        default="age",
        validators=[Optional()],
    )


class QueueDaysForm(FlaskForm):
    """The queue's one filter with a rule (a whole number of days, 0 to 3650), bound alone on each request:
    binding every filter's field cost more than the counts above the list, to check this one."""

    class Meta:
        csrf = False

    min_days = QueueFilterForm.min_days


class BulkAssignForm(FlaskForm):
    """Cases chosen on the queue page (each as "id:version", the version the page showed) and who takes them."""

    cases = SelectMultipleField(_l("Cases"), choices=[], validate_choice=False)
    assessor_id = SelectField(_l("Assessor"), coerce=int, validate_choice=False)

"""Forms for third-party attestations: the candidate's request to a referee, and the referee's answer."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from forms.cases import MultiCheckboxField, VersionedForm

TOO_LONG = _l("This text is too long.")


class RefereeRequestForm(VersionedForm):
    referee_name = StringField(
        _l("Name of the person you ask"),
        validators=[
            DataRequired(message=_l("Give the name of the person you ask.")),
            Length(max=120, message=TOO_LONG),
        ],
    )
    referee_email = EmailField(
        _l("Their e-mail address"),
        validators=[
            DataRequired(message=_l("Give a valid e-mail address for the person you ask.")),
            Email(message=_l("Give a valid e-mail address for the person you ask."), check_deliverability=False),
            Length(max=254, message=TOO_LONG),
        ],
    )
    referee_language = RadioField(
        _l("Language of the e-mail they receive"),
        # Each language named in itself, as on the language switch.
        choices=[("en", "English"), ("uk", "Українська")],
        validators=[DataRequired(message=_l("Choose the language of the e-mail."))],
    )
    relationship = StringField(
        _l("How do they know your work?"),
        validators=[
            DataRequired(message=_l("Say how this person knows your work.")),
            Length(max=200, message=TOO_LONG),
        ],
    )
    statement = TextAreaField(
        _l("What should they confirm?"),
        validators=[
            DataRequired(message=_l("Write what the person should confirm.")),
            Length(max=5000, message=TOO_LONG),
        ],
    )
    outcomes = MultiCheckboxField(_l("Which learning outcomes does it show?"), coerce=int)

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if not self.outcomes.data:
            self.outcomes.errors = [*self.outcomes.errors, _l("Choose at least one learning outcome.")]
            ok = False
        return ok


ANSWERS = [
    ("confirmed", _l("I confirm the statement")),
    ("corrected", _l("I confirm it with corrections")),
    ("declined", _l("I cannot or do not want to confirm it")),
]


class RefereeAnswerForm(FlaskForm):
    answer = RadioField(
        _l("Your answer"), choices=ANSWERS, validators=[DataRequired(message=_l("Choose your answer."))]
    )
    correction = TextAreaField(
        _l("The statement as you can confirm it"), validators=[Optional(), Length(max=5000, message=TOO_LONG)]
    )
    claimed_name = StringField(_l("Your name"), validators=[Optional(), Length(max=120, message=TOO_LONG)])
    claimed_role = StringField(
        _l("Your role or job title"), validators=[Optional(), Length(max=200, message=TOO_LONG)]
    )
    claimed_organisation = StringField(
        _l("Organisation"), validators=[Optional(), Length(max=200, message=TOO_LONG)]
    )
    claimed_contact = StringField(
        _l("How the assessor can reach you (e-mail or phone)"),
        validators=[Optional(), Length(max=254, message=TOO_LONG)],
    )

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.answer.data == "corrected" and not (self.correction.data or "").strip():
            self.correction.errors = [*self.correction.errors, _l("Write the statement as you can confirm it.")]
            ok = False
        if self.answer.data in ("confirmed", "corrected") and not (self.claimed_name.data or "").strip():
            self.claimed_name.errors = [
                *self.claimed_name.errors,
                _l("Give your name, so that the assessor knows who confirms this."),
            ]
            ok = False
        return ok

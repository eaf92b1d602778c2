"""Forms of the assessor's workspace: the declaration of interest, a doubt about evidence, accepting all."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forms.cases import VersionedForm

#: The rules of evidence, each with what it asks of the item (the codes are those of EvidenceDoubt.rule).
RULE_CHOICES = [
    ("valid", _l("Valid: it shows this learning outcome")),
    ("authentic", _l("Authentic: it is the candidate's own work")),
    ("current", _l("Current: it shows what the candidate can do today")),
    ("sufficient", _l("Sufficient: there is enough of it to judge")),
]


class DeclarationForm(VersionedForm):
    """Whether the assessor knows the candidate; knowing them needs a reason the coordinator can act on."""

    knows = RadioField(
        _l("Do you know this candidate?"),
        choices=[
            ("no", _l("I do not know this candidate")),
            ("yes", _l("I know this candidate")),
        ],
        validators=[DataRequired(message=_l("Choose one of the two answers."))],
    )
    reason = TextAreaField(
        _l("How do you know the candidate? (required if you know them)"),
        validators=[Optional(), Length(max=2000)],
    )

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.knows.data == "yes" and not (self.reason.data or "").strip():
            self.reason.errors = [
                *self.reason.errors,
                _l("Say how you know the candidate, so that the coordinator can assign someone else."),
            ]
            ok = False
        return ok


class DoubtForm(VersionedForm):
    """A doubt about one evidence item against one rule of evidence, with what raised it."""

    rule = RadioField(
        _l("Which rule of evidence is in doubt?"),
        choices=RULE_CHOICES,
        validators=[DataRequired(message=_l("Choose one rule of evidence."))],
    )
    note = TextAreaField(
        _l("What makes you doubt it?"),
        validators=[DataRequired(message=_l("Write what makes you doubt this evidence.")), Length(max=2000)],
    )


class AcceptAllForm(VersionedForm):
    """Nothing but the version: the button itself is the confirmation."""

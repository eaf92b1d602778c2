"""Forms for quality assurance: a credential's rule, the choice of a moderator, the moderator's views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from forms.cases import VersionedForm

#: The largest "first N cases" the form takes: a number past any assessor's career is a typing mistake.
MAX_FIRST_CASES = 1000


class PolicyForm(FlaskForm):
    """One credential's rule; the admin page shows one of these per credential."""

    credential_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    moderate_first = IntegerField(
        _l("Moderate every recommendation in each assessor's first cases (number of cases)"),
        validators=[
            InputRequired(message=_l("Enter a number of cases from 0 to %(max)s.", max=MAX_FIRST_CASES)),
            NumberRange(min=0, max=MAX_FIRST_CASES,
                        message=_l("Enter a number of cases from 0 to %(max)s.", max=MAX_FIRST_CASES)),
        ],
    )
    moderate_percent = IntegerField(
        _l("After those, moderate this share at random (percent)"),
        validators=[
            InputRequired(message=_l("Enter a percentage from 0 to 100.")),
            NumberRange(min=0, max=100, message=_l("Enter a percentage from 0 to 100.")),
        ],
    )
    blind = BooleanField(
        _l("Blind moderation: the moderator sees the first assessor's decisions only after giving their own view")
    )
    appeal_days = IntegerField(
        _l("Appeal period (days after the decision)"),
        validators=[
            InputRequired(message=_l("Enter a number of days from 1 to 365.")),
            NumberRange(min=1, max=365, message=_l("Enter a number of days from 1 to 365.")),
        ],
    )


def optional_int(value: object) -> int | None:
    """The select's empty first choice ("choose...") is no choice, not an error of form."""
    return None if value in ("", None) else int(value)  # type: ignore[call-overload]


class ModeratorForm(VersionedForm):
    """The coordinator names the second assessor. Whether the choice is allowed (never the first assessor)
    is the service's rule, so its refusal, in plain words, is what the coordinator reads."""

    moderator_id = SelectField(
        _l("Moderator (a second assessor)"),
        coerce=optional_int,
        validate_choice=False,
        validators=[InputRequired(message=_l("Choose the moderator."))],
    )


AGREE_CHOICES = [("agree", _l("I agree")), ("disagree", _l("I disagree"))]


class ModerationViewsForm(VersionedForm):
    """The moderator's view on every claimed outcome in one form; the fields are added per case by
    `moderation_views_form`, because each case claims its own outcomes."""

    outcomes: Sequence[tuple[int, str]] = ()

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for outcome_id, code in self.outcomes:
            choice, reason = self.fields_for(outcome_id)
            if choice.data == "disagree" and not (reason.data or "").strip():
                reason.errors = [*reason.errors, _l("Give a reason for disagreeing on %(code)s.", code=code)]
                ok = False
        return ok

    def fields_for(self, outcome_id: int) -> tuple[RadioField, TextAreaField]:
        return self[f"view_{outcome_id}"], self[f"reason_{outcome_id}"]  # type: ignore[return-value]

    def views(self) -> dict[int, tuple[bool, str | None]]:
        """outcome id -> (agrees, reason), for the service."""
        result = {}
        for outcome_id, _code in self.outcomes:
            choice, reason = self.fields_for(outcome_id)
            result[outcome_id] = (choice.data == "agree", reason.data)
        return result


def moderation_views_form(outcomes: Sequence[tuple[int, str]], **kwargs: Any) -> ModerationViewsForm:
    """A views form for these outcomes (id, code); keyword arguments go to the form (formdata, data...)."""

    class Form(ModerationViewsForm):
        pass

    Form.outcomes = tuple(outcomes)
    for outcome_id, code in outcomes:
        setattr(
            Form,
            f"view_{outcome_id}",
            RadioField(
                _l("Your view on %(code)s", code=code),
                choices=AGREE_CHOICES,
                validators=[InputRequired(message=_l("Say whether you agree or disagree on %(code)s.", code=code))],
            ),
        )
        setattr(
            Form,
            f"reason_{outcome_id}",
            TextAreaField(_l("Reason (required to disagree)"), validators=[Optional(), Length(max=5000)]),
        )
    return Form(**kwargs)

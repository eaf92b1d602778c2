"""Forms for the assessor's follow-up: asking for more evidence, arranging an interview, recording its results.

They check what a person typed and say what is wrong next to the field; the services check it all again
(a form can be forged) and hold the rules that need the database, such as which outcomes the case claims.
Dates are read as ISO (what a date input sends) or as day.month.year (what people type where a browser
shows a plain text box instead of a date picker).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import Field, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from forms.cases import MultiCheckboxField, VersionedForm, _is_web_address

TOO_LONG = _l("This text is too long.")
NOT_IN_CASE = _l("One of the chosen learning outcomes is not part of this case.")
DATE_UNREADABLE = _l("The date could not be read; write it as 2027-03-05 or 05.03.2027.")
TIME_UNREADABLE = _l("The time could not be read; write it as 14:30.")
NONE_CHOSEN = _l("Choose at least one learning outcome that needs more evidence.")
WEB_ADDRESS = _l("Enter a web address that starts with https:// or http://.")

DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H.%M")

KINDS = [("interview", _l("Interview")), ("observation", _l("Practical observation"))]
RESULTS = [("met", _l("Met")), ("not_met", _l("Not met")), ("inconclusive", _l("Inconclusive"))]


def _first(valuelist: list[Any]) -> str:
    return str(valuelist[0]).strip() if valuelist else ""


class DayField(Field):
    """A calendar day; an unreadable one is an error in the reader's language, not WTForms' own."""

    data: date | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        text = _first(valuelist)
        if not text:
            return
        for pattern in DATE_FORMATS:
            try:
                self.data = datetime.strptime(text, pattern).date()
                return
            except ValueError:
                continue
        raise ValueError(DATE_UNREADABLE)

    def _value(self) -> str:
        if self.raw_data:
            return _first(self.raw_data)
        return self.data.isoformat() if self.data else ""


class ClockField(Field):
    """A time of day, as a time input sends it (14:30) or as typed (14.30)."""

    data: time | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        text = _first(valuelist)
        if not text:
            return
        for pattern in TIME_FORMATS:
            try:
                self.data = datetime.strptime(text, pattern).time()
                return
            except ValueError:
                continue
        raise ValueError(TIME_UNREADABLE)

    def _value(self) -> str:
        if self.raw_data:
            return _first(self.raw_data)
        return self.data.strftime("%H:%M") if self.data else ""


class OutcomeChoices(MultiCheckboxField):
    """Outcome ids; one that is not among the choices (a forged form) is refused with a plain message."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            self.data = [int(v) for v in valuelist]
        except ValueError:
            self.data = []
            raise ValueError(NOT_IN_CASE) from None

    def pre_validate(self, form: FlaskForm) -> None:
        allowed = {value for value, *_ in self.choices or []}
        if any(v not in allowed for v in self.data or []):
            raise ValidationError(NOT_IN_CASE)


class EvidenceRequestForm(VersionedForm):
    outcomes = OutcomeChoices(_l("Which learning outcomes need more evidence?"), coerce=int)
    message = TextAreaField(
        _l("What would help"),
        validators=[
            DataRequired(message=_l("Say what would help: what the candidate could add.")),
            Length(max=5000, message=TOO_LONG),
        ],
    )
    due_on = DayField(_l("Due date (optional)"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if not self.outcomes.data and not self.outcomes.errors:
            self.outcomes.errors = [*self.outcomes.errors, NONE_CHOSEN]
            ok = False
        return ok


class InterviewForm(VersionedForm):
    kind = RadioField(
        _l("What kind of appointment?"),
        choices=KINDS,
        validate_choice=False,
        validators=[InputRequired(message=_l("Choose an interview or a practical observation."))],
    )
    day = DayField(_l("Date"), validators=[InputRequired(message=_l("Give the date."))])
    at = ClockField(_l("Time"), validators=[InputRequired(message=_l("Give the time."))])
    place = StringField(_l("Place (address and room)"), validators=[Optional(), Length(max=200, message=TOO_LONG)])
    online_link = StringField(_l("Online link"), validators=[Optional(), Length(max=500, message=TOO_LONG)])
    notes = TextAreaField(
        _l("Notes for the candidate (optional)"), validators=[Optional(), Length(max=5000, message=TOO_LONG)]
    )

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.kind.raw_data and self.kind.data not in dict(KINDS):
            self.kind.errors = [*self.kind.errors, _l("Choose an interview or a practical observation.")]
            ok = False
        place = (self.place.data or "").strip()
        link = (self.online_link.data or "").strip()
        if not place and not link:
            self.place.errors = [*self.place.errors, _l("Give the place where you meet, or an online link (or both).")]
            ok = False
        if link and not _is_web_address(link):
            self.online_link.errors = [*self.online_link.errors, WEB_ADDRESS]
            ok = False
        return ok


class InterviewResultsForm(VersionedForm):
    """The fixed part; `results_form` adds a result and a note per claimed outcome (`result_<id>`, `notes_<id>`)."""

    recording = FileField(_l("Recording or observation sheet (optional)"))
    title = StringField(_l("Title of the file (optional)"), validators=[Optional(), Length(max=200, message=TOO_LONG)])

    outcome_ids: tuple[int, ...] = ()

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        known = {f"result_{o}" for o in self.outcome_ids} | {f"notes_{o}" for o in self.outcome_ids}
        posted = set(request.form) if request else set()
        if any(k.startswith(("result_", "notes_")) and k not in known for k in posted):
            self.form_errors.append(_l("One of the learning outcomes is not part of this case."))
            ok = False
        chosen = 0
        for outcome_id in self.outcome_ids:
            result = self[f"result_{outcome_id}"]
            notes = self[f"notes_{outcome_id}"]
            if result.data:
                chosen += 1
                if result.data not in dict(RESULTS):
                    result.errors = [*result.errors, _l("Choose met, not met or inconclusive.")]
                    ok = False
            elif (notes.data or "").strip():
                result.errors = [*result.errors, _l("Choose a result for this outcome, or leave its notes empty.")]
                ok = False
        if not chosen and ok:
            self.form_errors.append(_l("Record a result for at least one learning outcome."))
            ok = False
        return ok

    def entries(self) -> list[tuple[int, str, str | None]]:
        """(outcome id, result, notes) for each outcome given a result, in the case's order."""
        found = []
        for outcome_id in self.outcome_ids:
            result = self[f"result_{outcome_id}"].data
            if result:
                found.append((outcome_id, str(result), self[f"notes_{outcome_id}"].data or None))
        return found

    def has_file(self) -> bool:
        upload = self.recording.data
        return bool(upload and getattr(upload, "filename", ""))


def results_form(outcome_ids: list[int], **kwargs: Any) -> InterviewResultsForm:
    """A results form with one result and one note per outcome the case claims."""
    fields: dict[str, Any] = {"outcome_ids": tuple(outcome_ids)}
    for outcome_id in outcome_ids:
        fields[f"result_{outcome_id}"] = RadioField(choices=RESULTS, validate_choice=False, validators=[Optional()])
        fields[f"notes_{outcome_id}"] = TextAreaField(validators=[Optional(), Length(max=5000, message=TOO_LONG)])
    form_class = type("CaseInterviewResultsForm", (InterviewResultsForm,), fields)
    return form_class(**kwargs)  # type: ignore[no-any-return]

"""Forms on a case page: evidence, transitions, decisions, assignment."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class VersionedForm(FlaskForm):
    """Carries the case version the page was built from, so a stale page is caught."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


def _is_web_address(value: str) -> bool:
    """http or https, with a host and nothing that could hide where the link goes (spaces, a user name)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)
    )


class EvidenceForm(VersionedForm):
    kind = RadioField(
        _l("What are you adding?"),
        choices=[
            ("file", _l("A file (document, photo, video or sound recording)")),
            ("statement", _l("A written statement")),
            ("link", _l("A link to a web page (a video, an article, your portfolio)")),
        ],
        default="file",
    )
    title = StringField(_l("Short title"), validators=[Optional(), Length(max=200)])
    file = FileField(_l("File"))
    statement = TextAreaField(_l("Statement in your own words"), validators=[Optional(), Length(max=20000)])
    url = URLField(_l("Web address"), validators=[Optional(), Length(max=2000)])
    outcomes = MultiCheckboxField(_l("Which learning outcomes does it show?"), coerce=int)
    # Made when the form is shown: the same form sent twice (a double click, a resend) makes one item.
    client_token = HiddenField(validators=[Optional(), Regexp(r"[0-9a-f]{32}\Z")])

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.kind.data == "file" and not (self.file.data and getattr(self.file.data, "filename", "")):
            self.file.errors = [*self.file.errors, _l("Choose a file to upload.")]
            ok = False
        if self.kind.data == "statement" and not (self.statement.data or "").strip():
            self.statement.errors = [*self.statement.errors, _l("Write the statement before saving it.")]
            ok = False
        if self.kind.data == "statement" and not (self.title.data or "").strip():
            self.title.errors = [*self.title.errors, _l("Give the statement a short title.")]
            ok = False
        if self.kind.data == "link" and not _is_web_address((self.url.data or "").strip()):
            self.url.errors = [*self.url.errors, _l("Enter a web address that starts with https:// or http://.")]
            ok = False
        if not self.outcomes.data:
            self.outcomes.errors = [*self.outcomes.errors, _l("Choose at least one learning outcome.")]
            ok = False
        return ok


class TransitionForm(VersionedForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=5000)])


class DecisionForm(VersionedForm):
    outcome_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    verdict = RadioField(
        _l("Decision"),
        choices=[
            ("met", _l("Met")),
            ("not_met", _l("Not yet met")),
            ("more_evidence", _l("More evidence needed")),
        ],
        validators=[DataRequired(message=_l("Choose a decision."))],
    )
    criteria = MultiCheckboxField(_l("Criteria the evidence satisfies"), coerce=int)
    rationale = TextAreaField(_l("Reason (required unless met)"), validators=[Optional(), Length(max=5000)])


class AssignForm(VersionedForm):
    assessor_id = SelectField(_l("Assessor"), coerce=int)


class SelfAssessmentForm(VersionedForm):
    level = RadioField(
        _l("How well can you do this?"),
        choices=[
            ("confident", _l("Confident: I do this regularly")),
            ("partly", _l("Partly: I have done some of it")),
            ("not_yet", _l("Not yet: leave it out of my claim")),
        ],
        validators=[DataRequired(message=_l("Choose how confident you are."))],
    )
    story = TextAreaField(_l("In your own words (optional)"), validators=[Optional(), Length(max=5000)])

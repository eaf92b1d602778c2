"""The assessor's answer on an outcome carried over from an earlier award: confirm it, or reject it with a reason."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from forms.cases import VersionedForm


class CarriedForm(VersionedForm):
    """Sent by one of two buttons (action=confirm or action=reject); a rejection needs its reason."""

    action = RadioField(
        _l("Confirm or reject"),
        choices=[("confirm", _l("Confirm")), ("reject", _l("Reject"))],
        validators=[DataRequired(message=_l("Choose to confirm or to reject the outcome validated earlier."))],
    )
    reason = TextAreaField(
        _l("Reason (required to reject)"),
        validators=[Optional(), Length(max=2000)],
    )

    def validate(self, extra_validators=None) -> bool:  # type: ignore[no-untyped-def]
        ok = super().validate(extra_validators)
        if self.action.data == "reject" and not (self.reason.data or "").strip():
            self.reason.errors = [
                *self.reason.errors,
                _l("Give a reason for rejecting the outcome validated earlier."),
            ]
            ok = False
        return ok

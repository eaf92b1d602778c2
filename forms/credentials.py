"""Forms of the credentials: checking one (anyone, no account), and changing its status (staff)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

#: A credential is a few kilobytes; anything much larger is not one.
MAX_CREDENTIAL_CHARS = 200_000


class VerifyForm(FlaskForm):
    """Paste a credential or upload its file; optionally the e-mail it should have been issued to."""

    credential = TextAreaField(_l("Paste the credential (JSON or token)"),
                               validators=[Optional(), Length(max=MAX_CREDENTIAL_CHARS)])
    upload = FileField(_l("Or choose the credential file"))
    email = EmailField(_l("E-mail of the holder (optional: checks that it was issued to them)"),
                       validators=[Optional(), Length(max=254)])


class StatusForm(FlaskForm):
    """Revoke, suspend or reinstate an issued credential: always with the reason."""

    action = RadioField(
        _l("What to do"),
        choices=[
            ("suspended", _l("Suspend (can be lifted later)")),
            ("revoked", _l("Revoke (for good)")),
            ("active", _l("Lift the suspension")),
        ],
        validators=[DataRequired(message=_l("Choose what to do."))],
    )
    reason = TextAreaField(
        _l("Reason (the holder and anyone who checks the credential will see it)"),
        validators=[DataRequired(message=_l("Give the reason.")), Length(max=2000)],
    )

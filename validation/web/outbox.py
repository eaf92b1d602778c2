"""The administrators' view of the outbox: e-mails not delivered yet, failed ones first, and "retry now"."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.common import ConfirmForm
from validation.extensions import db
from validation.services import mail
from validation.web.roles import roles_required

bp = Blueprint("outbox", __name__, url_prefix="/admin/mail")


@bp.get("/")
@roles_required("admin")
def index():  # type: ignore[no-untyped-def]
    messages = mail.unsent()
    return render_template(
        "admin/outbox.html",
        messages=messages,
        failed=sum(m.failed_at is not None for m in messages),
        form=ConfirmForm(),
    )


@bp.post("/<int:message_id>/retry")
@roles_required("admin")
def retry(message_id: int):  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    mail.retry_now(message_id, current_user)
    db.session.commit()
    flash(_("The e-mail will be sent at the next run of the tick."), "success")
    return redirect(url_for("outbox.index"))

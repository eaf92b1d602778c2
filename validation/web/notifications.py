"""A signed-in person's notifications: newest first, unread ones marked, all marked read with one button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Flask, abort, flash, g, has_request_context, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from forms.common import ConfirmForm
from validation.extensions import db
from validation.models import Case, Notification
from validation.services import notifications
from validation.web.i18n import current_language
from validation.web.roles import roles_required
from validation.web.security import write_intent

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
EVERYONE = ("candidate", "assessor", "coordinator", "admin")


@dataclass(frozen=True)
class Shown:
    """A notification as its reader sees it, in their language."""

    notification: Notification
    title: str
    sentence: str
    created_at: datetime

    @property
    def unread(self) -> bool:
        return self.notification.read_at is None


def render(notification: Notification, case: Case | None) -> Shown:
    """Title and sentence in the page's language: the credential's title in it too, dates in its format."""
    text = notifications.text_for(notification)
    language = current_language()
    values: dict[str, object] = {
        "case": notification.case_id,
        "credential": case.credential.text("title", language) if case is not None else "",
    }
    values.update({k: format_date(v, "long") for k, v in notifications.dates_of(notification.params).items()})
    return Shown(notification, _(text.title), _(text.sentence, **values), notification.created_at)


@bp.get("/")
@roles_required(*EVERYONE)
def index():  # type: ignore[no-untyped-def]
    rows = notifications.notifications_of(current_user)
    case_ids = {n.case_id for n in rows if n.case_id is not None}
    by_id = (
        {c.id: c for c in db.session.execute(select(Case).where(Case.id.in_(case_ids))).scalars()} if case_ids else {}
    )
    shown = [render(n, by_id.get(n.case_id) if n.case_id is not None else None) for n in rows]
    return render_template(
        "notifications/index.html", shown=shown, unread=sum(s.unread for s in shown), form=ConfirmForm()
    )


@bp.post("/read")
@roles_required(*EVERYONE)
def mark_read():  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    count = notifications.mark_all_read(current_user)
    db.session.commit()
    if count:
        flash(_("All notifications are marked read."), "success")
    return redirect(url_for("notifications.index"))


def install(app: Flask) -> None:
    """The unread count for the top navigation of every page, only for a signed-in person: as counted when
    their session was read, unless the request may have changed it since (one that changes data)."""

    @app.context_processor
    def _unread() -> dict[str, object]:
        if not has_request_context() or not getattr(current_user, "is_authenticated", False):
            return {}
        if "unread_notifications" not in g:
            counted = current_user.unread_on_arrival
            if counted is None or write_intent.get():
                counted = notifications.unread_count(current_user)
            g.unread_notifications = counted
        return {"unread_notifications": g.unread_notifications}

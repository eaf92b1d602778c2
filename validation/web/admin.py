"""Administration: staff accounts and the workflows in use."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import workflows
from forms.admin import QualificationsForm, StaffUserForm
from forms.common import ConfirmForm
from validation.extensions import db
from validation.services import accounts, cases, catalog, staffing
from validation.services.errors import Invalid
from validation.web.i18n import current_language
from validation.web.roles import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@roles_required("admin")
def home():  # type: ignore[no-untyped-def]
    return render_template("admin/users.html", users=accounts.list_users(), form=ConfirmForm())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required("admin")
def new_user():  # type: ignore[no-untyped-def]
    form = StaffUserForm()
    if form.validate_on_submit():
        try:
            accounts.create_user(
                email=form.email.data,
                display_name=form.display_name.data,
                password=form.password.data,
                role=form.role.data,
                language=form.language.data,
                actor=current_user,
            )
        except Invalid as exc:
            db.session.rollback()
            form.email.errors.append(_(exc.reason))
            return render_template("admin/new_user.html", form=form), 422
        db.session.commit()
        flash(_("The account is created."), "success")
        return redirect(url_for("admin.home"))
    return render_template("admin/new_user.html", form=form), (422 if request.method == "POST" else 200)


@bp.post("/users/<int:user_id>/active")
@roles_required("admin")
def set_active(user_id: int):  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = accounts.set_active(user_id, request.form.get("active") == "1", current_user)
    db.session.commit()
    flash(
        _("The account is enabled.") if user.active else _("The account is disabled and signed out."),
        "success",
    )
    return redirect(url_for("admin.home"))


@bp.get("/workflows")
@roles_required("admin")
def workflow_list():  # type: ignore[no-untyped-def]
    registry = cases.registry()
    shown = [registry.latest(key) for key in registry.keys()]  # noqa: SIM118  (a Registry)
    return render_template(
        "admin/workflows.html", definitions=shown, diagrams={d.key: workflows.mermaid(d) for d in shown}
    )


def _qualifications_form(assessor_id: int, **data: object) -> QualificationsForm:
    form = QualificationsForm(**data)  # type: ignore[arg-type]
    form.credential_ids.choices = [
        (c.id, f"{c.code} — {c.text('title', current_language())}") for c in catalog.published_credentials()
    ]
    form.sectors.choices = [(s, _(s)) for s in staffing.catalog_sectors()]
    return form


@bp.route("/users/<int:user_id>/qualifications", methods=["GET", "POST"])
@roles_required("admin")
def qualifications(user_id: int):  # type: ignore[no-untyped-def]
    assessor = accounts.get_user(user_id)
    if assessor is None or assessor.role != "assessor":
        abort(404)
    if request.method == "GET":
        held = staffing.qualifications_of(user_id)
        form = _qualifications_form(user_id, credential_ids=sorted(held.credential_ids),
                                    sectors=sorted(held.sectors), languages=sorted(held.languages))
        return render_template("admin/qualifications.html", assessor=assessor, form=form)
    form = _qualifications_form(user_id)
    if not form.validate_on_submit():
        return render_template("admin/qualifications.html", assessor=assessor, form=form), 422
    staffing.set_qualifications(user_id, current_user, form.credential_ids.data or [], form.sectors.data or [],
                                form.languages.data or [])
    db.session.commit()
    flash(_("What %(name)s may assess is saved.", name=assessor.display_name), "success")
    return redirect(url_for("admin.home"))

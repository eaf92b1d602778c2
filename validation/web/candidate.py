"""The candidate's home: their cases and awards, opening a new case, their profile and intake answers."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from forms.common import ConfirmForm
from forms.credentials import StatusForm
from forms.intake import build_form
from forms.profile import ProfileForm
from validation.credentials.certificate import identity_verification_label
from validation.extensions import db
from validation.services import (
    awards,
    case_view,
    cases,
    catalog,
    credentials,
    evidence_requests,
    intake,
    interviews,
    profiles,
)
from validation.services.errors import Invalid
from validation.web.i18n import current_language
from validation.web.roles import roles_required
from validation.web.vocabulary import N_

bp = Blueprint("candidate", __name__)

#: What the candidate should do next, by state of the standard workflow, in plain words.
NEXT_STEPS = {
    "draft": N_("Say how well you can do each outcome, add evidence for each one you claim, then submit."),
    "submitted": N_("Your portfolio is handed in. A coordinator will check it is complete; you need do nothing."),
    "screening": N_("A coordinator is checking your portfolio and will give it to an assessor."),
    "more_evidence": N_("The assessor asks for more evidence: read the message, add what helps, then hand it in."),
    "under_review": N_("An assessor is looking at your evidence. You will hear when there is news."),
    "interview": N_("The assessor wants to talk with you or see you work; you will be told when and where."),
    "recommended": N_("The assessor has made a recommendation; the centre will decide soon."),
    "awarded": N_("Congratulations: the credential is awarded. Open the certificate to show it."),
    "partially_awarded": N_("Part of the credential is awarded. Open the certificate to see which outcomes."),
    "not_awarded": N_("The credential was not awarded this time. Read the reasons; you can start again later."),
    "withdrawn": N_("This case was withdrawn."),
}


@bp.get("/my")
@roles_required("candidate")
def home():  # type: ignore[no-untyped-def]
    """Per case: where it stands, what to do next, what the assessor asked for and any appointment to come.

    The requests and appointments of all cases come in one query each, so the page costs the same for one
    case or many."""
    cards = case_view.cards_for(current_user)
    mine = [card.case for card in cards]
    return render_template(
        "candidate/home.html",
        cards=cards,
        requests=evidence_requests.open_requests_of(mine),
        appointments=interviews.upcoming_of(mine),
        next_steps=NEXT_STEPS,
        awards=awards.awards_of(current_user),
        intake_answered=intake.latest_for(current_user.id) is not None,
    )


@bp.get("/my/skills")
@roles_required("candidate")
def skills():  # type: ignore[no-untyped-def]
    """The skills record: every learning outcome validated in the candidate's awards in force, by credential."""
    return render_template("candidate/skills.html", groups=awards.skills_of(current_user))


@bp.post("/catalog/<code>/open")
@roles_required("candidate")
def open_case(code: str):  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        abort(400)
    credential = catalog.by_code(code)
    if credential is None:
        abort(404)
    case = cases.open_case(current_user, credential.id)
    db.session.commit()
    flash(_("Your case is open. Add evidence for each learning outcome, then submit."), "success")
    return redirect(url_for("cases.show", case_id=case.id))


@bp.get("/awards/<int:award_id>")
@roles_required("candidate", "assessor", "coordinator", "admin")
def award(award_id: int):  # type: ignore[no-untyped-def]
    return render_award(awards.award_for(current_user, award_id))


def render_award(award, status_form=None) -> str:  # type: ignore[no-untyped-def]
    """The award page: the certificate, its signed credential's status, the downloads and the share link;
    staff who may change the status get the form (shown again with its errors after a refused change)."""
    issued = credentials.for_award(award.id)
    may_change = current_user.role in ("coordinator", "admin") and issued is not None
    return render_template(
        "candidate/award.html", award=award, issued=issued,
        identity_verification=identity_verification_label(award.credential.identity_verification),
        share_url=credentials.verify_url(issued.uuid) if issued else None,
        status_form=(status_form or StatusForm(formdata=None)) if may_change else None,
    )


@bp.route("/profile", methods=["GET", "POST"])
@roles_required("candidate")
def profile():  # type: ignore[no-untyped-def]
    saved = profiles.profile_of(current_user)
    form = ProfileForm(
        obj=None if request.method == "POST" else saved,
        language=current_user.preferred_language,
        target_group=saved.target_group or "",
    )
    if form.validate_on_submit():
        try:
            profiles.save_profile(
                current_user,
                language=form.language.data,
                phone=form.phone.data,
                contact_by_email=form.contact_by_email.data,
                contact_by_phone=form.contact_by_phone.data,
                target_group=form.target_group.data or None,
                accessibility_needs=form.accessibility_needs.data,
            )
        except Invalid as exc:
            db.session.rollback()
            form.contact_by_email.errors = [*form.contact_by_email.errors, _(exc.reason)]
        else:
            db.session.commit()
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("candidate.profile"))
    return render_template(
        "candidate/profile.html",
        form=form,
        consent=profiles.current_consent(current_user),
        consent_form=ConfirmForm(),
    ), (422 if request.method == "POST" else 200)


@bp.post("/profile/consent")
@roles_required("candidate")
def consent():  # type: ignore[no-untyped-def]
    action = request.form.get("action")
    if not ConfirmForm().validate_on_submit() or action not in ("withdraw", "give"):
        abort(400)
    if action == "withdraw":
        profiles.withdraw_consent(current_user)
        message = _("Your consent is withdrawn. Nothing new will be kept; you can still withdraw your cases.")
    else:
        profiles.give_consent(current_user, current_user.preferred_language)
        message = _("Thank you: your consent is recorded again.")
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("candidate.profile"))


@bp.route("/my/intake", methods=["GET", "POST"])
@roles_required("candidate")
def intake_form():  # type: ignore[no-untyped-def]
    """The intake questionnaire of the candidate's centre, in the page's language, showing the last answers."""
    language = current_language()
    questionnaire = intake.questionnaire_for(current_user)
    form_class = build_form(questionnaire, language)
    # Prefill only a fresh page: on a POST, a radio left empty must stay empty, not fall back to the old answer.
    if request.method == "POST":
        form = form_class()
    else:
        form = form_class(data=intake.prefill_for(current_user, questionnaire))
    if form.validate_on_submit():
        intake.submit(current_user, form.answers(), language=language)
        db.session.commit()
        flash(_("Thank you: your answers are saved. You can change them at any time."), "success")
        return redirect(url_for("candidate.home"))
    return render_template(
        "candidate/intake.html",
        form=form,
        questionnaire=questionnaire,
        language=language,
    ), (422 if request.method == "POST" else 200)

"""Notifications: what a person should know about a case, in the app and by e-mail, in their language.

Each event (an assessor assigned, more evidence asked for, a decision, an appeal lodged or decided, a deadline
near or passed, a draft about to be withdrawn or withdrawn) adds, in the transaction of the change it tells
about, one row to the recipient's notifications and one e-mail to the outbox (when the recipient has an
address and, for a candidate, has not turned e-mail off). The row holds codes, not text: the notifications
page renders it in the reader's language when it is read. The e-mail is rendered now, in the recipient's
language (`mail.queue`), from `templates/mail/notify_<kind>.txt`; its subject and first sentence are the
same texts as the page's (`TEXTS`), so a translation serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from validation.extensions import db
from validation.models import Case, Notification, User, utcnow
from validation.models.notifications import unread_of
from validation.services import audit, mail, profiles, reads


def N_(message: str) -> str:
    """Mark a text for extraction (`pybabel extract -k N_`); it is translated where it is shown."""
    return message


@dataclass(frozen=True)
class Text:
    """A notification's title (the e-mail's subject) and its sentence (the e-mail's first paragraph).

    Placeholders: %(case)s the case number, %(credential)s its title, %(date)s and %(since)s dates."""

    title: str
    sentence: str


_DECIDED = N_("A decision on your case")
_APPEAL_DECIDED = N_("Your appeal has been decided")
#: By kind, or "kind:variant" where a parameter (the outcome, the appeal's result) changes the sentence.
TEXTS = {
    "assigned": Text(
        N_("A case has been assigned to you"),
        N_("Case #%(case)s, “%(credential)s”, has been assigned to you for assessment."),
    ),
    "more_evidence": Text(
        N_("More evidence is requested for your case"),
        N_("The assessor of your case #%(case)s, “%(credential)s”, asks for more evidence. Your case page says "
           "what would help and by when."),
    ),
    "decision:awarded": Text(
        _DECIDED, N_("Your case #%(case)s, “%(credential)s”, is decided: the credential is awarded in full.")
    ),
    "decision:partially_awarded": Text(
        _DECIDED,
        N_("Your case #%(case)s, “%(credential)s”, is decided: the credential is awarded in part. Your "
           "certificate lists the learning outcomes that are validated."),
    ),
    "decision:not_awarded": Text(
        _DECIDED,
        N_("Your case #%(case)s, “%(credential)s”, is decided: the credential is not awarded this time. Your "
           "case page gives the reasons."),
    ),
    "appeal_lodged": Text(
        N_("An appeal has been lodged"),
        N_("The candidate of case #%(case)s, “%(credential)s”, has appealed the decision. Assign an assessor "
           "who has not decided the case, then start the review."),
    ),
    "appeal_result:upheld": Text(
        _APPEAL_DECIDED,
        N_("Your appeal on case #%(case)s, “%(credential)s”, is upheld: the case will be decided again."),
    ),
    "appeal_result:dismissed": Text(
        _APPEAL_DECIDED,
        N_("Your appeal on case #%(case)s, “%(credential)s”, is dismissed: the decision stands. Your case page "
           "gives the reasons."),
    ),
    "deadline_near": Text(
        N_("A case is due soon"),
        N_("Case #%(case)s, “%(credential)s”, is waiting for you and is due on %(date)s."),
    ),
    "overdue": Text(
        N_("A case is overdue"),
        N_("Case #%(case)s, “%(credential)s”, was due on %(date)s and is now overdue."),
    ),
    "draft_warning": Text(
        N_("Your draft case will be withdrawn"),
        N_("Your draft case #%(case)s, “%(credential)s”, has not changed since %(since)s. If it stays "
           "unchanged, it will be withdrawn on %(date)s."),
    ),
    "reminder": Text(
        N_("A reminder about a case"),
        N_("Case #%(case)s, “%(credential)s”, is waiting for you: the coordinator sends this reminder."),
    ),
    "draft_expired": Text(
        N_("Your draft case has been withdrawn"),
        N_("Your draft case #%(case)s, “%(credential)s”, was not changed for a long time and has been "
           "withdrawn. You can open a new case for this credential at any time."),
    ),
}
#: The parameter that picks the variant of a kind's text.
VARIANT_PARAM = {"decision": "outcome", "appeal_result": "result"}
#: Parameters that hold a calendar day (ISO), and the placeholder each fills.
DATE_PARAMS = {"due_on": "date", "expires_on": "date", "since_on": "since"}
DECISIONS = ("awarded", "partially_awarded", "not_awarded")


def text_for(notification: Notification) -> Text:
    variant = VARIANT_PARAM.get(notification.kind)
    key = f"{notification.kind}:{notification.params.get(variant)}" if variant else notification.kind
    return TEXTS[key]


def dates_of(params: dict[str, Any]) -> dict[str, date]:
    """The date parameters as dates, under the placeholder each fills."""
    return {DATE_PARAMS[k]: date.fromisoformat(v) for k, v in params.items() if k in DATE_PARAMS and v}


def day_of(moment: datetime) -> str:
    """A stored time as the calendar day people see it on (the site's time zone), ISO."""
    from validation.services.evidence_requests import site_zone

    return moment.astimezone(site_zone()).date().isoformat()


def _base_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")


def _wants_email(user: User) -> bool:
    if not user.email:
        return False
    return user.role != "candidate" or profiles.profile_of(user).contact_by_email


def notify(user: User, kind: str, case: Case, **params: Any) -> Notification:
    """One notification for `user` and, if they take e-mail, one message in the outbox, both in this
    transaction; audited with ids and codes only."""
    row = Notification(user_id=user.id, kind=kind, case_id=case.id, params=params, created_at=utcnow())
    db.session.add(row)
    db.session.flush()
    mailed = _wants_email(user)
    if mailed:
        language = user.preferred_language
        assert user.email is not None
        mail.queue(
            user.email,
            language,
            f"notify_{kind}",
            f"notify_{kind}",
            recipient_name=user.display_name,
            case_id=case.id,
            credential_title=case.credential.text("title", language),
            link=f"{_base_url()}/cases/{case.id}",
            **params,
            **dates_of(params),
        )
    # Not attached to the case: the case's timeline tells what happened, not who was told of it.
    audit.record("notification.created", notification_id=row.id, kind=kind, case_id=case.id, user_id=user.id,
                 mailed=mailed)
    return row


def notify_all(users: list[User], kind: str, case: Case, **params: Any) -> list[Notification]:
    """The same notification for several people, once each even if one is named twice."""
    seen: set[int] = set()
    rows = []
    for user in users:
        if user.id not in seen:
            seen.add(user.id)
            rows.append(notify(user, kind, case, **params))
    return rows


# --- who is told -----------------------------------------------------------------------------------------


def coordinators_for(case: Case) -> list[User]:
    """The case's coordinator; else the active coordinators of the candidate's centre; else all of them."""
    if case.coordinator_id is not None:
        coordinator = db.session.get(User, case.coordinator_id)
        if coordinator is not None and coordinator.active:
            return [coordinator]
    statement = select(User).where(User.role == "coordinator", User.active.is_(True)).order_by(User.id)
    centre_id = case.candidate.centre_id
    if centre_id is not None:
        of_centre = list(db.session.execute(statement.where(User.centre_id == centre_id)).scalars())
        if of_centre:
            return of_centre
    return list(db.session.execute(statement).scalars())


def who_acts(case: Case) -> list[User]:
    """Whoever the case waits for: the workflow says which role may move it on from its state (withdrawing
    aside, which is always possible): the candidate, the assessor (the moderator while moderating), or else
    the coordinators."""
    from validation.services import cases
    from validation.services.moderation import MODERATOR_TRIGGERS

    definition = cases.definition_for(case)
    onward = [t for t in definition.triggers_from(case.state) if definition.state(t.dest).outcome != "withdrawn"]
    roles = {role for t in onward for role in t.roles}
    if "candidate" in roles:
        return [case.candidate]
    if "assessor" in roles:
        moderating = {t.trigger for t in onward if "assessor" in t.roles} <= MODERATOR_TRIGGERS
        person_id = case.moderator_id if moderating else case.assessor_id
        person = db.session.get(User, person_id) if person_id is not None else None
        if person is not None and person.active:
            return [person]
    return coordinators_for(case)


# --- the events ------------------------------------------------------------------------------------------


def assessor_assigned(case: Case, assessor: User) -> None:
    """Called by `cases.assign_assessor`."""
    notify(assessor, "assigned", case)


def after_transition(case: Case, trigger: str, destination: str) -> None:
    """Called by `cases.fire` after every transition: tell whoever the change concerns."""
    if trigger == "request_more_evidence":
        notify(case.candidate, "more_evidence", case)
    elif trigger == "appeal":
        notify_all(coordinators_for(case), "appeal_lodged", case)
    elif trigger in ("uphold_appeal", "dismiss_appeal"):
        notify(case.candidate, "appeal_result", case, result="upheld" if trigger == "uphold_appeal" else "dismissed")
    else:
        from validation.services import cases

        outcome = cases.definition_for(case).state(destination).outcome
        if outcome in DECISIONS:
            notify(case.candidate, "decision", case, outcome=outcome)


# --- reading ---------------------------------------------------------------------------------------------


def notifications_of(user: User, limit: int = 100) -> list[Notification]:
    """The newest first."""
    return list(
        db.session.execute(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(limit)
        ).scalars()
    )


#: Read for the top navigation of every signed-in page, so built once, and read plain (a count).
_UNREAD = select(func.count(Notification.id)).where(unread_of(bindparam("user_id")))


def unread_count(user: User) -> int:
    return int(reads.plain(_UNREAD, {"user_id": user.id}).scalar_one())


def mark_all_read(user: User) -> int:
    """Mark every unread notification of `user` read; returns how many were."""
    count = db.session.execute(
        update(Notification)
        .where(unread_of(user.id))
        .values(read_at=utcnow())
    ).rowcount
    count = int(count or 0)
    if count:
        audit.record("notifications.read", actor=user, user_id=user.id, count=count)
    return count

"""The audit trail of a case told in plain language, in the reader's language."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from babel.support import Translations
from flask_babel import get_translations
from markupsafe import Markup, escape
from sqlalchemy import Row

import workflows
from validation.models import AuditEvent, User
from validation.services.audit import facts_of
from validation.web.vocabulary import N_

TRIGGER_SENTENCES = {
    "submit": N_("%(actor)s submitted the portfolio."),
    "start_screening": N_("%(actor)s started screening the case."),
    "return_to_draft": N_("%(actor)s returned the case to the candidate to complete."),
    "accept_for_review": N_("%(actor)s accepted the case for review."),
    "request_more_evidence": N_("%(actor)s asked for more evidence."),
    "resubmit": N_("%(actor)s handed in more evidence."),
    "schedule_interview": N_("%(actor)s scheduled an interview."),
    "finish_interview": N_("%(actor)s recorded the interview as held."),
    "recommend": N_("%(actor)s made a recommendation."),
    "return_for_review": N_("%(actor)s sent the recommendation back for review."),
    "award": N_("%(actor)s awarded the credential in full."),
    "award_partially": N_("%(actor)s awarded the credential in part."),
    "refuse_award": N_("%(actor)s decided not to award the credential."),
    "withdraw": N_("%(actor)s withdrew the case."),
}
#: What the tick did to a case (validation/services/tick.py).
TICK_SENTENCES = {
    "case.marked_overdue": N_("The case passed its due date and is marked overdue."),
    "case.deadline_reminded": N_("A reminder was sent: the case is due soon."),
    "case.draft_warned": N_("The candidate was warned that the unchanged draft will be withdrawn."),
    "case.draft_expired": N_("The draft was withdrawn after a long time without changes."),
}
#: Outcomes carried over from an earlier award (validation/services/stacking.py).
CARRY_OVER_SENTENCES = {
    "carry_over.offered": N_("An outcome already validated in an earlier award was carried over."),
    "carry_over.confirmed": N_("%(actor)s confirmed an outcome validated in an earlier award."),
    "carry_over.rejected": N_("%(actor)s rejected an outcome validated in an earlier award."),
}
#: What became of the case's signed credential (validation/services/credentials.py).
CREDENTIAL_SENTENCES = {
    "credential.issued": N_("The credential was signed and issued."),
    "credential.revoked": N_("%(actor)s revoked the credential."),
    "credential.suspended": N_("%(actor)s suspended the credential."),
    "credential.reinstated": N_("%(actor)s lifted the suspension of the credential."),
}
VERDICTS = {"met": N_("met"), "not_met": N_("not yet met"), "more_evidence": N_("more evidence needed")}


def _in(catalog: Translations) -> Callable[..., str]:
    """gettext on one catalog: a page tells its whole trail in one language, and Flask-Babel's own looks the
    catalog up again (the request, the locale, a cache) for each of the trail's two or three strings per event."""

    def translate(text: str, **variables: object) -> str:
        found = catalog.ugettext(text)
        return found % variables if variables else found

    return translate


def items(timeline: Sequence[AuditEvent | Row[Any]], people: dict[int, User], definition: workflows.Definition
          ) -> Markup:
    """The trail as the case page lists it, each event an <li> with its moment and its sentence, written out in
    one pass: a template loop cost twice the sentences themselves (a call, two dates and an escape per event,
    each through the template's machinery), and a long case has hundreds of events."""
    _ = _in(get_translations())
    return Markup("\n".join(  # noqa: S704 (the sentences are escaped; the dates are digits)
        f'<li><time datetime="{e.occurred_at.isoformat()}">{e.occurred_at.strftime("%Y-%m-%d %H:%M")} UTC</time>'
        f" — {escape(describe(e, people, definition, _))}</li>"
        for e in timeline
    ))


def describe(event: AuditEvent | Row[Any], people: dict[int, User], definition: workflows.Definition,
             _: Callable[..., str] | None = None) -> str:
    """One event as a sentence in the reader's language (`_`: a gettext already bound to their catalog)."""
    _ = _ or _in(get_translations())
    facts = facts_of(event)
    actor = people[event.actor_id].display_name if event.actor_id in people else _("The system")
    if event.action == "case.opened":
        return _("%(actor)s opened the case.", actor=actor)
    if event.action == "case.transition":
        sentence = TRIGGER_SENTENCES.get(facts.get("trigger", ""))
        to_label = _(definition.state(event.to_state).label) if event.to_state in definition.states else ""
        if sentence:
            return _(sentence, actor=actor) + " " + _("Now: %(state)s.", state=to_label)
        return _("%(actor)s moved the case to “%(state)s”.", actor=actor, state=to_label)
    if event.action == "case.assigned":
        if facts.get("previous_assessor_id"):
            return _("%(actor)s assigned another assessor.", actor=actor)
        return _("%(actor)s assigned an assessor.", actor=actor)
    if event.action == "evidence.added":
        return _(
            "%(actor)s added evidence item #%(item)s for %(count)s outcome(s).",
            actor=actor,
            item=facts.get("item_id"),
            count=len(facts.get("outcomes", [])),
        )
    if event.action == "decision.recorded":
        return _(
            "%(actor)s recorded a decision on an outcome: %(verdict)s.",
            actor=actor,
            verdict=_(VERDICTS.get(facts.get("verdict", ""), "")),
        )
    if event.action == "award.issued":
        return _("The award was issued.")
    if event.action in TICK_SENTENCES:
        return _(TICK_SENTENCES[event.action])
    if event.action in CARRY_OVER_SENTENCES:
        return _(CARRY_OVER_SENTENCES[event.action], actor=actor)
    if event.action in CREDENTIAL_SENTENCES:
        return _(CREDENTIAL_SENTENCES[event.action], actor=actor)
    sentence = _referee_or_upload(event.action, facts, actor, _)
    if sentence is not None:
        return sentence
    return _("%(actor)s: %(action)s", actor=actor, action=event.action)


def _referee_or_upload(action: str, facts: dict, actor: str,  # type: ignore[type-arg]
                       _: Callable[..., str]) -> str | None:
    """Attestations asked of referees and resumable uploads, told without names, addresses or file names."""
    if action == "referee.requested":
        return _("%(actor)s asked a referee to confirm %(count)s outcome(s).", actor=actor,
                 count=len(facts.get("outcomes", [])))
    if action == "referee.answered":
        answer = facts.get("answer")
        if answer == "confirmed":
            return _("A referee confirmed the statement: evidence item #%(item)s.", item=facts.get("item_id"))
        if answer == "corrected":
            return _("A referee answered with a correction: evidence item #%(item)s.", item=facts.get("item_id"))
        return _("A referee declined to answer.")
    if action == "referee.cancelled":
        return _("%(actor)s cancelled a request to a referee.", actor=actor)
    megabytes = round(int(facts.get("size") or 0) / 1048576, 1)
    if action == "upload.started":
        return _("%(actor)s started uploading a file of %(size)s MB.", actor=actor, size=megabytes)
    if action == "upload.completed":
        return _("%(actor)s finished uploading a file: evidence item #%(item)s.", actor=actor,
                 item=facts.get("item_id"))
    if action == "upload.refused":
        return _("An uploaded file was refused after %(size)s MB.", size=megabytes)
    if action == "upload.cancelled":
        return _("%(actor)s cancelled an upload after %(size)s MB.", actor=actor, size=megabytes)
    if action == "upload.expired":
        return _("An unfinished upload expired after %(size)s MB.", size=megabytes)
    return None

"""Cases: opening, moving through the workflow, assignment. The only module that changes a case's state."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import selectinload

import workflows
from validation.extensions import db
from validation.models import (
    Case,
    CaseClaim,
    CaseTransition,
    Credential,
    EvidenceItem,
    EvidenceLink,
    User,
    WorkflowVersion,
    utcnow,
)
from validation.models.cases import SELF_ASSESSMENT
from validation.services import access, audit, profiles, queues, reads, reports, stacking, staffing
from validation.services.assessment import DECISION_TRIGGERS, current_decisions
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.definition import top_level_line


def registry_dir() -> str:
    return str(current_app.config["WORKFLOW_DIR"])


def registry() -> workflows.Registry:
    """One registry per app, built once: the shared machines live as long as the process."""
    reg = current_app.extensions.get("workflow_registry")
    if reg is None:
        reg = workflows.Registry.from_directory(registry_dir())
        current_app.extensions["workflow_registry"] = reg
    return reg


def record_version(definition: workflows.Definition) -> None:
    """Store a workflow version's text the first time it is seen; refuse a changed file with the same version."""
    row = db.session.get(WorkflowVersion, (definition.key, definition.version))
    if row is None:
        db.session.add(
            WorkflowVersion(
                key=definition.key,
                version=definition.version,
                digest=definition.digest,
                source_text=definition.source_text,
            )
        )
        db.session.flush()
        audit.record("workflow.version_recorded", key=definition.key, version=definition.version)
    elif row.digest != definition.digest:
        raise workflows.WorkflowError(
            definition.origin,
            top_level_line(definition, "version"),
            f"workflow {definition.key} version {definition.version} differs from the "
            "text first recorded for that version: bump the version",
        )


def definition_for(case: Case) -> workflows.Definition:
    """The definition a case is pinned to; from the database when its file is gone."""
    reg = registry()
    try:
        return reg.get(case.workflow_key, case.workflow_version)
    except LookupError:
        row = db.session.get(WorkflowVersion, (case.workflow_key, case.workflow_version))
        if row is None:
            raise
        reg.add(workflows.parse_definition(row.source_text, f"database:{row.key}@{row.version}"))
        return reg.get(case.workflow_key, case.workflow_version)


def _touch(case: Case) -> None:
    case.updated_at = utcnow()


def check_version(case: Case, expected_version: int | None) -> None:
    """Refuse an action taken on a page that was opened before the case last changed."""
    if expected_version is not None and expected_version != case.lock_version:
        raise Conflict(
            "This case changed since you opened it. Here is its current state; please check and try again."
        )


def open_case(candidate: User, credential_id: int) -> Case:
    """Start a case in its workflow's first state, claiming every outcome of the credential."""
    if candidate.role != "candidate":
        raise Forbidden("Only candidates open cases.")
    profiles.require_consent(candidate)
    credential = db.session.get(Credential, credential_id)
    if credential is None or credential.status != "published":
        raise NotFound("This credential is not open for validation.")
    existing = db.session.execute(
        select(Case.id).where(
            Case.candidate_id == candidate.id, Case.credential_id == credential.id, Case.outcome.is_(None)
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise Conflict("You already have an open case for this credential.")
    definition = registry().latest(credential.workflow_key)
    record_version(definition)
    now = utcnow()
    initial = definition.state(definition.initial)
    case = Case(
        candidate_id=candidate.id,
        credential_id=credential.id,
        workflow_key=definition.key,
        workflow_version=definition.version,
        state=definition.initial,
        submission_round=1,
        opened_at=now,
        state_entered_at=now,
        due_at=now + timedelta(days=initial.sla_days) if initial.sla_days else None,
    )
    for position, outcome in enumerate(credential.outcomes, start=1):
        case.claims.append(CaseClaim(outcome_id=outcome.id, position=position))
    db.session.add(case)
    db.session.flush()
    queues.moved(credential.id, None, case.state)
    audit.record(
        "case.opened",
        actor=candidate,
        case=case,
        to_state=case.state,
        credential_id=credential.id,
        workflow=f"{definition.key}:{definition.version}",
        outcomes_claimed=len(case.claims),
    )
    stacking.offer(case, candidate)
    return case


def claimed(case: Case) -> list[CaseClaim]:
    """The claims the candidate stands by: an outcome self-assessed as "not yet" is left out."""
    return [c for c in case.claims if c.self_assessment != "not_yet"]


def facts(case: Case) -> workflows.CaseFacts:
    """The read-only view that guards judge."""
    claims = {c.outcome_id: c.outcome.code for c in claimed(case)}
    links = db.session.execute(
        select(EvidenceLink.outcome_id, func.count())
        .where(EvidenceLink.case_id == case.id)
        .group_by(EvidenceLink.outcome_id)
    ).all()
    since_request = 0
    if case.submission_round > 1:
        since_request = db.session.execute(
            select(func.count(EvidenceItem.id)).where(
                EvidenceItem.case_id == case.id, EvidenceItem.submission_round == case.submission_round
            )
        ).scalar_one()
    evidence_by_outcome = {claims[o]: n for o, n in links if o in claims}
    # An outcome validated in an earlier award (carried over, not rejected) has that award as its evidence.
    for o in stacking.covering_outcomes(case.id):
        if o in claims:
            evidence_by_outcome[claims[o]] = evidence_by_outcome.get(claims[o], 0) + 1
    decisions = current_decisions(case.id)
    from validation.services import appeals, moderation

    return workflows.CaseFacts(
        state=case.state,
        claimed_outcomes=tuple(claims.values()),
        evidence_by_outcome=evidence_by_outcome,
        assessor_assigned=case.assessor_id is not None,
        decisions={claims[o]: d.verdict for o, d in decisions.items() if o in claims},
        items_since_request=int(since_request),
        unclaimed_outcomes=tuple(c.outcome.code for c in case.claims if c.self_assessment == "not_yet"),
        **moderation.facts_for(case),  # type: ignore[arg-type]
        **appeals.facts_for(case),  # type: ignore[arg-type]
    )


def available_actions(case: Case, user: User) -> list[workflows.Transition]:
    """The transitions this user could fire now (guards are judged when fired, with their reasons)."""
    if not access.may_act_on_case(user, case):
        return []
    return definition_for(case).available(case.state, user.role)


def evidence_open(case: Case) -> bool:
    return case.outcome is None and definition_for(case).state(case.state).evidence_open


def fire(
    case_id: int, trigger: str, actor: User, reason: str | None = None, expected_version: int | None = None
) -> Case:
    """Move a case by one transition, with every effect the new state brings, and audit it."""
    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    if trigger != "withdraw":
        # Withdrawing stays possible without consent: it is how a person stops the processing.
        profiles.require_consent(actor)
    definition = definition_for(case)
    reason = (reason or "").strip() or None
    source = case.state
    destination = registry().fire(
        case.workflow_key, case.workflow_version, facts(case), trigger, actor.role, reason
    )
    _check_assessor(case, trigger, actor)
    _apply(case, definition, source, destination, actor)
    sequence = db.session.execute(
        select(func.count(CaseTransition.id)).where(CaseTransition.case_id == case.id)
    ).scalar_one()
    db.session.add(
        CaseTransition(
            case_id=case.id,
            sequence=sequence + 1,
            trigger=trigger,
            from_state=source,
            to_state=destination,
            actor_id=actor.id,
            reason=reason,
        )
    )
    audit.record(
        "case.transition",
        actor=actor,
        case=case,
        from_state=source,
        to_state=destination,
        trigger=trigger,
        with_reason=reason is not None,
    )
    from validation.services import appeals, awards, moderation

    if definition.state(destination).outcome is not None:
        # A new decision: an award from an earlier one (before an upheld appeal) is no longer in force.
        awards.supersede(case, actor)
        if case.outcome in ("awarded", "partially_awarded"):
            awards.issue(case, actor)
    moderation.after_transition(case, trigger, source, destination, actor)
    appeals.after_transition(case, trigger, source, reason, actor)
    _notify_transition(case, trigger, destination)
    return case


def _notify_transition(case: Case, trigger: str, destination: str) -> None:
    """Tell whoever the transition concerns (see services/notifications.py), in the same transaction."""
    from validation.services import notifications

    notifications.after_transition(case, trigger, destination)


def _check_assessor(case: Case, trigger: str, actor: User) -> None:
    """Among assessors, the moderator fires the moderation's transitions and the assigned assessor the rest."""
    from validation.services.moderation import MODERATOR_TRIGGERS

    if actor.role != "assessor":
        return
    if trigger in MODERATOR_TRIGGERS:
        if case.moderator_id != actor.id:
            raise Forbidden("Only the moderator of this case agrees or disagrees with its recommendation.")
    elif case.assessor_id != actor.id:
        raise Forbidden("This case is not assigned to you.")


def _apply(case: Case, definition: workflows.Definition, source: str, destination: str, actor: User) -> None:
    now = utcnow()
    was_open = definition.state(source).evidence_open
    target = definition.state(destination)
    # The kept counts and the stay just ended first, before the case itself changes: their statements would
    # otherwise flush a half-changed case, and each flush moves its version on.
    queues.moved(case.credential_id, source, destination)
    reports.left_state(case, definition.state(source).stage, target.stage, now)
    if target.outcome is not None:
        reports.decided(case, target.outcome, now)
    if was_open and not target.evidence_open and not target.closes:
        # Handing the portfolio in freezes every item of this round.
        for item in db.session.execute(
            select(EvidenceItem).where(EvidenceItem.case_id == case.id, EvidenceItem.submitted_at.is_(None))
        ).scalars():
            item.submitted_at = now
        case.submitted_at = case.submitted_at or now
    if target.evidence_open and not was_open:
        case.submission_round += 1
        case.evidence_requested_at = now
    case.state = destination
    case.state_entered_at = now
    case.due_at = now + timedelta(days=target.sla_days) if target.sla_days and not target.terminal else None
    if target.outcome is not None:
        case.outcome = target.outcome
        case.closed_at = now
        awarding = target.outcome in ("awarded", "partially_awarded")
        case.awarded_at = now if awarding else None
        case.awarded_by_id = actor.id if awarding else None
    elif not target.keeps_outcome and case.outcome is not None:
        # An upheld appeal: the case is open again until its new decision.
        case.outcome = None
        case.closed_at = None
        case.awarded_at = None
        case.awarded_by_id = None
    case.decisions_open = target.outcome is None and any(
        t.trigger in DECISION_TRIGGERS for t in definition.triggers_from(destination)
    )
    _touch(case)


def set_self_assessment(
    case_id: int,
    outcome_id: int,
    actor: User,
    level: str,
    story: str | None,
    expected_version: int | None = None,
) -> CaseClaim:
    """The candidate's own view of one outcome, while they are still choosing what to claim."""
    if actor.role != "candidate":
        raise Forbidden("Only the candidate assesses themselves.")
    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    if case.outcome is not None or definition_for(case).state(case.state).stage != "identification":
        raise Conflict("The self-assessment can only be changed before the portfolio is submitted.")
    claim = db.session.get(CaseClaim, (case.id, outcome_id))
    if claim is None:
        raise Invalid("This learning outcome is not part of the case.")
    if level not in SELF_ASSESSMENT:
        raise Invalid("Choose how confident you are: confident, partly or not yet.")
    claim.self_assessment = level
    claim.story = (story or "").strip() or None
    _touch(case)
    db.session.flush()
    audit.record(
        "claim.self_assessed",
        actor=actor,
        case=case,
        outcome_id=outcome_id,
        level=level,
        with_story=claim.story is not None,
    )
    return claim


def assign_assessor(case_id: int, assessor_id: int, actor: User, expected_version: int | None = None) -> Case:
    """Give a case to an assessor; the previous one, if any, loses access at once."""
    if actor.role != "coordinator":
        raise Forbidden("Only coordinators assign assessors.")
    case = access.case_to_act_on(actor, case_id)
    check_version(case, expected_version)
    if not case.is_open and case.state != "appealed":
        raise Conflict("This case is closed; it can no longer be assigned.")
    assessor = db.session.get(User, assessor_id)
    if assessor is None or assessor.role != "assessor" or not assessor.active:
        raise Invalid("Choose an active assessor.")
    if case.candidate_id == assessor.id:
        raise Invalid("A person cannot assess their own case.")
    if case.moderator_id == assessor.id:
        raise Invalid("The moderator of this case cannot also be its assessor.")
    previous = case.assessor_id
    if previous == assessor.id:
        return case
    staffing.require_qualified(assessor, case)
    case.assessor_id = assessor.id
    case.coordinator_id = actor.id
    _touch(case)
    audit.record(
        "case.assigned", actor=actor, case=case, assessor_id=assessor.id, previous_assessor_id=previous
    )
    _notify_assigned(case, assessor)
    return case


def _notify_assigned(case: Case, assessor: User) -> None:
    """The assessor hears of their new case (see services/notifications.py), in the same transaction."""
    from validation.services import notifications

    notifications.assessor_assigned(case, assessor)


_TRANSITIONS_OF = (
    select(CaseTransition.id, CaseTransition.case_id, CaseTransition.sequence, CaseTransition.trigger,
           CaseTransition.from_state, CaseTransition.to_state, CaseTransition.actor_id, CaseTransition.reason,
           CaseTransition.created_at)
    .where(CaseTransition.case_id == bindparam("case_id"))
    .order_by(CaseTransition.sequence)
)


def transitions_of(case_id: int) -> list[Row[Any]]:
    """The case's moves, oldest first, as plain rows named as the transitions' columns (read only, as
    `audit.events_for_case`): who made one is in the page's people, by `actor_id`."""
    return list(reads.plain(_TRANSITIONS_OF, {"case_id": case_id}))


def counts_by_state() -> Counter[str]:
    """Cases per state, from the counts kept with every change of state (see `queues`)."""
    return queues.counts()


def cases_in_state(state: str | None, limit: int = 200) -> list[Case]:
    statement = select(Case).order_by(Case.state_entered_at).limit(limit)
    if state:
        statement = statement.where(Case.state == state)
    return list(db.session.execute(statement).scalars())


def cases_of_candidate(candidate: User) -> list[Case]:
    return list(
        db.session.execute(
            select(Case)
            .where(Case.candidate_id == candidate.id)
            .options(selectinload(Case.credential))
            .order_by(Case.opened_at.desc())
        ).scalars()
    )


def cases_of_assessor(assessor: User) -> list[Case]:
    return list(
        db.session.execute(
            select(Case)
            .where(Case.assessor_id == assessor.id)
            .order_by(Case.outcome.is_not(None), Case.due_at)
        ).scalars()
    )

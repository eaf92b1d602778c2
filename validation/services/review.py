"""The assessor's workspace: their desk, the declaration of interest, doubts about evidence, accepting all.

An assessor (or a moderator) declares, before first opening a case, whether they know the candidate: a
judgement by someone who knows the person is not independent. A declared conflict takes them off the case
at once and the coordinator, who sees why, assigns someone else. The desk tells each assessor what waits
on them in every case, in a fixed number of queries however many cases they have.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import selectinload

import workflows
from validation.extensions import db
from validation.models import (
    Case,
    CaseTransition,
    ConflictDeclaration,
    EvidenceDoubt,
    EvidenceItem,
    Interview,
    OutcomeDecision,
    User,
    utcnow,
)
from validation.models.assessment import EVIDENCE_RULES
from validation.services import access, assessment, audit, presence
from validation.services.errors import Conflict, Forbidden, Invalid, NotFound

if TYPE_CHECKING:
    from validation.services.case_view import CaseView

#: Stored with each decision made by "accept every outcome as met". It is data, kept in English like every
#: stored text; the pages translate it when they show it (see `is_default_rationale`).
DEFAULT_RATIONALE = "The evidence shows every criterion of this outcome."
#: How long a closed case stays on the desk, so the assessor sees where their last cases ended.
RECENTLY_CLOSED_DAYS = 30
RECENTLY_CLOSED_LIMIT = 5
#: The transitions the moderator fires; every other assessor transition is the assigned assessor's.
MODERATOR_TRIGGERS = frozenset({"agree", "disagree"})
FINAL_VERDICTS = frozenset({"met", "not_met"})


# --- conflict of interest -----------------------------------------------------------------------------


def _part(user: User, case: Case) -> str | None:
    """Whether this user assesses or moderates the case (they never do both: a constraint says so)."""
    if user.role != "assessor":
        return None
    if case.assessor_id == user.id:
        return "assessor"
    if case.moderator_id == user.id:
        return "moderator"
    return None


def _still_worked_on(case: Case, state: workflows.State) -> bool:
    """A case someone still judges: open, or decided but under appeal. A closed one needs no declaration."""
    if state.terminal:
        return False
    return case.outcome is None or state.keeps_outcome


def _declared_without_conflict(latest: ConflictDeclaration | bool | None) -> bool:
    """The newest declaration says "no conflict". After a conflict the person was taken off the case, so if
    they are on it again they were assigned anew and are asked again."""
    if latest is None:
        return False
    has_conflict = latest if isinstance(latest, bool) else latest.has_conflict
    return not has_conflict


# Read by the case page of every member of staff, so built once.
_DECLARATIONS_OF = (
    select(ConflictDeclaration)
    .where(ConflictDeclaration.case_id == bindparam("case_id"))
    .order_by(ConflictDeclaration.id.desc())
)
_DOUBTS_OF = select(EvidenceDoubt).where(EvidenceDoubt.case_id == bindparam("case_id")).order_by(EvidenceDoubt.id)


def latest_declaration(case_id: int, user_id: int) -> ConflictDeclaration | None:
    return db.session.execute(
        select(ConflictDeclaration)
        .where(ConflictDeclaration.case_id == case_id, ConflictDeclaration.assessor_id == user_id)
        .order_by(ConflictDeclaration.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def needs_declaration(user: User, case: Case) -> bool:
    """True when this assessor or moderator must say whether they know the candidate before seeing more."""
    from validation.services.cases import definition_for

    if _part(user, case) is None:
        return False
    if not _still_worked_on(case, definition_for(case).state(case.state)):
        return False
    return not _declared_without_conflict(latest_declaration(case.id, user.id))


def declare(
    case_id: int, actor: User, has_conflict: bool, reason: str | None, expected_version: int | None = None
) -> ConflictDeclaration:
    """Record whether the assessor or moderator knows the candidate; a conflict takes them off the case.

    Only a conflict changes the case (and so its version): a "no conflict" changes nothing anyone else
    has open, so it does not make their pages stale.
    """
    from validation.services.cases import check_version

    if actor.role != "assessor":
        raise Forbidden("Only the assessor or the moderator of a case declares whether they know the candidate.")
    case = access.case_to_act_on(actor, case_id)
    part = _part(actor, case)
    if part is None:
        raise Forbidden("Only the assessor or the moderator of a case declares whether they know the candidate.")
    check_version(case, expected_version)
    reason = (reason or "").strip() or None
    if has_conflict and reason is None:
        raise Invalid("Say how you know the candidate, so that the coordinator can assign someone else.")
    declaration = ConflictDeclaration(
        case_id=case.id, assessor_id=actor.id, has_conflict=has_conflict, reason=reason if has_conflict else None
    )
    db.session.add(declaration)
    if has_conflict:
        if part == "assessor":
            case.assessor_id = None
        else:
            case.moderator_id = None
        case.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "case.conflict_declared", actor=actor, case=case, declaration_id=declaration.id,
        has_conflict=has_conflict, part=part,
    )
    return declaration


# --- the desk -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One thing waiting on the assessor, as a code the page words in the reader's language."""

    #: declare, appeal, moderate, interview, new_evidence, decide, recommend
    code: str
    count: int = 0
    when: datetime | None = None


@dataclass
class DeskRow:
    case: Case
    state: workflows.State
    #: "assessor" or "moderator": the person's part in this case.
    part: str
    #: What waits on this person, most pressing first; empty when the case waits on someone else.
    tasks: list[Task] = field(default_factory=list)
    #: Who the case waits on otherwise: candidate, coordinator or moderator (None when closed).
    waiting_for: str | None = None


@dataclass
class Desk:
    #: Cases with something to do for this person, the soonest due first.
    mine: list[DeskRow]
    #: Their cases waiting on someone else, the soonest due first.
    others: list[DeskRow]
    #: Their cases closed recently, the newest first.
    closed: list[DeskRow]


def _appeal_states() -> set[str]:
    """States in which a decided case is still worked on (an appeal), in every known workflow."""
    from validation.services.cases import registry

    reg = registry()
    keys = reg.keys()  # a registry, not a dict: its keys are the workflow keys
    return {
        name
        for key in keys
        for name, state in reg.latest(key).states.items()
        if state.keeps_outcome and not state.terminal
    }


def _due_order(row: DeskRow) -> tuple[bool, datetime, int]:
    due = row.case.due_at
    return (due is None, due or datetime.min, row.case.id)


def desk(user: User) -> Desk:
    """The assessor's cases and what waits on them, in a fixed number of queries whatever their number."""
    from validation.services.cases import definition_for

    now = utcnow()
    mine_clause = or_(Case.assessor_id == user.id, Case.moderator_id == user.id)
    active = list(
        db.session.execute(
            select(Case)
            .where(mine_clause, or_(Case.outcome.is_(None), Case.state.in_(_appeal_states())))
            .options(selectinload(Case.candidate), selectinload(Case.credential), selectinload(Case.claims))
        ).scalars()
    )
    recent = list(
        db.session.execute(
            select(Case)
            .where(
                mine_clause,
                Case.outcome.is_not(None),
                Case.state.not_in(_appeal_states()),
                Case.closed_at >= now - timedelta(days=RECENTLY_CLOSED_DAYS),
            )
            .options(selectinload(Case.candidate), selectinload(Case.credential))
            .order_by(Case.closed_at.desc(), Case.id.desc())
            .limit(RECENTLY_CLOSED_LIMIT)
        ).scalars()
    )
    facts = _DeskFacts.load(user, active)
    mine: list[DeskRow] = []
    others: list[DeskRow] = []
    for case in active:
        definition = definition_for(case)
        row = DeskRow(case, definition.state(case.state), "assessor" if case.assessor_id == user.id else "moderator")
        if not _still_worked_on(case, row.state):
            continue  # a terminal state reached through an appeal: shown among the closed ones, if recent
        row.tasks = facts.tasks(row, definition)
        if row.tasks:
            mine.append(row)
        else:
            row.waiting_for = _waiting_for(row, definition)
            others.append(row)
    closed = [
        DeskRow(c, definition_for(c).state(c.state), "assessor" if c.assessor_id == user.id else "moderator")
        for c in recent
    ]
    return Desk(sorted(mine, key=_due_order), sorted(others, key=_due_order), closed)


@dataclass
class _DeskFacts:
    """What the desk needs beyond the cases, fetched for all of them at once (one query each)."""

    declared: dict[int, bool]
    verdicts: dict[int, dict[int, str]]
    new_items: dict[int, int]
    interviews: dict[int, datetime]

    @classmethod
    def load(cls, user: User, cases: list[Case]) -> _DeskFacts:
        ids = [c.id for c in cases]
        if not ids:
            return cls({}, {}, {}, {})
        declared: dict[int, bool] = {}
        for case_id, has_conflict in db.session.execute(
            select(ConflictDeclaration.case_id, ConflictDeclaration.has_conflict)
            .where(ConflictDeclaration.assessor_id == user.id, ConflictDeclaration.case_id.in_(ids))
            .order_by(ConflictDeclaration.id)
        ):
            declared[case_id] = has_conflict  # the newest wins
        newest = (
            select(func.max(OutcomeDecision.id))
            .where(OutcomeDecision.case_id.in_(ids), assessment.standing())
            .group_by(OutcomeDecision.case_id, OutcomeDecision.outcome_id)
        )
        verdicts: dict[int, dict[int, str]] = defaultdict(dict)
        for case_id, outcome_id, verdict in db.session.execute(
            select(OutcomeDecision.case_id, OutcomeDecision.outcome_id, OutcomeDecision.verdict).where(
                OutcomeDecision.id.in_(newest)
            )
        ):
            verdicts[case_id][outcome_id] = verdict
        new_items = {
            case_id: int(n)
            for case_id, n in db.session.execute(
                select(EvidenceItem.case_id, func.count(EvidenceItem.id))
                .join(Case, Case.id == EvidenceItem.case_id)
                .where(
                    EvidenceItem.case_id.in_(ids),
                    Case.submission_round > 1,
                    EvidenceItem.submission_round == Case.submission_round,
                )
                .group_by(EvidenceItem.case_id)
            )
        }
        interviews = {
            case_id: when
            for case_id, when in db.session.execute(
                select(Interview.case_id, func.min(Interview.scheduled_for))
                .where(Interview.case_id.in_(ids), Interview.held_at.is_(None))
                .group_by(Interview.case_id)
            )
        }
        return cls(declared, dict(verdicts), new_items, interviews)

    def tasks(self, row: DeskRow, definition: workflows.Definition) -> list[Task]:
        case = row.case
        if not _declared_without_conflict(self.declared.get(case.id)):
            return [Task("declare")]
        mine = _my_triggers(row, definition)
        if not mine:
            return []
        if row.part == "moderator":
            return [Task("moderate")]
        tasks: list[Task] = []
        if mine & {"uphold_appeal", "dismiss_appeal"}:
            tasks.append(Task("appeal"))
        if "finish_interview" in mine:
            tasks.append(Task("interview", when=self.interviews.get(case.id)))
        if self.new_items.get(case.id):
            tasks.append(Task("new_evidence", count=self.new_items[case.id]))
        if "recommend" in mine:
            decided = self.verdicts.get(case.id, {})
            open_outcomes = sum(
                1
                for c in case.claims
                if c.self_assessment != "not_yet" and decided.get(c.outcome_id) not in FINAL_VERDICTS
            )
            tasks.append(Task("decide", count=open_outcomes) if open_outcomes else Task("recommend"))
        return tasks or [Task("act")]


def _my_triggers(row: DeskRow, definition: workflows.Definition) -> set[str]:
    """The transitions this person's part may fire from the case's state."""
    return {
        t.trigger
        for t in definition.available(row.case.state, "assessor")
        if (t.trigger in MODERATOR_TRIGGERS) == (row.part == "moderator")
    }


def _waiting_for(row: DeskRow, definition: workflows.Definition) -> str:
    if row.state.evidence_open:
        return "candidate"
    if any(t.trigger in MODERATOR_TRIGGERS for t in definition.triggers_from(row.case.state)):
        return "moderator"
    return "coordinator"


# --- doubts about evidence ----------------------------------------------------------------------------


def assigned_assessor_case(actor: User, case_id: int, expected_version: int | None, refusal: str) -> Case:
    """The case, if the actor is its assigned assessor, the page is current and decisions are open."""
    from validation.services.cases import check_version

    if actor.role != "assessor":
        raise Forbidden(refusal)
    case = access.case_to_act_on(actor, case_id)
    if case.assessor_id != actor.id:
        raise Forbidden(refusal)
    if needs_declaration(actor, case):
        raise Forbidden("Say first whether you know the candidate: open the case to answer.")
    check_version(case, expected_version)
    if not assessment.decisions_open(case):
        raise Conflict("This can only be done while the case is under review.")
    return case


def add_doubt(
    case_id: int, item_id: int, actor: User, rule: str, note: str | None, expected_version: int | None = None
) -> EvidenceDoubt:
    """Record the assessor's doubt about one item against one rule of evidence, where it arises.

    The note stays in the doubt; the audit event says only which item and which rule.
    """
    case = assigned_assessor_case(
        actor, case_id, expected_version, "Only the assigned assessor records doubts about the evidence."
    )
    item = db.session.get(EvidenceItem, item_id)
    if item is None or item.case_id != case.id:
        raise NotFound("There is no such evidence item in this case.")
    if rule not in EVIDENCE_RULES:
        raise Invalid("Choose one rule of evidence: valid, authentic, current or sufficient.")
    note = (note or "").strip()
    if not note:
        raise Invalid("Write what makes you doubt this evidence.")
    doubt = EvidenceDoubt(
        case_id=case.id, item_id=item.id, assessor_id=actor.id, rule=rule, note=note,
        submission_round=case.submission_round,
    )
    db.session.add(doubt)
    case.updated_at = utcnow()
    db.session.flush()
    audit.record("evidence.doubted", actor=actor, case=case, doubt_id=doubt.id, item_id=item.id, rule=rule)
    return doubt


# --- accept every outcome as met ----------------------------------------------------------------------


def open_outcomes(case: Case) -> list[int]:
    """The claimed outcomes without a current "met" decision, in the case's order."""
    decisions = assessment.current_decisions(case.id)
    return [
        c.outcome_id
        for c in case.claims
        if c.self_assessment != "not_yet"
        and getattr(decisions.get(c.outcome_id), "verdict", None) != "met"
    ]


def accept_all(case_id: int, actor: User, expected_version: int | None = None) -> list[OutcomeDecision]:
    """Record "met" for every claimed outcome not yet met: one decision and one audit event per outcome.

    The version is checked once, before the first decision: each decision moves it on.
    """
    case = assigned_assessor_case(actor, case_id, expected_version, "Only the assigned assessor records decisions.")
    decisions = []
    for claim_outcome in open_outcomes(case):
        claim = next(c for c in case.claims if c.outcome_id == claim_outcome)
        decisions.append(
            assessment.record_decision(
                case.id, claim_outcome, actor, "met", DEFAULT_RATIONALE, range(len(claim.outcome.criteria))
            )
        )
    return decisions


# --- what the case page shows of the review ------------------------------------------------------------


@dataclass
class ReviewPanel:
    """What the review part of the case page needs beyond the case view, for this reader."""

    #: Declarations of interest, newest first: coordinators and admins see them, with the reasons.
    declarations: list[ConflictDeclaration]
    #: Doubts about the evidence by item id, oldest first: staff see them.
    doubts: dict[int, list[EvidenceDoubt]]
    people: dict[int, User]


def panel(user: User, view: CaseView) -> ReviewPanel:
    """Declarations and doubts of a case for the people allowed to see them, in at most three queries."""
    case = view.case
    declarations: list[ConflictDeclaration] = []
    if user.role in ("coordinator", "admin") and not presence.empty(case.id, "conflict_declarations"):
        declarations = list(db.session.execute(_DECLARATIONS_OF, {"case_id": case.id}).scalars())
    doubts: dict[int, list[EvidenceDoubt]] = defaultdict(list)
    if user.is_staff and not presence.empty(case.id, "evidence_doubts"):
        for doubt in db.session.execute(_DOUBTS_OF, {"case_id": case.id}).scalars():
            doubts[doubt.item_id].append(doubt)
    ids = {d.assessor_id for d in declarations} | {d.assessor_id for rows in doubts.values() for d in rows}
    ids -= view.people.keys()
    people = dict(view.people)
    if ids:
        people.update({u.id: u for u in db.session.execute(select(User).where(User.id.in_(ids))).scalars()})
    return ReviewPanel(declarations, dict(doubts), people)


def new_since_request(view: CaseView) -> list[EvidenceItem]:
    """The items handed in since the assessor asked for more: those of the current round after the first."""
    if view.case.submission_round <= 1:
        return []
    return [i for i in view.items if i.submission_round == view.case.submission_round]


def self_assessment_summary(view: CaseView) -> dict[str, list[str]]:
    """The outcome codes by the candidate's own rating: confident, partly, not yet, or not given."""
    summary: dict[str, list[str]] = {"confident": [], "partly": [], "not_yet": [], "none": []}
    for cv in view.claims:
        summary[cv.claim.self_assessment or "none"].append(cv.claim.outcome.code)
    return summary


def open_codes(view: CaseView) -> list[str]:
    """The claimed outcomes that "accept every outcome as met" would record, by code (see `open_outcomes`)."""
    return [
        cv.claim.outcome.code
        for cv in view.claims
        if cv.claim.self_assessment != "not_yet" and getattr(cv.decision, "verdict", None) != "met"
    ]


def decision_reason(view: CaseView) -> CaseTransition | None:
    """The reason given with the decision that closed the case (a refusal always has one), if any."""
    outcome_states = {name for name, s in view.definition.states.items() if s.outcome == view.case.outcome}
    last = next((t for t in reversed(view.transitions) if t.to_state in outcome_states), None)
    return last if last is not None and last.reason else None

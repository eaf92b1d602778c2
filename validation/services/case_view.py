"""Everything a case page shows, gathered in a fixed number of queries (no query per row)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, bindparam, inspect, select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

import workflows
from validation.extensions import db
from validation.models import (
    Appeal,
    Award,
    CandidateProfile,
    CarriedOutcome,
    Case,
    CaseClaim,
    CaseTransition,
    EvidenceItem,
    EvidenceLink,
    Moderation,
    ModerationView,
    OutcomeDecision,
    RefereeRequest,
    UploadSession,
    User,
)
from validation.services import (
    access,
    appeals,
    assessment,
    audit,
    awards,
    cases,
    evidence,
    intake,
    moderation,
    presence,
    reads,
    stacking,
)

T = TypeVar("T")


@dataclass
class ClaimView:
    claim: CaseClaim
    items: list[EvidenceItem] = field(default_factory=list)
    decision: OutcomeDecision | None = None
    #: The case's current submission round, to tell new evidence from what the assessor has seen.
    round: int = 1
    #: The earlier award that validated this outcome already (services/stacking.py), if any.
    carried: CarriedOutcome | None = None

    @property
    def carried_covers(self) -> bool:
        """An earlier award stands for this outcome's evidence: carried over and not rejected."""
        return self.carried is not None and self.carried.status in stacking.COVERING

    @property
    def coverage(self) -> str:
        """Where this outcome stands in the portfolio, for the coverage table.

        left_out: marked "not yet", needs nothing; carried: no evidence added, but an earlier award that
        validated it stands for it; missing: no evidence at all; more_requested: the assessor asked for more
        and nothing new has been added since; covered: evidence is there.
        """
        if self.claim.self_assessment == "not_yet":
            return "left_out"
        if not self.items:
            return "carried" if self.carried_covers else "missing"
        if (
            self.decision is not None
            and self.decision.verdict == "more_evidence"
            and not any(i.submission_round == self.round for i in self.items)
        ):
            return "more_requested"
        return "covered"

    def kinds(self) -> dict[str, int]:
        """How many items of each kind support this outcome (file, statement, link, attestation)."""
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        return counts


@dataclass
class Round:
    """One submission round of the portfolio: frozen once submitted, never overwritten."""

    number: int
    items: list[EvidenceItem]
    submitted_at: datetime | None


@dataclass
class CaseView:
    case: Case
    definition: workflows.Definition
    state: workflows.State
    claims: list[ClaimView]
    items: list[EvidenceItem]
    actions: list[workflows.Transition]
    #: The case's moves and its audit trail, as plain rows (cases.transitions_of, audit.events_for_case).
    transitions: list[Row[Any]]
    timeline: list[Row[Any]]
    people: dict[int, User]
    award: Award | None
    evidence_open: bool
    decisions_open: bool
    may_add_evidence: bool
    may_decide: bool
    may_assign: bool
    gaps: list[str]
    self_assessment_open: bool
    #: The last reason given that led to the current state (e.g. the request for more evidence).
    message: Row[Any] | None
    #: Candidates see decisions once the assessor asks for more or the case is closed; staff always.
    show_decisions: bool
    #: The candidate's profile, for staff (a plain row): coordinators see all of it, assessors only
    #: accessibility needs.
    profile: Row[Any] | None
    #: Attestations asked of referees, newest first (the owner and staff see them).
    referee_requests: list[RefereeRequest] = field(default_factory=list)
    #: The owner's resumable uploads still receiving bytes, so an interrupted one can be resumed.
    uploads: list[UploadSession] = field(default_factory=list)
    #: The candidate's intake answers with their questionnaire, for the staff who work on the case.
    intake: tuple[object, object] | None = None
    #: Staff see the intake section (answered or not); candidates see their own on their home page.
    show_intake: bool = False
    #: The moderation record of the latest recommendation, with the moderator's newest view per outcome.
    moderation: Moderation | None = None
    moderation_views: dict[int, ModerationView] = field(default_factory=dict)
    #: Every moderation record of the case, oldest first (what the sampling rule said each time).
    moderation_history: list[Moderation] = field(default_factory=list)
    #: This user moderates the case's recommendation now.
    is_moderator: bool = False
    #: Appeals against the case's decisions, oldest first, and until when a new one may be lodged.
    appeals: list[Appeal] = field(default_factory=list)
    appeal_deadline: datetime | None = None
    #: Outcomes validated in an earlier award, carried over into this case, by outcome id.
    carried: dict[int, CarriedOutcome] = field(default_factory=dict)

    @property
    def stages(self) -> list[tuple[str, bool, bool]]:
        """Each stage with (name, done, current) for the progress line."""
        return _stages(self.state)

    @property
    def rounds(self) -> list[Round]:
        """The portfolio by submission round, newest first: every earlier version stays visible."""
        by_round: dict[int, list[EvidenceItem]] = defaultdict(list)
        for item in self.items:
            by_round[item.submission_round].append(item)
        return [
            Round(n, by_round[n], next((i.submitted_at for i in by_round[n] if i.submitted_at), None))
            for n in sorted(by_round, reverse=True)
        ]

    @property
    def outcome_codes(self) -> dict[int, str]:
        return {c.claim.outcome_id: c.claim.outcome.code for c in self.claims}

    def outcomes_of(self, item: EvidenceItem) -> list[str]:
        """The codes of the outcomes an item supports, in the case's order."""
        return [c.claim.outcome.code for c in self.claims if item in c.items]


# What every case page reads, built once: building a statement (and its cache key) costs more than running it.
_CLAIMS = (
    select(CaseClaim)
    .options(joinedload(CaseClaim.outcome))
    .where(CaseClaim.case_id == bindparam("case_id"))
    .order_by(CaseClaim.position)
)
_LINKS = select(EvidenceLink).where(EvidenceLink.case_id == bindparam("case_id"))
#: What staff read of the candidate's profile on the case page, as a plain row.
_PROFILE = select(
    CandidateProfile.target_group, CandidateProfile.contact_by_email, CandidateProfile.contact_by_phone,
    CandidateProfile.phone, CandidateProfile.accessibility_needs,
).where(CandidateProfile.user_id == bindparam("user_id"))
_PEOPLE = select(User).where(User.id.in_(bindparam("ids", expanding=True)))
_REFEREE_REQUESTS = (
    select(RefereeRequest).where(RefereeRequest.case_id == bindparam("case_id")).order_by(RefereeRequest.id.desc())
)


def build(user: User, case_id: int) -> CaseView:
    case = access.case_for(user, case_id)
    # Which optional records the case has at all: the reads below of those it has none of cost nothing.
    presence.probe(case.id, case.candidate_id)
    # The claims with their outcomes in one query, rather than one query per outcome as the page reads them.
    if "claims" in inspect(case).unloaded:
        claims = db.session.execute(_CLAIMS, {"case_id": case.id}).scalars().all()
        set_committed_value(case, "claims", list(claims))
    definition = cases.definition_for(case)
    items = evidence.items_of(case.id)
    by_item = {i.id: i for i in items}
    links = db.session.execute(_LINKS, {"case_id": case.id}).scalars().all() if items else []
    items_by_outcome: dict[int, list[EvidenceItem]] = defaultdict(list)
    for link in links:
        items_by_outcome[link.outcome_id].append(by_item[link.item_id])
    decisions = assessment.current_decisions(case.id)
    carried = stacking.carried_of(case.id)
    claims = [
        ClaimView(
            c,
            sorted(items_by_outcome.get(c.outcome_id, []), key=lambda i: i.id),
            decisions.get(c.outcome_id),
            case.submission_round,
            carried.get(c.outcome_id),
        )
        for c in case.claims
    ]
    timeline = audit.events_for_case(case.id)
    transitions = cases.transitions_of(case.id)
    people_ids = {e.actor_id for e in timeline if e.actor_id} | {t.actor_id for t in transitions}
    people_ids |= {d.assessor_id for d in decisions.values()}
    # The candidate and the assessor too: the page names them, and a many-to-one already in the session is
    # not loaded again.
    people_ids |= {i for i in (case.candidate_id, case.assessor_id) if i is not None}
    people = (
        {u.id: u for u in db.session.execute(_PEOPLE, {"ids": list(people_ids)}).scalars()} if people_ids else {}
    )
    open_for_evidence = cases.evidence_open(case)
    decisions_open = assessment.decisions_open(case)
    acting = access.may_act_on_case(user, case)
    moderation_history = moderation.history(case.id)
    current_moderation = moderation_history[-1] if moderation_history else None  # the latest recommendation's
    is_moderator = user.role == "assessor" and case.moderator_id == user.id
    sees_decisions = moderation.may_see_decisions(user, case)
    return CaseView(
        case=case,
        definition=definition,
        state=definition.state(case.state),
        claims=claims,
        items=items,
        actions=cases.available_actions(case, user),
        transitions=transitions,
        timeline=timeline,
        people=people,
        award=awards.award_for_case(case.id),
        evidence_open=open_for_evidence,
        decisions_open=decisions_open,
        may_add_evidence=acting and user.role == "candidate" and open_for_evidence,
        may_decide=acting and user.role == "assessor" and decisions_open and case.assessor_id == user.id,
        may_assign=acting and user.role == "coordinator" and (case.is_open or case.state == "appealed"),
        gaps=[c.claim.outcome.code for c in claims if c.coverage == "missing"],
        profile=reads.plain(_PROFILE, {"user_id": case.candidate_id}).one_or_none() if user.is_staff else None,
        message=_current_message(case, [t for t in transitions if t.reason]),
        show_decisions=sees_decisions and (
            user.role != "candidate" or not case.is_open or (open_for_evidence and case.submission_round > 1)
        ),
        moderation=current_moderation,
        moderation_views=moderation.latest_views(current_moderation) if current_moderation else {},
        moderation_history=moderation_history,
        is_moderator=is_moderator,
        appeals=appeals.appeals_of(case.id),
        appeal_deadline=appeals.deadline(case),  # type: ignore[arg-type]
        carried=carried,
        self_assessment_open=acting and user.role == "candidate" and case.is_open
        and definition.state(case.state).stage == "identification",
        referee_requests=[]
        if presence.empty(case.id, "referee_requests")
        else list(db.session.execute(_REFEREE_REQUESTS, {"case_id": case.id}).scalars()),
        uploads=list(
            db.session.execute(
                select(UploadSession)
                .where(
                    UploadSession.case_id == case.id,
                    UploadSession.user_id == user.id,
                    UploadSession.state == "receiving",
                )
                .order_by(UploadSession.created_at)
            ).scalars()
        )
        if user.role == "candidate" and not presence.empty(case.id, "upload_sessions")
        else [],
        intake=intake.view_for(case.candidate_id) if user.is_staff else None,
        show_intake=user.is_staff,
    )


@dataclass
class CaseCard:
    """One case on the candidate's home: where it stands, what was last said to them."""

    case: Case
    state: workflows.State
    stages: list[tuple[str, bool, bool]]
    message: CaseTransition | None


def _current_message(case: Case, with_reason: Sequence[T]) -> T | None:
    """The newest reason, if it is the one that brought the case where it is now."""
    last = with_reason[-1] if with_reason else None
    return last if last is not None and last.to_state == case.state else None


def _stages(state: workflows.State) -> list[tuple[str, bool, bool]]:
    current = workflows.STAGES.index(state.stage)
    return [(s, i < current or state.terminal, i == current) for i, s in enumerate(workflows.STAGES)]


def cards_for(candidate: User) -> list[CaseCard]:
    """The candidate's cases, newest first, in two queries whatever their number."""
    mine = cases.cases_of_candidate(candidate)
    said: dict[int, list[CaseTransition]] = {}
    if mine:
        rows = db.session.execute(
            select(CaseTransition)
            .where(CaseTransition.case_id.in_([c.id for c in mine]), CaseTransition.reason.is_not(None))
            .order_by(CaseTransition.sequence)
        ).scalars()
        for row in rows:
            said.setdefault(row.case_id, []).append(row)
    cards = []
    for case in mine:
        state = cases.definition_for(case).state(case.state)
        cards.append(CaseCard(case, state, _stages(state), _current_message(case, said.get(case.id, []))))
    return cards

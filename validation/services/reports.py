"""The figures a centre reports: cases per stage, days spent per stage, and how decisions ended.

Days per stage are per case (all its stays in the stage's states, added up), read from `CaseStateSpan` rows
written as a case leaves each state; the database sums them per case and counts them per (stage, hours), so
a report reads a few hundred numbers however many cases there are. Percentiles are nearest-rank (the median
of 1, 2, 3, 4 is 2; the 90th percentile of ten values is the ninth), which anyone can check by hand.

Every figure made from fewer than `MIN_GROUP` cases is suppressed: figures leave the centre for funders, and a
group of three displaced welders in one centre would otherwise point at people.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from validation.extensions import db
from validation.models import CandidateProfile, Case, CaseStateSpan, Centre, Credential, User
from workflows.definition import STAGES

MIN_GROUP = 5
DECIDED = ("awarded", "partially_awarded", "not_awarded")
GROUPINGS = ("credential", "centre", "target_group")


@dataclass(frozen=True)
class Period:
    """From `start` (included) to `end` (excluded), in UTC."""

    start: datetime
    end: datetime


# --- kept as cases move -----------------------------------------------------------------------------------


def left_state(case: Case, stage: str, now: datetime) -> None:
    """The case leaves its current state now (called by `cases` in the transaction of the transition)."""
    hours = max(int((now - case.state_entered_at).total_seconds() // 3600), 0)
    db.session.add(
        CaseStateSpan(case_id=case.id, credential_id=case.credential_id, state=case.state, stage=stage,
                      entered_at=case.state_entered_at, left_at=now, hours=hours)
    )


# --- figures ------------------------------------------------------------------------------------------------


def nearest_rank(histogram: dict[int, int], share: float) -> int:
    """The value at rank ceil(share * n) of the values the histogram (value -> how many) counts."""
    n = sum(histogram.values())
    rank = max(math.ceil(share * n), 1)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    raise ValueError("an empty histogram has no percentile")


@dataclass
class StageTime:
    n: int
    median_days: float | None
    p90_days: float | None

    @property
    def suppressed(self) -> bool:
        return 0 < self.n < MIN_GROUP


@dataclass
class Decisions:
    awarded: int = 0
    partially_awarded: int = 0
    not_awarded: int = 0

    @property
    def n(self) -> int:
        return self.awarded + self.partially_awarded + self.not_awarded

    @property
    def suppressed(self) -> bool:
        return 0 < self.n < MIN_GROUP

    def rate(self, outcome: str) -> float | None:
        """The share of decided cases with this outcome, in per cent (None when nothing was decided)."""
        return round(100 * getattr(self, outcome) / self.n, 1) if self.n else None


@dataclass
class Group:
    key: str
    label: str
    decisions: Decisions = field(default_factory=Decisions)
    times: dict[str, StageTime] = field(default_factory=dict)


@dataclass
class Figures:
    period: Period
    grouping: str | None
    #: Cases in each stage now (open and closed), from the counts kept with each change of state.
    per_stage: dict[str, int]
    overall: Group
    groups: list[Group]


def _stage_of_states() -> dict[str, str]:
    from validation.services.cases import registry

    stages: dict[str, str] = {}
    for definition in registry().definitions():
        for name, state in definition.states.items():
            stages.setdefault(name, state.stage)
    return stages


def _dimension(grouping: str | None):  # type: ignore[no-untyped-def]
    """The column a grouping is read from, and the joins it needs from `cases`."""
    if grouping == "credential":
        return Case.credential_id, []
    if grouping == "centre":
        return User.centre_id, [(User, User.id == Case.candidate_id)]
    if grouping == "target_group":
        return CandidateProfile.target_group, [(CandidateProfile, CandidateProfile.user_id == Case.candidate_id)]
    return None, []


def _labels(grouping: str | None, keys: set[object]) -> dict[object, str]:
    if grouping == "credential":
        rows = db.session.execute(select(Credential.id, Credential.code).where(Credential.id.in_(keys)))
        return {i: code for i, code in rows}
    if grouping == "centre":
        rows = db.session.execute(select(Centre.id, Centre.name).where(Centre.id.in_([k for k in keys if k])))
        return {i: name for i, name in rows}
    return {k: str(k) for k in keys if k}


def _hours_to_days(hours: int) -> float:
    return round(hours / 24, 1)


def figures(period: Period, grouping: str | None = None) -> Figures:
    """Every figure of the period, overall and per group of `grouping`, in four queries."""
    if grouping not in (None, *GROUPINGS):
        raise ValueError(grouping)
    from validation.services.queues import counts

    stages = _stage_of_states()
    per_stage = dict.fromkeys(STAGES, 0)
    for state, n in counts().items():
        per_stage[stages.get(state, "certification")] += n

    column, joins = _dimension(grouping)
    decided = select(Case.outcome, func.count()).where(
        Case.closed_at >= period.start, Case.closed_at < period.end, Case.outcome.in_(DECIDED)
    )
    # Days per stage are per case: the hours of all its stays in the stage's states, added up.
    per_case = select(
        CaseStateSpan.case_id, CaseStateSpan.stage, func.sum(CaseStateSpan.hours).label("total")
    ).join(Case, Case.id == CaseStateSpan.case_id).where(
        CaseStateSpan.left_at >= period.start, CaseStateSpan.left_at < period.end
    )
    if column is not None:
        decided = decided.add_columns(column)
        per_case = per_case.add_columns(column.label("dimension"))
        for target, on in joins:
            decided = decided.outerjoin(target, on)
            per_case = per_case.outerjoin(target, on)
        decided = decided.group_by(Case.outcome, column)
        totals = per_case.group_by(CaseStateSpan.case_id, CaseStateSpan.stage, column).subquery()
        spans = select(totals.c.stage, totals.c.total, func.count(), totals.c.dimension).group_by(
            totals.c.stage, totals.c.total, totals.c.dimension
        )
    else:
        decided = decided.group_by(Case.outcome)
        totals = per_case.group_by(CaseStateSpan.case_id, CaseStateSpan.stage).subquery()
        spans = select(totals.c.stage, totals.c.total, func.count()).group_by(totals.c.stage, totals.c.total)

    overall = Group("all", "all")
    by_key: dict[object, Group] = {}
    for row in db.session.execute(decided):
        outcome, n = row[0], int(row[1])
        setattr(overall.decisions, outcome, getattr(overall.decisions, outcome) + n)
        if column is not None:
            group = by_key.setdefault(row[2], Group(str(row[2]), ""))
            setattr(group.decisions, outcome, getattr(group.decisions, outcome) + n)

    histograms: dict[object, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for row in db.session.execute(spans):
        stage, hours, n = row[0], int(row[1]), int(row[2])
        overall_stage = histograms["__all__"][stage]
        overall_stage[hours] = overall_stage.get(hours, 0) + n
        if column is not None:
            by_key.setdefault(row[3], Group(str(row[3]), ""))
            histograms[row[3]][stage][hours] = n

    def times(of: dict[str, dict[int, int]]) -> dict[str, StageTime]:
        result = {}
        for stage in STAGES:
            histogram = of.get(stage, {})
            n = sum(histogram.values())
            result[stage] = StageTime(
                n=n,
                median_days=_hours_to_days(nearest_rank(histogram, 0.5)) if n else None,
                p90_days=_hours_to_days(nearest_rank(histogram, 0.9)) if n else None,
            )
        return result

    overall.times = times(histograms.get("__all__", {}))
    labels = _labels(grouping, set(by_key))
    groups = []
    for key, group in by_key.items():
        group.times = times(histograms.get(key, {}))
        group.label = labels.get(key, "")
        groups.append(group)
    groups.sort(key=lambda g: (g.label == "", g.label))
    return Figures(period=period, grouping=grouping, per_stage=per_stage, overall=overall, groups=groups)

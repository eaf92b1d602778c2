"""The figures a centre reports: cases per stage, days spent per stage, and how decisions ended.

Days per stage are per stay in a stage, in whole days (exact up to 13, in bands beyond), counted when the stay
ends into `StageTimeCount` (month, grouping, group, stage, band → how many), so a report over a year sums a
few thousand rows however many cases there are. Each stay in a state is also kept (`CaseStateSpan`), for the
record and to rebuild the counts. Percentiles are nearest-rank (the median
of 1, 2, 3, 4 is 2; the 90th percentile of ten values is the ninth), which anyone can check by hand.

Every figure made from fewer than `MIN_GROUP` cases is suppressed: figures leave the centre for funders, and a
group of three displaced welders in one centre would otherwise point at people.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from validation.extensions import db
from validation.models import (
    CandidateProfile,
    Case,
    CaseStateSpan,
    Centre,
    Credential,
    DecisionCount,
    StageTimeCount,
    User,
)
from validation.services import kept
from workflows.definition import STAGES

MIN_GROUP = 5
#: Where the bands of stay lengths begin, in days: every day up to 13, then a week, two, a month, a season.
BANDS = (*range(14), 14, 21, 28, 42, 56, 90, 180, 365)
DECIDED = ("awarded", "partially_awarded", "not_awarded")
GROUPINGS = ("credential", "centre", "target_group")


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


@dataclass(frozen=True)
class Period:
    """Whole months, from `first` to `last` (both included, as YYYY-MM): the figures are kept per month."""

    first: str
    last: str

    @property
    def start(self) -> datetime:
        year, month = (int(p) for p in self.first.split("-"))
        return datetime(year, month, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        year, month = (int(p) for p in self.last.split("-"))
        return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


# --- kept as cases move -----------------------------------------------------------------------------------


def band(days: int) -> int:
    """The first day of the band a stay of `days` whole days falls in."""
    return max(b for b in BANDS if b <= days)


@dataclass(frozen=True)
class Days:
    """A number of days as the kept counts know it: exact, or a band ("21-27", "365+")."""

    low: int

    @property
    def high(self) -> int | None:
        later = [b for b in BANDS if b > self.low]
        return later[0] - 1 if later else None

    def __str__(self) -> str:
        if self.high == self.low:
            return str(self.low)
        return f"{self.low}+" if self.high is None else f"{self.low}\u2013{self.high}"  # an en dash


def left_state(case: Case, stage: str, next_stage: str, now: datetime) -> None:
    """The case leaves its current state now for a state of `next_stage` (called by `cases` in the
    transaction of the transition). When that ends its stay in `stage`, the stay is counted."""
    hours = max(int((now - case.state_entered_at).total_seconds() // 3600), 0)
    if next_stage != stage:
        earlier = db.session.execute(
            select(CaseStateSpan.stage, CaseStateSpan.hours)
            .where(CaseStateSpan.case_id == case.id)
            .order_by(CaseStateSpan.left_at.desc(), CaseStateSpan.id.desc())
            .limit(100)
        ).all()
        stay = hours
        for earlier_stage, earlier_hours in earlier:
            if earlier_stage != stage:
                break
            stay += earlier_hours
        _count_stay(case, stage, stay // 24, now)
    db.session.add(
        CaseStateSpan(case_id=case.id, credential_id=case.credential_id, state=case.state, stage=stage,
                      entered_at=case.state_entered_at, left_at=now, hours=hours)
    )


def _groups_of(case: Case) -> list[tuple[str, str]]:
    """The (grouping, group) pairs a case is counted under: all, its credential, its candidate's centre and
    target group ("" where there is none)."""
    centre_id, target_group = db.session.execute(
        select(User.centre_id, CandidateProfile.target_group)
        .select_from(User)
        .outerjoin(CandidateProfile, CandidateProfile.user_id == User.id)
        .where(User.id == case.candidate_id)
    ).one()
    return [("all", ""), ("credential", str(case.credential_id)), ("centre", str(centre_id) if centre_id else ""),
            ("target_group", target_group or "")]


def _add_one(model: type, keys: dict[str, object]) -> None:
    """One more in a kept count, by one upsert (two changes at once add up)."""
    kept.add(model, keys, "n", 1)


def _count_stay(case: Case, stage: str, days: int, now: datetime) -> None:
    for grouping, value in _groups_of(case):
        _add_one(StageTimeCount, {"month": month_of(now), "grouping": grouping, "value": value, "stage": stage,
                                  "days": band(days)})


def decided(case: Case, outcome: str, now: datetime) -> None:
    """A decision of `outcome` is made on the case now (called by `cases` in the transaction of the
    transition); withdrawals are not decisions."""
    if outcome not in DECIDED:
        return
    for grouping, value in _groups_of(case):
        _add_one(DecisionCount, {"month": month_of(now), "grouping": grouping, "value": value, "outcome": outcome})


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
    median_days: Days | None
    p90_days: Days | None

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


def _labels(grouping: str | None, keys: set[str]) -> dict[str, str]:
    """What each group is called: a credential's code, a centre's name, a target group's own code."""
    ids = [int(k) for k in keys if k.isdigit()]
    if grouping == "credential":
        rows = db.session.execute(select(Credential.id, Credential.code).where(Credential.id.in_(ids)))
        return {str(i): code for i, code in rows}
    if grouping == "centre":
        rows = db.session.execute(select(Centre.id, Centre.name).where(Centre.id.in_(ids)))
        return {str(i): name for i, name in rows}
    return {k: k for k in keys if k}


def figures(period: Period, grouping: str | None = None) -> Figures:
    """Every figure of the period, overall and per group of `grouping`, from the kept counts, in four queries."""
    if grouping not in (None, *GROUPINGS):
        raise ValueError(grouping)
    from validation.services.queues import counts

    stages = _stage_of_states()
    per_stage = dict.fromkeys(STAGES, 0)
    for state, n in counts().items():
        per_stage[stages.get(state, "certification")] += n

    wanted = ["all", grouping] if grouping else ["all"]
    in_period = (DecisionCount.month >= period.first, DecisionCount.month <= period.last,
                 DecisionCount.grouping.in_(wanted))
    decided = (
        select(DecisionCount.outcome, func.sum(DecisionCount.n), DecisionCount.value, DecisionCount.grouping)
        .where(*in_period)
        .group_by(DecisionCount.grouping, DecisionCount.value, DecisionCount.outcome)
    )
    # On SQLite the month as an expression (month || ''), so that its planner no longer reads the stays through
    # the key's month range and then sorts them all (it did once it had statistics: three times slower than
    # the covering index ix_stage_time_counts_grouped, read in the order they are summed). PostgreSQL hashes
    # them in one pass, and needs the plain column to estimate how many there are.
    sqlite_planner = db.session.get_bind().dialect.name == "sqlite"
    span_month = StageTimeCount.month + "" if sqlite_planner else StageTimeCount.month
    spans = (
        select(StageTimeCount.stage, StageTimeCount.days, func.sum(StageTimeCount.n), StageTimeCount.value,
               StageTimeCount.grouping)
        .where(span_month >= period.first, span_month <= period.last, StageTimeCount.grouping.in_(wanted))
        .group_by(StageTimeCount.grouping, StageTimeCount.value, StageTimeCount.stage, StageTimeCount.days)
    )

    overall = Group("all", "all")
    by_key: dict[str, Group] = {}
    for outcome, n, value, kind in db.session.execute(decided):
        group = overall if kind == "all" else by_key.setdefault(value, Group(value, ""))
        setattr(group.decisions, outcome, getattr(group.decisions, outcome) + int(n))

    histograms: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for stage, days, n, value, kind in db.session.execute(spans):
        key = "__all__" if kind == "all" else value
        if kind != "all":
            by_key.setdefault(value, Group(value, ""))
        histograms[key][stage][int(days)] = int(n)

    def times(of: dict[str, dict[int, int]]) -> dict[str, StageTime]:
        result = {}
        for stage in STAGES:
            histogram = of.get(stage, {})
            n = sum(histogram.values())
            result[stage] = StageTime(
                n=n,
                median_days=Days(nearest_rank(histogram, 0.5)) if n else None,
                p90_days=Days(nearest_rank(histogram, 0.9)) if n else None,
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

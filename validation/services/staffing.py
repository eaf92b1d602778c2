"""Who may assess a case, and who has room: qualifications, languages and open work.

An assessor is qualified for a case when they may assess its credential (named, or through its whole sector)
and read the language the candidate writes in (the candidate's preferred language). Assigning suggests the
qualified assessor with the fewest open cases; assigning anyone not qualified is refused with the reason,
for the assessor of a case, the reviewer of an appeal and the moderator alike.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import String, cast, delete, event, func, inspect, select
from sqlalchemy.orm import Session

from validation.extensions import db
from validation.models import (
    AssessorLanguage,
    AssessorQualification,
    AssessorWorkload,
    Case,
    Credential,
    User,
    utcnow,
)
from validation.services import audit, kept, reads
from validation.services import choices as choices_stamp
from validation.services.errors import Forbidden, Invalid, NotFound
from validation.storage.inspect import N_

NOT_QUALIFIED = N_("This assessor is not qualified for this credential or its sector.")
NO_LANGUAGE = N_("This assessor does not read the language the candidate writes in.")


@dataclass(frozen=True)
class Qualifications:
    credential_ids: frozenset[int]
    sectors: frozenset[str]
    languages: frozenset[str]


def qualifications_of(assessor_id: int) -> Qualifications:
    rows = db.session.execute(
        select(AssessorQualification.credential_id, AssessorQualification.sector).where(
            AssessorQualification.assessor_id == assessor_id
        )
    ).all()
    languages = db.session.execute(
        select(AssessorLanguage.language).where(AssessorLanguage.assessor_id == assessor_id)
    ).scalars()
    return Qualifications(
        credential_ids=frozenset(r.credential_id for r in rows if r.credential_id is not None),
        sectors=frozenset(r.sector for r in rows if r.sector is not None),
        languages=frozenset(languages),
    )


def set_qualifications(
    assessor_id: int, actor: User, credential_ids: Iterable[int], sectors: Iterable[str], languages: Iterable[str]
) -> Qualifications:
    """An administrator says what an assessor may assess; the rows are replaced, the change audited."""
    if actor.role != "admin":
        raise Forbidden("Only administrators set what assessors may assess.")
    assessor = db.session.get(User, assessor_id)
    if assessor is None or assessor.role != "assessor":
        raise NotFound("There is no such assessor.")
    wanted_ids = sorted(set(credential_ids))
    known = set(db.session.execute(select(Credential.id).where(Credential.id.in_(wanted_ids))).scalars())
    if known != set(wanted_ids):
        raise Invalid("Choose credentials from the catalog.")
    wanted_sectors = sorted({s.strip() for s in sectors if s.strip()})
    wanted_languages = sorted({code.strip() for code in languages if code.strip()})
    db.session.execute(delete(AssessorQualification).where(AssessorQualification.assessor_id == assessor_id))
    db.session.execute(delete(AssessorLanguage).where(AssessorLanguage.assessor_id == assessor_id))
    now = utcnow()
    for credential_id in wanted_ids:
        db.session.add(AssessorQualification(assessor_id=assessor_id, credential_id=credential_id,
                                             granted_at=now, granted_by_id=actor.id))
    for sector in wanted_sectors:
        db.session.add(AssessorQualification(assessor_id=assessor_id, sector=sector, granted_at=now,
                                             granted_by_id=actor.id))
    for language in wanted_languages:
        db.session.add(AssessorLanguage(assessor_id=assessor_id, language=language))
    db.session.flush()
    # The rows removed above went past the session, so a qualification taken away with nothing added in its
    # place would not renew the stamp by itself: the kept roster must not outlive it.
    choices_stamp.restamp(db.session())
    audit.record(
        "assessor.qualified", actor=actor, subject_id=assessor_id, credential_ids=wanted_ids,
        sectors=wanted_sectors, languages=wanted_languages,
    )
    return qualifications_of(assessor_id)


def catalog_sectors() -> list[str]:
    """The sectors the catalog's credentials belong to, to choose from."""
    return list(db.session.execute(select(Credential.sector).distinct().order_by(Credential.sector)).scalars())


def _case_language(case: Case) -> str:
    return case.candidate.preferred_language


def refusal(assessor: User, case: Case) -> str | None:
    """Why this assessor may not take this case, or None when they are qualified."""
    held = qualifications_of(assessor.id)
    if case.credential_id not in held.credential_ids and case.credential.sector not in held.sectors:
        return NOT_QUALIFIED
    if _case_language(case) not in held.languages:
        return NO_LANGUAGE
    return None


def require_qualified(assessor: User, case: Case) -> None:
    reason = refusal(assessor, case)
    if reason is not None:
        raise Invalid(reason)


def open_workloads(assessor_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Open cases per assessor, from the kept counts (see `AssessorWorkload`), in one query."""
    statement = select(AssessorWorkload.assessor_id, AssessorWorkload.open_cases).where(
        AssessorWorkload.open_cases > 0
    )
    if assessor_ids is not None:
        statement = statement.where(AssessorWorkload.assessor_id.in_(list(assessor_ids)))
    return {assessor_id: int(n) for assessor_id, n in db.session.execute(statement)}


def _workload_changes(session: Session) -> Counter[int]:
    """What this flush changes in each assessor's open work: -1 where a case they held open leaves them or
    closes, +1 where an open case comes to them or reopens. Old values come from the attribute history
    (both columns keep it: `active_history`)."""
    changes: Counter[int] = Counter()

    def held(assessor_id: int | None, outcome: str | None, sign: int) -> None:
        if assessor_id is not None and outcome is None:
            changes[assessor_id] += sign

    for case in session.new:
        if isinstance(case, Case):
            held(case.assessor_id, case.outcome, 1)
    for case in session.deleted:
        if isinstance(case, Case):
            held(case.assessor_id, case.outcome, -1)
    for case in session.dirty:
        if not isinstance(case, Case):
            continue
        state = inspect(case)
        assessor, outcome = state.attrs.assessor_id.history, state.attrs.outcome.history
        if not assessor.has_changes() and not outcome.has_changes():
            continue
        old_assessor = (assessor.deleted or assessor.unchanged or [None])[0]
        old_outcome = (outcome.deleted or outcome.unchanged or [None])[0]
        held(old_assessor, old_outcome, -1)
        held(case.assessor_id, case.outcome, 1)
    return changes


@event.listens_for(Session, "before_flush")
def _keep_workloads(session: Session, _context: object, _instances: object) -> None:
    changes = _workload_changes(session)
    if not any(changes.values()):
        return
    # In one order in every flush, so that two changes at once lock these rows in the same order (no deadlock).
    for assessor_id in sorted(changes):
        if changes[assessor_id]:
            kept.add(AssessorWorkload, {"assessor_id": assessor_id}, "open_cases", changes[assessor_id], session)


def recount_workloads() -> int:
    """Rebuild the kept workloads from the cases (a repair, and after bulk writes that bypass the session).
    Returns how many assessors' counts were wrong."""
    actual = {
        (assessor_id,): n
        for assessor_id, n in db.session.execute(
            select(Case.assessor_id, func.count())
            .where(Case.outcome.is_(None), Case.assessor_id.is_not(None))
            .group_by(Case.assessor_id)
        )
    }
    return kept.repair(AssessorWorkload, ("assessor_id",), "open_cases", actual)


class Person(NamedTuple):
    """An assessor as a choice shows them: read as two columns, not as an account (two hundred of them)."""

    id: int
    display_name: str


class Choice(NamedTuple):
    """An assessor as a choice for one case (a tuple: two hundred are made for every case page)."""

    assessor: Person
    open_cases: int
    #: Why they may not take the case; None when qualified.
    refusal: str | None


class _Assessor(NamedTuple):
    """An active assessor with what they may assess and the languages they read."""

    person: Person
    credential_ids: frozenset[int]
    sectors: frozenset[str]
    languages: frozenset[str]


_ACTIVE_ASSESSORS = (
    select(User.id, User.display_name)
    .where(User.role == "assessor", User.active.is_(True))
    .order_by(User.display_name, User.id)
)
_QUALIFICATIONS = select(
    AssessorQualification.assessor_id, AssessorQualification.credential_id, AssessorQualification.sector
)
_LANGUAGES = select(AssessorLanguage.assessor_id, AssessorLanguage.language)
#: Everyone's open work as one text, "id:count,id:count": the database writes it out, so a page reads one value
#: and compares one string with the one its kept choices were sorted by, instead of two hundred rows (see
#: `choices`). Listed in assessor order, so that the same work reads as the same text; were the order ever to
#: change, the text would differ and the choices would only be worked out again.
_WORK_PAIRS = (
    select((cast(AssessorWorkload.assessor_id, String) + ":" + cast(AssessorWorkload.open_cases, String))
           .label("pair"))
    .where(AssessorWorkload.open_cases > 0)
    .order_by(AssessorWorkload.assessor_id)
    .subquery()
)
#: With the choices stamp, read in the same query: the roster kept under it is then known to be current.
_OPEN_WORK = {
    "sqlite": select(choices_stamp.CURRENT, func.group_concat(_WORK_PAIRS.c.pair, ",")),
    "postgresql": select(choices_stamp.CURRENT, func.string_agg(_WORK_PAIRS.c.pair, ",")),
}


def _stamp_and_open_work() -> tuple[int, str]:
    current, work = reads.plain(_OPEN_WORK[db.session.get_bind().dialect.name]).one()
    return current or 0, work or ""


def _parse_work(text: str) -> dict[int, int]:
    pairs = (pair.split(":") for pair in text.split(",")) if text else ()
    return {int(assessor_id): int(n) for assessor_id, n in pairs}


class _Roster:
    """The active assessors, and the choices already worked out from them for a kind of case.

    Kept with the roster, the choices go when it goes (a change to an account or a qualification); each is
    kept with the open work it was sorted by, and worked out again when that work has changed."""

    __slots__ = ("assessors", "ids", "slates")

    def __init__(self, assessors: list[_Assessor]) -> None:
        self.assessors = assessors
        self.ids = frozenset(a.person.id for a in assessors)
        #: By credential, sector and language: a bounded number of kinds of case, whoever the candidate.
        self.slates: dict[tuple[object, ...], tuple[str, tuple[Choice, ...]]] = {}


def _roster(current: int | None = None) -> _Roster:
    """Every active assessor with their qualifications and languages, by name. Kept per app under the choices
    stamp (services/choices.py), which a change to an account or a qualification renews: these change when an
    administrator says so, while every case page a coordinator opens reads them (two hundred assessors, with a
    test of each one's qualification in the query, cost a tenth of the page)."""
    return choices_stamp.kept_under_stamp("assessor_roster", None, _read_roster, current)


def _read_roster() -> _Roster:
    credential_ids: defaultdict[int, set[int]] = defaultdict(set)
    sectors: defaultdict[int, set[str]] = defaultdict(set)
    languages: defaultdict[int, set[str]] = defaultdict(set)
    for assessor_id, credential_id, sector in db.session.execute(_QUALIFICATIONS):
        if credential_id is not None:
            credential_ids[assessor_id].add(credential_id)
        if sector is not None:
            sectors[assessor_id].add(sector)
    for assessor_id, language in db.session.execute(_LANGUAGES):
        languages[assessor_id].add(language)
    return _Roster([
        _Assessor(Person(i, name), frozenset(credential_ids[i]), frozenset(sectors[i]), frozenset(languages[i]))
        for i, name in db.session.execute(_ACTIVE_ASSESSORS)
    ])


def choices(case: Case, exclude: Iterable[int] = ()) -> tuple[Choice, ...]:
    """Every active assessor for this case: the qualified ones first, fewest open cases first; the first of
    them is the suggestion. One query however many assessors there are: the stamp of the kept roster with
    everyone's open work (the kept counts).

    What decides the answer is the roster, the open work and the case's credential, sector and language: the
    answer is kept with the roster for those, and given again (the same tuple) while the open work read is
    the one it was sorted by. Every case page a coordinator opens asks, and two hundred tests and a sort cost
    more than the rest of the assessor section."""
    current, work = _stamp_and_open_work()
    roster = _roster(current)
    credential_id, sector, language = case.credential_id, case.credential.sector, _case_language(case)
    # Left out: the candidate (rarely an assessor too) and whoever the caller names (a moderator's choice
    # leaves out the case's assessor). Only a list that leaves out no assessor is kept: kept per excluded
    # person, the lists would grow with every candidate and every assessor.
    excluded = (set(exclude) | {case.candidate_id}) & roster.ids
    key = (credential_id, sector, language)
    found = roster.slates.get(key) if not excluded else None
    if found is not None and found[0] == work:
        return found[1]
    open_cases = _parse_work(work)
    result = []
    for assessor in roster.assessors:
        person = assessor.person
        if person.id in excluded:
            continue
        if credential_id not in assessor.credential_ids and sector not in assessor.sectors:
            reason: str | None = NOT_QUALIFIED
        else:
            reason = None if language in assessor.languages else NO_LANGUAGE
        result.append(Choice(person, open_cases.get(person.id, 0), reason))
    result.sort(key=lambda c: (c.refusal is not None, c.open_cases, c.assessor.display_name))
    slate = tuple(result)
    if not excluded:
        roster.slates[key] = (work, slate)
    return slate


def suggestion(case: Case, exclude: Iterable[int] = ()) -> Person | None:
    """The qualified assessor with the least open work, if there is one."""
    for choice in choices(case, exclude):
        if choice.refusal is None:
            return choice.assessor
    return None

"""Who may assess a case, and who has room: qualifications, languages and open work.

An assessor is qualified for a case when they may assess its credential (named, or through its whole sector)
and read the language the candidate writes in (the candidate's preferred language). Assigning suggests the
qualified assessor with the fewest open cases; assigning anyone not qualified is refused with the reason,
for the assessor of a case, the reviewer of an appeal and the moderator alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select

from validation.extensions import db
from validation.models import AssessorLanguage, AssessorQualification, Case, Credential, User, utcnow
from validation.services import audit
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
    """Open cases per assessor (assessed or moderated), in one query."""
    statement = select(Case.assessor_id, func.count()).where(
        Case.outcome.is_(None), Case.assessor_id.is_not(None)
    ).group_by(Case.assessor_id)
    if assessor_ids is not None:
        statement = statement.where(Case.assessor_id.in_(list(assessor_ids)))
    return {assessor_id: int(n) for assessor_id, n in db.session.execute(statement)}


@dataclass(frozen=True)
class Choice:
    assessor: User
    open_cases: int
    #: Why they may not take the case; None when qualified.
    refusal: str | None


def choices(case: Case, exclude: Iterable[int] = ()) -> list[Choice]:
    """Every active assessor for this case: the qualified ones first, fewest open cases first; the first of
    them is the suggestion. In a fixed number of queries, however many assessors there are."""
    excluded = set(exclude) | {case.candidate_id}
    assessors = [
        u for u in db.session.execute(
            select(User).where(User.role == "assessor", User.active.is_(True)).order_by(User.display_name)
        ).scalars()
        if u.id not in excluded
    ]
    ids = [u.id for u in assessors]
    qualified_for_credential = set(
        db.session.execute(
            select(AssessorQualification.assessor_id).where(
                AssessorQualification.assessor_id.in_(ids),
                or_(AssessorQualification.credential_id == case.credential_id,
                    AssessorQualification.sector == case.credential.sector),
            )
        ).scalars()
    )
    reads = set(
        db.session.execute(
            select(AssessorLanguage.assessor_id).where(
                AssessorLanguage.assessor_id.in_(ids), AssessorLanguage.language == _case_language(case)
            )
        ).scalars()
    )
    load = open_workloads(ids)
    result = []
    for assessor in assessors:
        reason = None
        if assessor.id not in qualified_for_credential:
            reason = NOT_QUALIFIED
        elif assessor.id not in reads:
            reason = NO_LANGUAGE
        result.append(Choice(assessor, load.get(assessor.id, 0), reason))
    result.sort(key=lambda c: (c.refusal is not None, c.open_cases, c.assessor.display_name))
    return result


def suggestion(case: Case, exclude: Iterable[int] = ()) -> User | None:
    """The qualified assessor with the least open work, if there is one."""
    for choice in choices(case, exclude):
        if choice.refusal is None:
            return choice.assessor
    return None

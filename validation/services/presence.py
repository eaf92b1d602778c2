"""Which of a case's optional records exist at all, read in one query before the case page reads them.

Most cases have no appeal, no moderation, no interview, no referee and no award, and asking an ORM for
nothing costs as much as asking it for a row: a dozen such reads made a tenth of the case page. `probe`
asks once, with an EXISTS per table on its case_id index, and each read of those records gives nothing
straight away when the probe found nothing (`empty`).

What the probe found holds until the session flushes, commits or rolls back, and while nothing waits in the
session to be added: a record added in this transaction is flushed before anything reads it (autoflush), and
the flush forgets the probe, so no read misses a row this request wrote. A row another request commits after
the probe is missed as it would be had the page been read a moment earlier.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import bindparam, event, exists, select
from sqlalchemy.orm import Session

from validation.extensions import db
from validation.models import (
    Appeal,
    Award,
    CarriedOutcome,
    ConflictDeclaration,
    EvidenceDoubt,
    EvidenceItem,
    EvidenceRequest,
    IntakeResponse,
    Interview,
    Moderation,
    OutcomeDecision,
    RefereeRequest,
    UploadSession,
)
from validation.services import reads

#: The tables probed, each by its name: every one has an index that starts with case_id.
PROBED = {
    model.__tablename__: model
    for model in (
        Appeal, Award, CarriedOutcome, ConflictDeclaration, EvidenceDoubt, EvidenceItem, EvidenceRequest,
        Interview, Moderation, OutcomeDecision, RefereeRequest, UploadSession,
    )
}
#: The candidate's own records the case page shows staff, each by its table's name (an index on user_id).
PROBED_BY_CANDIDATE = {model.__tablename__: model for model in (IntakeResponse,)}
_PROBE = select(
    *(exists().where(model.case_id == bindparam("case_id")).label(name) for name, model in PROBED.items()),
    *(exists().where(model.user_id == bindparam("candidate_id")).label(name)
      for name, model in PROBED_BY_CANDIDATE.items()),
)
_KEY = "case_presence"


class _Probed(NamedTuple):
    case_id: int
    candidate_id: int
    #: The probed tables that held none of their rows.
    empty: frozenset[str]


def probe(case_id: int, candidate_id: int) -> None:
    """Find which probed tables hold no row of this case (or of its candidate), for `empty` and
    `empty_for_candidate` to answer until the next flush."""
    row = reads.plain(_PROBE, {"case_id": case_id, "candidate_id": candidate_id}).one()
    found_none = frozenset(name for name, found in row._mapping.items() if not found)
    db.session.info[_KEY] = _Probed(case_id, candidate_id, found_none)


def _probed() -> _Probed | None:
    """What the probe of this transaction found, while it holds: not once flushed (see `_forget`), nor while a
    record added waits in the session unflushed (it may be one of those found missing: the read then goes
    ahead, and flushes it first)."""
    return None if db.session.new else db.session.info.get(_KEY)


def empty(case_id: int, table: str) -> bool:
    """True only when the probe still holds for this case and `table` held none of its rows; False (read it)
    whenever that is not known."""
    known = _probed()
    return known is not None and known.case_id == case_id and table in known.empty


def empty_for_candidate(user_id: int, table: str) -> bool:
    """As `empty`, for a table of the candidate's own records (`PROBED_BY_CANDIDATE`)."""
    known = _probed()
    return known is not None and known.candidate_id == user_id and table in known.empty


@event.listens_for(Session, "after_flush")
@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, *_args: object) -> None:
    session.info.pop(_KEY, None)

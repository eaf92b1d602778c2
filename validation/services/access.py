"""Who may see and touch a case. Views call these before anything else; services call them again."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from validation.extensions import db
from validation.models import Case, User
from validation.services.errors import Forbidden, NotFound


def can_view_case(user: User, case: Case) -> bool:
    if user.role == "candidate":
        return case.candidate_id == user.id
    if user.role == "assessor":
        return user.id in (case.assessor_id, case.moderator_id)
    return user.role in ("coordinator", "admin")


def may_act_on_case(user: User, case: Case) -> bool:
    """Acting needs more than seeing: admins read cases for support but never act on them."""
    return user.role != "admin" and can_view_case(user, case)


#: Every case page and action starts here: the statement is built once (building one costs more than running it).
_CASE = select(Case).where(Case.id == bindparam("case_id"))
#: A case read to be shown comes with its credential (every page of it names the credential): one query, not
#: two. A case locked to act on does not: its credential row is not locked with it.
_CASE_SHOWN = _CASE.options(joinedload(Case.credential, innerjoin=True))


def case_for(user: User, case_id: int, *, lock: bool = False) -> Case:
    """The case if this user may see it. Candidates get 404 for others' cases, so ids reveal nothing."""
    statement = _CASE if lock else _CASE_SHOWN
    if lock and db.session.get_bind().dialect.name == "postgresql":
        # The row as it is once locked: a case this request loaded earlier (to build its page, say) would
        # otherwise keep the attributes it was read with, and a version check would pass on a stale one.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    case = db.session.execute(statement, {"case_id": case_id}).scalar_one_or_none()
    if case is None:
        raise NotFound("There is no such case.")
    if not can_view_case(user, case):
        if user.role == "candidate":
            raise NotFound("There is no such case.")
        raise Forbidden("This case is not assigned to you.")
    return case


def case_to_act_on(user: User, case_id: int) -> Case:
    case = case_for(user, case_id, lock=True)
    if not may_act_on_case(user, case):
        raise Forbidden("You may look at this case but not act on it.")
    return case

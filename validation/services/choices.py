"""The lists people choose from on busy pages (assessors, credentials, centres, sectors) and their stamp.

Any change to a user, a centre or a credential gives the "choices" stamp a new random value in the same
transaction (a `before_flush` hook, so no service can forget it; the few bulk writes that bypass the session
call `restamp` themselves). A page may keep what it built from these lists for as long as the stamp it reads
is the one it built them under: it reads the stamp first and the lists after, so a list changed in between
is built again at the next request rather than kept under the new stamp. Reading the stamp flushes first: a
change waiting in the session then renews the stamp before it is read, so what is built in that transaction is
kept under a stamp that a rollback takes away with it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from itertools import chain
from typing import TypeVar

from flask import current_app
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from validation.models import AssessorLanguage, AssessorQualification, Centre, Credential, ReferenceStamp, User
from validation.services import kept, reads

CHOICES = "choices"
T = TypeVar("T")
#: What the kept lists are built from: accounts, centres, credentials, and what each assessor may assess.
_WATCHED = (User, Centre, Credential, AssessorQualification, AssessorLanguage)


#: Read by every queue page before anything else, so built once.
_STAMP = select(ReferenceStamp.stamp).where(ReferenceStamp.name == bindparam("name"))
#: The choices stamp as a column, for a page to read it in the same query as something else (see
#: `kept_under_stamp`'s `current`).
CURRENT = select(ReferenceStamp.stamp).where(ReferenceStamp.name == CHOICES).scalar_subquery()


def stamp(name: str = CHOICES) -> int:
    """The current stamp; 0 until the first change is recorded. Read after a flush (`reads.plain`), so that a
    change waiting in the session renews the stamp before the stamp is read."""
    return reads.plain(_STAMP, {"name": name}).scalar() or 0


def kept_under_stamp(name: str, key: Hashable, build: Callable[[], T], current: int | None = None) -> T:
    """What `build` makes from the lists, kept per app (and per `key`, a language say) for as long as the stamp
    is the one it was built under. The stamp is read before `build` runs, so a change made while it reads is
    built again at the next call rather than kept under the new stamp; a caller that has just read it (as
    `CURRENT`, in its own query) gives it as `current`."""
    store: dict[Hashable, tuple[int, T]] = current_app.extensions.setdefault(f"{CHOICES}:{name}", {})
    if current is None:
        current = stamp()
    found = store.get(key)
    if found is not None and found[0] == current:
        return found[1]
    built = build()
    store[key] = (current, built)
    return built


def restamp(session: Session, name: str = CHOICES) -> None:
    """Give the stamp a new value in the session's transaction (an upsert: one statement, row or no row)."""
    kept.put(ReferenceStamp, {"name": name}, {"stamp": secrets.randbelow(2**62) + 1}, session)


@event.listens_for(Session, "before_flush")
def _restamp_on_change(session: Session, _context: object, _instances: object) -> None:
    for instance in chain(session.new, session.deleted, session.dirty):
        if isinstance(instance, _WATCHED) and (
            instance in session.new or instance in session.deleted or session.is_modified(instance)
        ):
            restamp(session)
            return

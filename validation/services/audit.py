"""The audit trail: one hash-chained event per change, appended in the changing transaction."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, text

from validation.extensions import db
from validation.models import AuditEvent, Case, User, utcnow
from validation.models.audit import GENESIS_HASH
from validation.services import reads

# Facts are ids, counts, flags and short codes: never names, e-mail addresses or document text.
_CODE = re.compile(r"^[A-Za-z0-9_.:\-]{0,64}$")
# Any constant works: it only has to be the same for every writer of the chain.
_ADVISORY_LOCK_KEY = 0x5A11D


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the one spelling that is hashed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check_fact(key: str, value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return
    if isinstance(value, str) and _CODE.match(value):
        return
    if isinstance(value, list | tuple) and all(
        isinstance(v, int | bool) or (isinstance(v, str) and _CODE.match(v)) for v in value
    ):
        return
    raise ValueError(f"audit fact {key!r} must be an id, count, flag or short code")


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(event: AuditEvent) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the event's own columns."""
    payload = canonical_json(
        {
            "seq": event.seq,
            "occurred_at": _timestamp(event.occurred_at),
            "actor_id": event.actor_id,
            "action": event.action,
            "case_id": event.case_id,
            "from_state": event.from_state,
            "to_state": event.to_state,
            "facts": event.facts,
        }
    )
    return hashlib.sha256((event.prev_hash + payload).encode("utf-8")).hexdigest()


def _serialise_appends() -> None:
    """Make concurrent appenders queue: PostgreSQL takes a transaction lock; SQLite has one writer anyway."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})


def record(
    action: str,
    *,
    actor: User | None = None,
    case: Case | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    **facts: Any,
) -> AuditEvent:
    """Append one event after the change it records; the caller's commit makes both durable together."""
    for key, value in facts.items():
        _check_fact(key, value)
    db.session.flush()
    _serialise_appends()
    last = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    event = AuditEvent(
        seq=(last.seq + 1) if last else 1,
        occurred_at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        action=action,
        case_id=case.id if case is not None else None,
        from_state=from_state,
        to_state=to_state,
        facts=canonical_json(facts),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    event.hash = compute_hash(event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None


def verify_chain(batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; name the first event whose number, link or hash is wrong."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    last_seq = 0
    while True:
        events = (
            db.session.execute(
                select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not events:
            return ChainReport(True, checked)
        for event in events:
            if event.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, f"event {expected_seq} is missing")
            if event.prev_hash != prev_hash:
                return ChainReport(
                    False, checked, event.seq, "its previous hash does not match the event before"
                )
            if compute_hash(event) != event.hash:
                return ChainReport(False, checked, event.seq, "its content does not match its hash")
            prev_hash = event.hash
            expected_seq += 1
            checked += 1
            last_seq = event.seq
        for event in events:
            db.session.expunge(event)


#: A case's trail in the columns a page tells it by; not the chain's hashes (see `verify_chain`).
_EVENTS_OF_CASE = (
    select(AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.action, AuditEvent.case_id,
           AuditEvent.from_state, AuditEvent.to_state, AuditEvent.facts)
    .where(AuditEvent.case_id == bindparam("case_id"))
    .order_by(AuditEvent.seq)
)


def events_for_case(case_id: int) -> list[Row[Any]]:
    """The case's events, oldest first, as plain rows named as the events' columns: the trail is only ever read,
    and the ORM's handling of each event (an object, its state, a place in the session) cost more than the
    query on the case page."""
    return list(reads.plain(_EVENTS_OF_CASE, {"case_id": case_id}))


def facts_of(event: AuditEvent | Row[Any]) -> dict[str, Any]:
    return json.loads(event.facts)

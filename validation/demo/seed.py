"""A large synthetic data set for measuring the coordinator's pages: `validation seed`.

It builds, on top of the demo data, as many cases as asked (100,000 by default) across 50 credentials, 200
assessors and every state of the standard workflow, with their claims, their stays in earlier states and
an audit trail of a million events whose hash chain verifies. Going through the services for each case
would take hours, so the rows are written in bulk, shaped as the services would leave them (the checks and
constraints of the schema still hold, and the kept counts are rebuilt at the end). For benchmark databases
only: it adds people and cases that do not exist.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from sqlalchemy import delete, func, insert, select, text

from validation.demo import CATALOG
from validation.extensions import db
from validation.models import (
    AssessorLanguage,
    AssessorQualification,
    AuditEvent,
    CandidateProfile,
    Case,
    CaseClaim,
    CaseStateSpan,
    Centre,
    Credential,
    DecisionCount,
    LearningOutcome,
    StageTimeCount,
    User,
    utcnow,
)
from validation.models.audit import GENESIS_HASH
from validation.services import accounts, audit, cases, catalog, choices, queues, reports, staffing

PASSWORD = "bench password 2026"  # noqa: S105 (synthetic accounts of a benchmark database)
COORDINATOR = "bench-coordinator@bench.example"
BATCH = 5000
#: How the cases are spread over the states of the standard workflow (weights).
STATE_WEIGHTS = {
    "draft": 14, "submitted": 5, "screening": 5, "more_evidence": 6, "under_review": 12, "interview": 3,
    "recommended": 4, "moderation": 2, "moderation_disputed": 1, "awarded": 20, "partially_awarded": 12,
    "not_awarded": 6, "appealed": 1, "appeal_review": 1, "appeal_dismissed": 1, "withdrawn": 7,
}
#: The usual way into each state, for the stays a case had before it got there.
PATH = ["draft", "submitted", "screening", "under_review", "recommended"]
OUTCOME_OF = {"awarded": "awarded", "partially_awarded": "partially_awarded", "not_awarded": "not_awarded",
              "withdrawn": "withdrawn", "appealed": "partially_awarded", "appeal_review": "partially_awarded",
              "appeal_dismissed": "partially_awarded"}
WITH_ASSESSOR = {"under_review", "interview", "recommended", "moderation", "moderation_disputed", "awarded",
                 "partially_awarded", "not_awarded", "appealed", "appeal_review", "appeal_dismissed", "more_evidence"}
MODERATED = {"moderation", "moderation_disputed"}
DECIDING = {"under_review", "interview", "appeal_review"}


@dataclass
class SeedReport:
    credentials: int
    assessors: int
    candidates: int
    cases: int
    claims: int
    spans: int
    audit_events: int


def _batches(rows: Iterator[dict[str, Any]], model: type, progress: Callable[[str], None], what: str) -> int:
    table = model.__table__
    batch: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            db.session.execute(insert(table), batch)
            count += len(batch)
            batch = []
            if count % (BATCH * 20) == 0:
                progress(f"  {what}: {count:,}")
    if batch:
        db.session.execute(insert(table), batch)
        count += len(batch)
    return count


def _credentials(total: int) -> list[Credential]:
    """The demo catalog's credentials, and copies of them under other codes up to `total`."""
    entries = yaml.safe_load(CATALOG.read_text(encoding="utf-8"))
    originals = entries["credentials"] if isinstance(entries, dict) else entries
    copies = []
    n = 0
    while len(originals) + len(copies) < total:
        n += 1
        for entry in originals:
            if len(originals) + len(copies) >= total:
                break
            copy = json.loads(json.dumps(entry))
            copy["code"] = f"{entry['code']}-B{n}"
            copy["title"] = {lang: f"{text} ({n + 1})" for lang, text in entry["title"].items()}
            copies.append(copy)
    if copies:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as out:
            yaml.safe_dump({"credentials": copies} if isinstance(entries, dict) else copies, out,
                           allow_unicode=True)
        try:
            catalog.import_catalog(out.name)
        finally:
            Path(out.name).unlink()
    return catalog.published_credentials()[:total]


def seed(cases_wanted: int = 100_000, credentials_wanted: int = 50, assessors_wanted: int = 200,
         events_wanted: int = 1_000_000, progress: Callable[[str], None] = print, rng_seed: int = 2026) -> SeedReport:
    rng = random.Random(rng_seed)
    now = utcnow()
    definition = cases.registry().latest("standard")
    cases.record_version(definition)
    credentials = _credentials(credentials_wanted)
    outcomes_of = {
        c.id: [o.id for o in db.session.execute(
            select(LearningOutcome).where(LearningOutcome.credential_id == c.id).order_by(LearningOutcome.id)
        ).scalars()]
        for c in credentials
    }
    progress(f"{len(credentials)} credentials")

    centres = []
    for i in range(5):
        centre = Centre(code=f"BENCH-{i + 1}", name=f"Bench centre {i + 1}", country="UA")
        db.session.add(centre)
        centres.append(centre)
    db.session.flush()
    hashed = accounts.hash_password(PASSWORD)
    first_user = (db.session.execute(select(func.max(User.id))).scalar() or 0) + 1

    def person(i: int, role: str, email: str, name: str, language: str, centre: int) -> dict[str, Any]:
        return {"id": i, "email": email, "phone": None, "display_name": name, "password_hash": hashed,
                "role": role, "active": True, "preferred_language": language, "centre_id": centre,
                "created_at": now, "password_changed_at": now}

    next_id = first_user
    people = []
    coordinator_id = next_id
    people.append(person(next_id, "coordinator", COORDINATOR, "Bench Coordinator", "en", centres[0].id))
    next_id += 1
    assessor_ids = list(range(next_id, next_id + assessors_wanted))
    for n, i in enumerate(assessor_ids):
        people.append(person(i, "assessor", f"assessor{n}@bench.example", f"Assessor {n:03d}",
                             "uk" if n % 2 else "en", centres[n % 5].id))
    next_id += assessors_wanted
    candidates_wanted = max(cases_wanted // 4, 1)
    candidate_ids = list(range(next_id, next_id + candidates_wanted))
    for n, i in enumerate(candidate_ids):
        people.append(person(i, "candidate", f"candidate{n}@bench.example", f"Candidate {n:06d}",
                             "uk" if n % 3 else "en", centres[n % 5].id))
    _batches(iter(people), User, progress, "people")
    groups = ["displaced", "career_changer", "other", None]
    _batches(({"user_id": i, "phone": None, "contact_by_email": True, "contact_by_phone": False,
               "target_group": groups[n % 4], "accessibility_needs": None, "updated_at": now}
              for n, i in enumerate(candidate_ids)), CandidateProfile, progress, "profiles")
    sectors = sorted({c.sector for c in credentials})
    _batches(({"assessor_id": a, "credential_id": None, "sector": s, "granted_at": now, "granted_by_id": None}
              for a in assessor_ids for s in sectors), AssessorQualification, progress, "qualifications")
    _batches(({"assessor_id": a, "language": language} for a in assessor_ids for language in ("en", "uk")),
             AssessorLanguage, progress, "languages")
    progress(f"{len(assessor_ids)} assessors, {len(candidate_ids)} candidates")

    states = list(STATE_WEIGHTS)
    weights = [STATE_WEIGHTS[s] for s in states]
    first_case = (db.session.execute(select(func.max(Case.id))).scalar() or 0) + 1
    case_rows: list[dict[str, Any]] = []
    for n in range(cases_wanted):
        state = rng.choices(states, weights)[0]
        candidate = candidate_ids[n % len(candidate_ids)]
        credential = credentials[(n // len(candidate_ids) * 7 + n) % len(credentials)]
        opened = now - timedelta(days=rng.uniform(1, 400))
        entered = opened + (now - opened) * rng.uniform(0.2, 0.95)
        spec = definition.state(state)
        outcome = OUTCOME_OF.get(state)
        assessor = assessor_ids[rng.randrange(len(assessor_ids))] if state in WITH_ASSESSOR else None
        moderator = None
        if state in MODERATED:
            moderator = assessor_ids[(assessor_ids.index(assessor) + 1) % len(assessor_ids)]
        awarded = outcome in ("awarded", "partially_awarded")
        case_rows.append({
            "id": first_case + n, "candidate_id": candidate, "credential_id": credential.id,
            "workflow_key": definition.key, "workflow_version": definition.version, "state": state,
            "outcome": outcome, "assessor_id": assessor, "moderator_id": moderator,
            "decisions_open": state in DECIDING, "coordinator_id": coordinator_id if assessor else None,
            "opened_at": opened, "state_entered_at": entered,
            "submitted_at": None if state == "draft" else opened + (entered - opened) / 4,
            "evidence_requested_at": entered if state == "more_evidence" else None,
            "submission_round": 2 if state == "more_evidence" else 1,
            "due_at": entered + timedelta(days=spec.sla_days) if spec.sla_days and not spec.terminal else None,
            "awarded_at": entered if awarded else None, "awarded_by_id": coordinator_id if awarded else None,
            "closed_at": entered if outcome else None, "updated_at": entered, "lock_version": 1,
        })
    _batches(iter(case_rows), Case, progress, "cases")
    claims = _batches(({"case_id": row["id"], "outcome_id": outcome_id, "position": p + 1,
                        "self_assessment": "confident", "story": None}
                       for row in case_rows for p, outcome_id in enumerate(outcomes_of[row["credential_id"]])),
                      CaseClaim, progress, "claims")

    centre_of = {i: str(centres[n % 5].id) for n, i in enumerate(candidate_ids)}
    group_of = {i: groups[n % 4] or "" for n, i in enumerate(candidate_ids)}
    stays: dict[tuple[str, str, str, str, int], int] = {}

    def spans() -> Iterator[dict[str, Any]]:
        for row in case_rows:
            state = row["state"]
            before = PATH[: PATH.index(state)] if state in PATH else ([] if state == "withdrawn" else PATH)
            if not before:
                continue
            moment = row["opened_at"]
            step = (row["state_entered_at"] - moment) / len(before)
            hours = int(step.total_seconds() // 3600)
            following = [definition.state(s).stage for s in before[1:]] + [definition.state(state).stage]
            stay = 0
            for earlier, next_stage in zip(before, following, strict=True):
                left = moment + step
                stage = definition.state(earlier).stage
                yield {"case_id": row["id"], "credential_id": row["credential_id"], "state": earlier,
                       "stage": stage, "entered_at": moment, "left_at": left, "hours": hours}
                stay += hours
                if next_stage != stage:
                    month, days = f"{left.year:04d}-{left.month:02d}", reports.band(stay // 24)
                    for grouping, value in (("all", ""), ("credential", str(row["credential_id"])),
                                            ("centre", centre_of[row["candidate_id"]]),
                                            ("target_group", group_of[row["candidate_id"]])):
                        key = (month, grouping, value, stage, days)
                        stays[key] = stays.get(key, 0) + 1
                    stay = 0
                moment = left

    span_count = _batches(spans(), CaseStateSpan, progress, "stays")
    # The counts the demo's own cases made are added in, and the rows written anew.
    for row in db.session.execute(select(StageTimeCount)).scalars():
        key = (row.month, row.grouping, row.value, row.stage, row.days)
        stays[key] = stays.get(key, 0) + row.n
    db.session.execute(delete(StageTimeCount))
    _batches(({"month": k[0], "grouping": k[1], "value": k[2], "stage": k[3], "days": k[4], "n": n}
              for k, n in stays.items()), StageTimeCount, progress, "stage times")
    decisions: dict[tuple[str, str, str, str], int] = {}
    for row in db.session.execute(select(DecisionCount)).scalars():  # the demo's own
        decisions[(row.month, row.grouping, row.value, row.outcome)] = row.n
    db.session.execute(delete(DecisionCount))
    for row in case_rows:
        if row["outcome"] in ("awarded", "partially_awarded", "not_awarded"):
            closed = row["closed_at"]
            for grouping, value in (("all", ""), ("credential", str(row["credential_id"])),
                                    ("centre", centre_of[row["candidate_id"]]),
                                    ("target_group", group_of[row["candidate_id"]])):
                key = (f"{closed.year:04d}-{closed.month:02d}", grouping, value, row["outcome"])
                decisions[key] = decisions.get(key, 0) + 1
    _batches(({"month": k[0], "grouping": k[1], "value": k[2], "outcome": k[3], "n": n}
              for k, n in decisions.items()), DecisionCount, progress, "decisions")
    events = _audit_events(case_rows, events_wanted, coordinator_id, outcomes_of, progress)
    wrong = queues.recount() + staffing.recount_workloads()
    choices.restamp(db.session())  # people were written in bulk, past the hook that restamps the choices
    db.session.flush()
    progress(f"counts rebuilt ({wrong} changed)")
    db.session.commit()
    # Bulk-written tables have no statistics yet: without them PostgreSQL's planner guesses, badly.
    db.session.execute(text("ANALYZE"))
    return SeedReport(len(credentials), len(assessor_ids), len(candidate_ids), len(case_rows), claims, span_count,
                      events)


#: What each seeded case's trail tells, in turn, as the services record it (their columns and facts): the
#: case page's timeline then has the work of real events to do (a state's label, a verdict, a count). Every
#: case gets the same steps whatever its state: the trail is there to be read, not to retell the case.
_STEPS: list[tuple[str, str | None, str | None, str | None]] = [
    # (action, from state, to state, trigger)
    ("case.opened", None, "draft", None),
    ("evidence.added", None, None, None),
    ("evidence.added", None, None, None),
    ("case.transition", "draft", "submitted", "submit"),
    ("case.transition", "submitted", "screening", "start_screening"),
    ("case.assigned", None, None, None),
    ("case.transition", "screening", "under_review", "accept_for_review"),
    ("decision.recorded", None, None, None),
    ("decision.recorded", None, None, None),
    ("decision.recorded", None, None, None),
]


def _step_facts(action: str, trigger: str | None, step: int, row: dict[str, Any], outcomes: list[int],
                seq: int) -> dict[str, Any]:
    if action == "case.opened":
        return {"credential_id": row["credential_id"], "workflow": f"{row['workflow_key']}:{row['workflow_version']}",
                "outcomes_claimed": len(outcomes)}
    if action == "evidence.added":
        return {"item_id": seq, "kind": "statement", "outcomes": outcomes[:2], "size": None}
    if action == "case.transition":
        return {"trigger": trigger, "with_reason": False}
    if action == "case.assigned":
        return {"assessor_id": row["assessor_id"] or 0, "previous_assessor_id": None}
    outcome = outcomes[step % len(outcomes)] if outcomes else 0
    return {"decision_id": seq, "outcome_id": outcome, "verdict": "met", "criteria_met": 2}


def _audit_events(case_rows: list[dict[str, Any]], wanted: int, actor: int, outcomes_of: dict[int, list[int]],
                  progress: Callable[[str], None]) -> int:
    """`wanted` events spread over the cases, oldest first, each chained to the one before it."""
    last = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, previous = (last.seq, last.hash) if last else (0, GENESIS_HASH)
    per_case = max(wanted // max(len(case_rows), 1), 1)
    start = min(r["opened_at"] for r in case_rows)
    span = (utcnow() - start) / max(wanted, 1)

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal seq, previous
        made = 0
        while made < wanted:
            for row in case_rows:
                for k in range(per_case):
                    if made >= wanted:
                        return
                    seq += 1
                    made += 1
                    action, source, destination, trigger = _STEPS[k % len(_STEPS)]
                    outcomes = outcomes_of[row["credential_id"]]
                    facts = audit.canonical_json(_step_facts(action, trigger, k, row, outcomes, seq))
                    event = SimpleNamespace(seq=seq, occurred_at=start + span * made, actor_id=actor,
                                            action=action, case_id=row["id"], from_state=source,
                                            to_state=destination, facts=facts, prev_hash=previous)
                    digest = audit.compute_hash(event)  # type: ignore[arg-type]
                    yield {"seq": seq, "occurred_at": event.occurred_at, "actor_id": actor, "action": action,
                           "case_id": row["id"], "from_state": source, "to_state": destination, "facts": facts,
                           "prev_hash": previous, "hash": digest}
                    previous = digest

    return _batches(rows(), AuditEvent, progress, "audit events")


def first_case_id() -> int | None:
    return db.session.execute(select(func.min(Case.id)).where(Case.candidate.has(User.email.like("%@bench.example")))
                              ).scalar()


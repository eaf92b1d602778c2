"""Two people acting on the same case at the same moment: exactly one succeeds, the other is told that the case
changed since they opened it (or, without a page version, that the action no longer fits), and nothing is lost.

The races need real row locks and real concurrency, so they run on PostgreSQL only (in CI TEST_DATABASE_URL is
always set). The database's own refusal of a decision outside review runs on both databases.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from flask import Flask
from sqlalchemy import func, select

import workflows
from tests import factories
from tests.conftest import postgres_only
from validation.extensions import db
from validation.models import AuditEvent, Award, Case, CaseTransition, Credential, OutcomeDecision, User
from validation.services import assessment, audit, case_view, cases, catalog, staffing
from validation.services.errors import Conflict, ServiceError

STALE = "This case changed since you opened it."
ROUNDS = 200
DECISION_ROUNDS = 60
REASON = "A reason given in the race."


# --- running two people at once -------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One person's action: a trigger fired by the person playing `role` (None reason: none given)."""

    trigger: str
    role: str
    reason: str | None = None


@dataclass(frozen=True)
class Race:
    """Two conflicting actions on a case in `state`; `versioned`: both pages send the version they were built
    with (the loser is told the case changed), otherwise none (the loser's action no longer fits the state)."""

    state: str
    first: Action
    second: Action
    versioned: bool = True


RACES = [
    # The coordinator awards while a colleague returns the same recommendation to the assessor.
    Race("recommended", Action("award", "coordinator"), Action("return_for_review", "coordinator", REASON)),
    # The candidate withdraws while the coordinator starts screening the portfolio.
    Race("submitted", Action("withdraw", "candidate", REASON), Action("start_screening", "coordinator")),
    # The assigned assessor schedules an interview while the candidate withdraws.
    Race("under_review", Action("schedule_interview", "assessor"), Action("withdraw", "candidate", REASON)),
    # Pages without a version: the row lock alone serialises the two, and the second no longer fits the state.
    Race("screening", Action("accept_for_review", "coordinator"), Action("return_to_draft", "coordinator", REASON),
         versioned=False),
    Race("recommended", Action("award", "coordinator"), Action("return_for_review", "coordinator", REASON),
         versioned=False),
]


@dataclass
class Outcome:
    """What one thread saw: 'won', 'stale' (Conflict: the case changed), 'refused' (a workflow refusal)."""

    kind: str = "not run"
    detail: str = ""


@dataclass
class Round:
    race: Race
    case_id: int
    candidate_id: int
    version: int
    transitions_before: int
    results: list[Outcome] = field(default_factory=lambda: [Outcome(), Outcome()])


def run_together(
    app: Flask,
    works: list[Callable[[], None]],
    prepare: Callable[[], object] | None = None,
    timeout: float = 60,
) -> list[Outcome]:
    """Run each work in its own thread with its own app context (so its own session and connection), all
    released at the same moment by a barrier; commit what succeeds and roll back what is refused.

    `prepare` runs in each thread before the barrier, in the same session (what a request reads before it
    acts); what it returns is kept until the end of the request."""
    barrier = threading.Barrier(len(works))
    outcomes = [Outcome() for _ in works]
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            with app.app_context():
                try:
                    prepared = prepare() if prepare is not None else None
                    barrier.wait(timeout=timeout)
                    works[number]()
                    del prepared
                    db.session.commit()
                    outcomes[number] = Outcome("won")
                except Conflict as refusal:
                    db.session.rollback()
                    outcomes[number] = Outcome("stale", refusal.reason)
                except workflows.Refused as refusal:
                    db.session.rollback()
                    outcomes[number] = Outcome("refused", f"{type(refusal).__name__}: {refusal.reason}")
                finally:
                    db.session.remove()
        except BaseException as exc:  # collected and reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    if errors:
        raise errors[0]  # the first unexpected failure, as itself (anything but a refusal is a bug)
    return outcomes


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def _fire(case_id: int, action: Action, actor_id: int, version: int | None) -> Callable[[], None]:
    def work() -> None:
        cases.fire(case_id, action.trigger, _user(actor_id), action.reason, version)

    return work


# --- setting up many cases at once ------------------------------------------------------------------------


def small_catalog(folder: Path, outcomes: int = 2) -> Path:
    """The demo catalog with only the first outcomes of each credential: the same paths, fewer decisions."""
    data = yaml.safe_load(factories.CATALOG.read_text(encoding="utf-8"))
    for entry in data["credentials"]:
        entry["outcomes"] = entry["outcomes"][:outcomes]
        entry["credits"]["value"] = float(sum(Decimal(str(o["credits"])) for o in entry["outcomes"]))
    path = folder / "small-catalog.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _build_cases(app: Flask, rounds: int, folder: Path) -> tuple[dict[str, int], list[Round]]:
    """Every round's case, made through the services before the races: candidates x credentials, so that no
    candidate has two open cases for one credential. Each case commits on its own: the audit trail's advisory
    lock is one for the whole database, and a long transaction would hold up every other writer (other test
    workers included) until it ended."""
    plan: list[Round] = []
    with app.app_context():
        catalog.import_catalog(small_catalog(folder))
        who = factories.people()
        codes = sorted(set(db.session.execute(
            sa.select(Credential.code).where(Credential.status == "published")
        ).scalars()))
        db.session.commit()
        ids = {role: person.id for role, person in who.items()}
        candidates: list[int] = []
        for number in range(rounds):
            race = RACES[number % len(RACES)]
            slot, code = divmod(number, len(codes))
            if slot >= len(candidates):
                candidates.append(factories.user("candidate", f"racer-{slot}@test.example", f"Racer {slot}").id)
            people = {role: _user(i) for role, i in ids.items()}
            people["candidate"] = _user(candidates[slot])
            case = factories.case_in_state(race.state, people, codes[code])
            if race.state == "screening":
                cases.assign_assessor(case.id, ids["assessor"], people["coordinator"])
                db.session.flush()
            transitions = len(cases.transitions_of(case.id))
            plan.append(Round(race, case.id, candidates[slot], case.lock_version, transitions))
            db.session.commit()
        db.session.remove()
    return ids, plan


def _actor(action: Action, ids: dict[str, int], round_: Round) -> int:
    return round_.candidate_id if action.role == "candidate" else ids[action.role]


# --- the races ----------------------------------------------------------------------------------------------


@postgres_only
def test_two_people_firing_at_once_make_exactly_one_change(app: Flask, tmp_path: Path) -> None:
    ids, plan = _build_cases(app, ROUNDS, tmp_path)
    with app.app_context():
        seq_before = int(db.session.execute(sa.select(sa.func.max(AuditEvent.seq))).scalar_one())
        db.session.remove()

    started = time.monotonic()
    for round_ in plan:
        race = round_.race
        version = round_.version if race.versioned else None
        round_.results = run_together(app, [
            _fire(round_.case_id, race.first, _actor(race.first, ids, round_), version),
            _fire(round_.case_id, race.second, _actor(race.second, ids, round_), version),
        ])
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"{ROUNDS} races took {elapsed:.1f} s"

    definition = None
    first_wins: Counter[tuple[str, str, bool]] = Counter()
    with app.app_context():
        case_rows = {c.id: c for c in db.session.execute(sa.select(Case)).scalars()}
        transitions: dict[int, list[CaseTransition]] = {}
        for row in db.session.execute(sa.select(CaseTransition).order_by(CaseTransition.sequence)).scalars():
            transitions.setdefault(row.case_id, []).append(row)
        events: dict[int, list[AuditEvent]] = {}
        for event in db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.seq > seq_before).order_by(AuditEvent.seq)
        ).scalars():
            events.setdefault(event.case_id, []).append(event)
        awards = Counter(db.session.execute(
            sa.select(Award.case_id).where(Award.superseded_at.is_(None))
        ).scalars())

        for number, round_ in enumerate(plan):
            race, results = round_.race, round_.results
            where = f"round {number} ({race.first.trigger} vs {race.second.trigger}, case {round_.case_id})"
            kinds = sorted(r.kind for r in results)
            loser_kind = "stale" if race.versioned else "refused"
            assert kinds == sorted(["won", loser_kind]), f"{where}: {results}"
            winner_index = [r.kind for r in results].index("won")
            winner = (race.first, race.second)[winner_index]
            loser = results[1 - winner_index]
            first_wins[(race.first.trigger, race.second.trigger, race.versioned)] += winner_index == 0
            if race.versioned:
                assert loser.detail.startswith(STALE), f"{where}: {loser}"
            else:
                assert loser.detail.startswith("NotAllowed"), f"{where}: {loser}"

            case = case_rows[round_.case_id]
            definition = definition or cases.definition_for(case)
            destination = definition.transitions[winner.trigger].dest
            assert case.state == destination, where
            # Exactly one step on the version counter: one change, no lost update, nothing applied twice.
            assert case.lock_version == round_.version + 1, where
            new = transitions.get(case.id, [])[round_.transitions_before:]
            assert [(t.trigger, t.from_state, t.to_state, t.sequence) for t in new] == [
                (winner.trigger, race.state, destination, round_.transitions_before + 1)
            ], where
            assert new[0].actor_id == _actor(winner, ids, round_), where
            assert new[0].reason == winner.reason, where
            moved = [e for e in events.get(case.id, []) if e.action == "case.transition"]
            assert [(e.from_state, e.to_state, audit.facts_of(e)["trigger"]) for e in moved] == [
                (race.state, destination, winner.trigger)
            ], where
            # The award exists exactly when the award won.
            assert awards[case.id] == (1 if winner.trigger == "award" else 0), where

        # The whole trail is one unbroken chain, with every event of every round in it.
        report = audit.verify_chain()
        assert report.intact, report
        assert report.checked == int(db.session.execute(sa.select(sa.func.count(AuditEvent.seq))).scalar_one())
        db.session.remove()
    # Not asserted (who wins is up to the scheduler), but shown with -s: both sides do win.
    print(f"\n{ROUNDS} races in {elapsed:.1f} s; first action won: {dict(first_wins)}")


@postgres_only
def test_two_decisions_on_one_outcome_from_one_page_make_one_row(app: Flask) -> None:
    """The assessor sends the same outcome's form twice at once (two tabs, a double click on a slow line), each
    with the version its page was built with: one decision is kept, the other is told the case changed."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("under_review", who)
        case_id, assessor_id = case.id, who["assessor"].id
        outcomes = [c.outcome_id for c in cases.claimed(case)]
        db.session.commit()
        db.session.remove()

    def decide(outcome_id: int, verdict: str, version: int) -> Callable[[], None]:
        def work() -> None:
            rationale = None if verdict == "met" else "Not shown by the evidence."
            assessment.record_decision(case_id, outcome_id, _user(assessor_id), verdict, rationale, (), version)

        return work

    started = time.monotonic()
    winners: Counter[str] = Counter()
    for number in range(DECISION_ROUNDS):
        outcome_id = outcomes[number % len(outcomes)]
        with app.app_context():
            before = db.session.get(Case, case_id)
            assert before is not None
            version = before.lock_version
            rows_before = _decision_rows(case_id)
            db.session.remove()

        results = run_together(app, [decide(outcome_id, "met", version), decide(outcome_id, "not_met", version)])

        where = f"round {number} (outcome {outcome_id}): {results}"
        assert sorted(r.kind for r in results) == ["stale", "won"], where
        loser = next(r for r in results if r.kind == "stale")
        assert loser.detail.startswith(STALE), where
        verdict = "met" if results[0].kind == "won" else "not_met"
        winners[verdict] += 1
        with app.app_context():
            after = db.session.get(Case, case_id)
            assert after is not None
            assert after.lock_version == version + 1, where
            new = _decision_rows(case_id)[len(rows_before):]
            assert [(d.outcome_id, d.verdict) for d in new] == [(outcome_id, verdict)], where
            current = assessment.current_decisions(case_id)[outcome_id]
            assert current.id == new[0].id, where
            db.session.remove()
    elapsed = time.monotonic() - started

    with app.app_context():
        recorded = [e for e in audit.events_for_case(case_id) if e.action == "decision.recorded"]
        assert len(recorded) == DECISION_ROUNDS == len(_decision_rows(case_id))
        assert audit.verify_chain().intact
        db.session.remove()
    print(f"\n{DECISION_ROUNDS} decision races in {elapsed:.1f} s; kept: {dict(winners)}")


@postgres_only
def test_two_decisions_without_a_version_are_both_kept(app: Flask) -> None:
    """Without a page version nothing conflicts: two decisions on two outcomes at once both land, one after
    the other (the row lock queues them), and the version counter moves twice: no update is lost."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("under_review", who)
        case_id, assessor_id = case.id, who["assessor"].id
        outcomes = [c.outcome_id for c in cases.claimed(case)]
        db.session.commit()
        db.session.remove()

    def decide(outcome_id: int) -> Callable[[], None]:
        def work() -> None:
            assessment.record_decision(case_id, outcome_id, _user(assessor_id), "met", None)

        return work

    for number in range(DECISION_ROUNDS // 2):
        pair = (outcomes[(2 * number) % len(outcomes)], outcomes[(2 * number + 1) % len(outcomes)])
        with app.app_context():
            case = db.session.get(Case, case_id)
            assert case is not None
            version, rows_before = case.lock_version, len(_decision_rows(case_id))
            db.session.remove()
        results = run_together(app, [decide(pair[0]), decide(pair[1])])
        assert [r.kind for r in results] == ["won", "won"], results
        with app.app_context():
            case = db.session.get(Case, case_id)
            assert case is not None
            assert case.lock_version == version + 2
            new = _decision_rows(case_id)[rows_before:]
            assert sorted(d.outcome_id for d in new) == sorted(pair)
            db.session.remove()
    with app.app_context():
        assert audit.verify_chain().intact
        db.session.remove()


@postgres_only
def test_a_page_built_in_the_same_request_is_still_told_the_case_changed(app: Flask) -> None:
    """As the decide view does: build the case page (which loads the case), then record the decision with the
    version the form carried. Two such requests at once: the second must be told that the case changed."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        case = factories.case_in_state("under_review", who)
        case_id, assessor_id, version = case.id, who["assessor"].id, case.lock_version
        outcome_id = case.claims[0].outcome_id
        db.session.commit()
        db.session.remove()

    def build_page() -> object:
        return case_view.build(_user(assessor_id), case_id)  # the view's first line; the page holds the case

    def decide(verdict: str) -> Callable[[], None]:
        def work() -> None:
            rationale = None if verdict == "met" else "Not shown by the evidence."
            assessment.record_decision(case_id, outcome_id, _user(assessor_id), verdict, rationale, (), version)

        return work

    # Both pages are built before either decision is sent, so the second one always works on a loaded case.
    results = run_together(app, [decide("met"), decide("not_met")], prepare=build_page)
    assert sorted(r.kind for r in results) == ["stale", "won"], results
    with app.app_context():
        assert len(_decision_rows(case_id)) == 1
        db.session.remove()


def _decision_rows(case_id: int) -> list[OutcomeDecision]:
    return list(db.session.execute(
        sa.select(OutcomeDecision).where(OutcomeDecision.case_id == case_id).order_by(OutcomeDecision.id)
    ).scalars())


# --- the database's own refusal ----------------------------------------------------------------------------


def _count(model: type[Any]) -> int:
    return int(db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


def _insert_decision(case_id: int, outcome_id: int, assessor_id: int, round_: int) -> None:
    """A decision row written straight into the table, past every check of the service."""
    db.session.execute(
        sa.insert(OutcomeDecision).values(
            case_id=case_id, outcome_id=outcome_id, assessor_id=assessor_id, verdict="met", rationale=None,
            criteria_met=[], submission_round=round_,
        )
    )


@pytest.mark.parametrize(
    ("state", "who_decides"),
    [
        ("recommended", "assessor"),  # the assigned assessor, but the case has left review
        ("awarded", "assessor"),  # closed
        ("draft", "assessor"),  # not yet submitted, nobody assigned
        ("under_review", "other_assessor"),  # in review, but not their case
        ("under_review", "coordinator"),  # in review, not an assessor at all
    ],
)
def test_the_database_refuses_a_decision_outside_review_or_by_another_assessor(
    ctx: Flask, state: str, who_decides: str
) -> None:
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state(state, who)
    db.session.commit()
    case_id, outcome_id, round_ = case.id, case.claims[0].outcome_id, case.submission_round
    decider_id = who[who_decides].id
    before = (_count(OutcomeDecision), _count(AuditEvent), case.lock_version, case.state)

    # In one transaction with another change (an audit event): the refusal takes all of it back.
    audit.record("test.before_insert", case=case)
    with pytest.raises(sa.exc.IntegrityError, match="a decision needs a case in review and its assigned assessor"):
        _insert_decision(case_id, outcome_id, decider_id, round_)
        db.session.flush()
    db.session.rollback()

    case = db.session.get(Case, case_id)
    assert case is not None
    assert (_count(OutcomeDecision), _count(AuditEvent), case.lock_version, case.state) == before
    assert audit.verify_chain().intact


def test_the_database_accepts_a_direct_decision_by_the_assigned_assessor_in_review(ctx: Flask) -> None:
    """The other side of the trigger: it refuses only what it must (else the test above proves nothing)."""
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state("under_review", who)
    db.session.commit()
    _insert_decision(case.id, case.claims[0].outcome_id, who["assessor"].id, case.submission_round)
    db.session.commit()
    assert _count(OutcomeDecision) == 1


def test_the_database_refuses_a_decision_once_the_case_leaves_review_in_the_same_transaction(ctx: Flask) -> None:
    """The flag the trigger reads moves with the state in the same flush: a decision inserted after the
    recommendation, in the transaction that made it, is refused too."""
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state("under_review", who)
    factories.decide_all(case, who["assessor"], ["met"] * len(case.claims))
    db.session.commit()
    case_id, outcome_id, round_ = case.id, case.claims[0].outcome_id, case.submission_round
    decisions = _count(OutcomeDecision)
    cases.fire(case_id, "recommend", who["assessor"])
    with pytest.raises(sa.exc.IntegrityError, match="a decision needs a case in review"):
        _insert_decision(case_id, outcome_id, who["assessor"].id, round_)
    db.session.rollback()
    case = db.session.get(Case, case_id)
    assert case is not None and case.state == "under_review"
    assert _count(OutcomeDecision) == decisions


def test_a_service_refusal_of_a_decision_leaves_nothing(ctx: Flask) -> None:
    """Through the service the same attempts are refused with a message before the database is asked."""
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state("recommended", who)
    db.session.commit()
    before = (_count(OutcomeDecision), _count(AuditEvent), case.lock_version)
    for assessor in (who["assessor"], who["other_assessor"]):
        with pytest.raises(ServiceError):
            assessment.record_decision(case.id, case.claims[0].outcome_id, assessor, "met", None)
        db.session.rollback()
    case = db.session.get(Case, case.id)
    assert case is not None
    assert (_count(OutcomeDecision), _count(AuditEvent), case.lock_version) == before


@postgres_only
def test_assignments_at_once_keep_each_assessors_open_work_exact(app: Flask) -> None:
    """Four coordinators' requests at the same moment: two give new cases to the same assessor, two swap two
    cases' assessors in opposite directions (each takes the other's rows, in the one order the hook uses).
    Every kept count ends where a fresh count of the cases puts it, and nobody waits forever."""
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        made = []
        for index, state in enumerate(["screening", "screening", "under_review", "under_review"]):
            candidate = factories.user("candidate", f"w{index}@test.example", f"Candidate {index}")
            made.append(factories.case_in_state(state, {**who, "candidate": candidate}).id)
        cases.assign_assessor(made[3], who["other_assessor"].id, who["coordinator"])
        db.session.commit()
        ids = {k: u.id for k, u in who.items()}

    def assign(case_id: int, assessor: str) -> Callable[[], None]:
        return lambda: cases.assign_assessor(case_id, ids[assessor], _user(ids["coordinator"]))

    outcomes = run_together(app, [
        assign(made[0], "assessor"), assign(made[1], "assessor"),
        assign(made[2], "other_assessor"), assign(made[3], "assessor"),
    ])
    assert [o.kind for o in outcomes] == ["won"] * 4
    with app.app_context():
        actual = dict(db.session.execute(
            select(Case.assessor_id, func.count())
            .where(Case.outcome.is_(None), Case.assessor_id.is_not(None))
            .group_by(Case.assessor_id)
        ).all())
        assert actual == {ids["assessor"]: 3, ids["other_assessor"]: 1}
        assert staffing.open_workloads() == actual

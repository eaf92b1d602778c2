"""The coordinator's queue through its services: kept counts, every filter, ageing, keyset pages, bulk
assignment, and who is qualified to take a case. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests import factories
from validation.extensions import db
from validation.models import AssessorWorkload, AuditEvent, Case, CaseStateCount, Centre, User, utcnow
from validation.services import accounts, audit, cases, catalog, profiles, queues, review, staffing


def actual_counts() -> Counter[str]:
    rows = db.session.execute(select(Case.state, func.count()).group_by(Case.state))
    return Counter({state: n for state, n in rows})


@pytest.fixture
def world(ctx):  # type: ignore[no-untyped-def]
    """Cases of three credentials (two sectors), candidates of two centres, languages and target groups."""
    factories.load_catalog()
    who = factories.people()
    north = Centre(code="NORTH", name="North centre", country="UA")
    south = Centre(code="SOUTH", name="South centre", country="GE")
    db.session.add_all([north, south])
    db.session.flush()
    plan = [
        # (candidate e-mail, language, centre, target group, credential, state)
        ("a@test.example", "uk", north, "displaced", "UA-BAKERY", "draft"),
        ("b@test.example", "en", north, "career_changer", "UA-BAKERY", "under_review"),
        ("c@test.example", "uk", south, None, "GE-NET-SUPPORT", "screening"),
        ("d@test.example", "en", south, "displaced", "GE-NET-SUPPORT", "under_review"),
        ("e@test.example", "uk", north, "other", "AM-LINUX-TECH", "awarded"),
        ("f@test.example", "en", south, "displaced", "UA-BAKERY", "more_evidence"),
    ]
    made: dict[str, int] = {}
    for email, language, centre, group, code, state in plan:
        candidate = accounts.create_user(email=email, display_name=email.split("@")[0].upper(),
                                         password=factories.PASSWORD, role="candidate", actor=None,
                                         language=language, centre_id=centre.id)
        profiles.save_profile(candidate, language=language, phone=None, contact_by_email=True,
                              contact_by_phone=False, target_group=group, accessibility_needs=None)
        people = {**who, "candidate": candidate}
        made[email[0]] = factories.case_in_state(state, people, code=code).id
    db.session.commit()
    return {"who": who, "cases": made, "north": north.id, "south": south.id}


def ids(filters: queues.Filters, **kwargs) -> list[int]:  # type: ignore[no-untyped-def]
    return [r.case.id for r in queues.page(filters, **kwargs).rows]


# --- counts --------------------------------------------------------------------------------------------------


def test_the_kept_counts_match_the_cases_after_every_kind_of_change(world):
    assert queues.counts() == actual_counts()
    bakery = catalog.by_code("UA-BAKERY")
    assert queues.counts(bakery.id) == Counter({"draft": 1, "under_review": 1, "more_evidence": 1})
    # One more change of state, and a new case: still in step, and nothing to repair.
    who = world["who"]
    cases.fire(world["cases"]["c"], "return_to_draft", who["coordinator"], "Please add a photo.")
    db.session.commit()
    assert queues.counts() == actual_counts()
    assert queues.recount() == 0


def actual_workloads() -> dict[int, int]:
    rows = db.session.execute(
        select(Case.assessor_id, func.count())
        .where(Case.outcome.is_(None), Case.assessor_id.is_not(None))
        .group_by(Case.assessor_id)
    )
    return dict(rows.all())


def test_the_kept_workloads_follow_every_change_of_assessor_and_outcome(world):
    who, made = world["who"], world["cases"]
    assessor, other, coordinator = who["assessor"], who["other_assessor"], who["coordinator"]
    assert staffing.open_workloads() == actual_workloads() and actual_workloads()[assessor.id] >= 2
    steps = [
        # reassigned: one less for the assessor, one more for the other
        lambda: cases.assign_assessor(made["b"], other.id, coordinator),
        # a case with no assessor yet is assigned
        lambda: cases.assign_assessor(made["c"], assessor.id, coordinator),
        # a declared conflict takes the assessor off the case
        lambda: review.declare(made["b"], other, True, "My neighbour."),
        # a case closed by withdrawal is no longer open work
        lambda: cases.fire(made["d"], "withdraw", coordinator, "The candidate moved abroad."),
    ]
    for step in steps:
        step()
        db.session.commit()
        assert staffing.open_workloads() == actual_workloads()
    assert staffing.recount_workloads() == 0


def test_recount_repairs_a_workload_that_went_wrong(world):
    assessor = world["who"]["assessor"]
    db.session.execute(update(AssessorWorkload).where(AssessorWorkload.assessor_id == assessor.id)
                       .values(open_cases=40))
    assert staffing.open_workloads()[assessor.id] == 40
    assert staffing.recount_workloads() == 1
    assert staffing.open_workloads() == actual_workloads()


def test_recount_repairs_a_count_that_went_wrong(world):
    bakery = catalog.by_code("UA-BAKERY")
    db.session.execute(update(CaseStateCount).where(CaseStateCount.credential_id == bakery.id,
                                                    CaseStateCount.state == "draft").values(n=CaseStateCount.n + 5))
    db.session.commit()
    assert queues.counts()["draft"] == actual_counts()["draft"] + 5
    assert queues.recount() == 1
    db.session.commit()
    assert queues.counts() == actual_counts()


# --- filters -------------------------------------------------------------------------------------------------


def test_each_filter_keeps_exactly_its_cases(world):
    c = world["cases"]
    who = world["who"]
    bakery = catalog.by_code("UA-BAKERY")
    everything = ids(queues.Filters())
    assert sorted(everything) == sorted(c.values())
    expected = {
        queues.Filters(credential_id=bakery.id): {c["a"], c["b"], c["f"]},
        queues.Filters(sector="ict"): {c["c"], c["d"], c["e"]},
        queues.Filters(centre_id=world["south"]): {c["c"], c["d"], c["f"]},
        queues.Filters(language="uk"): {c["a"], c["c"], c["e"]},
        queues.Filters(target_group="displaced"): {c["a"], c["d"], c["f"]},
        queues.Filters(state="under_review"): {c["b"], c["d"]},
        queues.Filters(assessor=str(who["assessor"].id)): {c["b"], c["d"], c["e"], c["f"]},
        queues.Filters(assessor=queues.UNASSIGNED): {c["a"], c["c"]},
        # Filters combine.
        queues.Filters(sector="food", language="en", target_group="displaced"): {c["f"]},
        queues.Filters(state="draft", centre_id=world["south"]): set(),
    }
    for filters, wanted in expected.items():
        assert set(ids(filters)) == wanted, filters


def test_a_filter_applied_again_with_another_value_keeps_that_values_cases(world):
    """Each shape of filters has one statement, built once; the values are bound at each request, so a second
    value must not see the first one's cases."""
    c = world["cases"]
    bakery, network = catalog.by_code("UA-BAKERY"), catalog.by_code("GE-NET-SUPPORT")
    for _ in range(2):
        assert set(ids(queues.Filters(credential_id=bakery.id, language="uk"))) == {c["a"]}
        assert set(ids(queues.Filters(credential_id=network.id, language="en"))) == {c["d"]}
        assert set(ids(queues.Filters(state="screening", centre_id=world["south"]))) == {c["c"]}
        assert set(ids(queues.Filters(state="more_evidence", centre_id=world["south"]))) == {c["f"]}
        assert set(ids(queues.Filters(sector="food", target_group="career_changer"))) == {c["b"]}
        assert set(ids(queues.Filters(sector="ict", target_group="other"))) == {c["e"]}


def test_ageing_marks_cases_past_their_states_sla(world):
    c = world["cases"]
    now = utcnow()
    assert ids(queues.Filters(overdue=True), now=now) == []
    # Screening's SLA is 10 days, review's 21, more evidence 30, draft 60: eleven days on, screening is late.
    later = now + timedelta(days=11)
    assert ids(queues.Filters(overdue=True), now=later) == [c["c"]]
    rows = {r.case.id: r for r in queues.page(queues.Filters(), now=later).rows}
    assert rows[c["c"]].overdue and rows[c["c"]].days_to_due < 0 and rows[c["c"]].days_in_state == 11
    assert not rows[c["b"]].overdue and rows[c["e"]].days_to_due is None  # awarded: closed, no due date
    much_later = now + timedelta(days=31)
    assert set(ids(queues.Filters(overdue=True), now=much_later)) == {c["b"], c["c"], c["d"], c["f"]}
    assert set(ids(queues.Filters(min_days=5), now=now + timedelta(days=6))) == set(c.values())
    assert ids(queues.Filters(min_days=5), now=now) == []


def test_pages_follow_each_other_without_gaps_or_repeats(world):
    for sort in queues.SORTS:
        seen: list[int] = []
        after = None
        pages = 0
        while True:
            page = queues.page(queues.Filters(sort=sort), after, limit=2)
            seen += [r.case.id for r in page.rows]
            pages += 1
            if page.next_after is None:
                break
            after = page.next_after
        expected = list(db.session.execute(
            select(Case.id).where(Case.due_at.is_not(None)).order_by(Case.due_at, Case.id)
            if sort == "due" else select(Case.id).order_by(Case.state_entered_at, Case.id)
        ).scalars())
        assert seen == expected, sort
        assert pages == -(-len(expected) // 2)  # full pages of two, and no empty page at the end


def test_a_cursor_that_is_not_ours_starts_from_the_first_page(world):
    first = ids(queues.Filters())
    for junk in ("", "x", "2026-13-01T00:00:00+00:00_5", "2026-01-01T00:00:00_5", "_", "now_'; drop"):
        assert ids(queues.Filters(), after=junk) == first, junk


# --- qualifications and assignment ------------------------------------------------------------------------------


def test_an_unqualified_assignment_is_refused_with_the_reason(world):
    who = world["who"]
    case = db.session.get(Case, world["cases"]["c"])  # network support (ict), a Ukrainian-speaking candidate
    baker = factories.user("assessor", "baker@test.example", "Baker")
    factories.qualify(baker, who["admin"], sectors=("food",))
    english_only = factories.user("assessor", "english@test.example", "English only")
    factories.qualify(english_only, who["admin"], languages=("en",))
    db.session.commit()
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    with pytest.raises(Exception) as refused:
        cases.assign_assessor(case.id, baker.id, who["coordinator"])
    assert getattr(refused.value, "reason", "") == staffing.NOT_QUALIFIED
    with pytest.raises(Exception) as refused:
        cases.assign_assessor(case.id, english_only.id, who["coordinator"])
    assert getattr(refused.value, "reason", "") == staffing.NO_LANGUAGE
    db.session.rollback()
    assert db.session.get(Case, case.id).assessor_id is None
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before
    # Named credentials qualify as well as whole sectors.
    factories.qualify(baker, who["admin"], sectors=())
    staffing.set_qualifications(baker.id, who["admin"], [case.credential_id], [], ["uk"])
    cases.assign_assessor(case.id, baker.id, who["coordinator"])
    assert case.assessor_id == baker.id


def test_the_suggestion_is_the_qualified_assessor_with_the_least_open_work(world):
    who = world["who"]
    case = db.session.get(Case, world["cases"]["a"])
    # The assessor has three open cases (b, d, f), the other assessor none; a third one is not qualified.
    outsider = factories.user("assessor", "outsider@test.example", "Outsider")
    choices = staffing.choices(case)
    order = [(c.assessor, c.open_cases, c.refusal) for c in choices]
    assert order == [
        ((who["other_assessor"].id, "Other assessor"), 0, None),
        ((who["assessor"].id, "Assessor"), 3, None),
        ((outsider.id, "Outsider"), 0, staffing.NOT_QUALIFIED),
    ]
    assert staffing.suggestion(case).id == who["other_assessor"].id
    assert staffing.suggestion(case, exclude=[who["other_assessor"].id]).id == who["assessor"].id
    assert outsider.id not in {u.id for u in [staffing.suggestion(case)]}


def test_the_choices_follow_open_work_as_it_changes(world):
    """The choices are kept per roster and kind of case; a change to anyone's open work sorts them afresh."""
    who = world["who"]
    case = db.session.get(Case, world["cases"]["a"])
    assert [c.assessor.id for c in staffing.choices(case)][:2] == [who["other_assessor"].id, who["assessor"].id]
    assert staffing.choices(case) == staffing.choices(case)
    # One list for every case of the same kind (credential and language), whoever its candidate: what is kept
    # grows with the kinds of case, not with the candidates.
    other = accounts.create_user(email="k@test.example", display_name="K", password=factories.PASSWORD,
                                 role="candidate", actor=None, language=case.candidate.preferred_language)
    same_kind = factories.case_in_state("draft", {**who, "candidate": other}, code="UA-BAKERY")
    assert same_kind.candidate_id != case.candidate_id
    assert staffing.choices(same_kind) is staffing.choices(case)
    # The other assessor takes four cases: the assessor, with three, now has the least open work.
    for _ in range(4):
        candidate = factories.user("candidate", f"w{_}@test.example", f"W{_}")
        factories.case_in_state("under_review", {**who, "candidate": candidate, "assessor": who["other_assessor"]},
                                code="UA-BAKERY")
    db.session.commit()
    order = [(c.assessor.id, c.open_cases) for c in staffing.choices(case)][:2]
    assert order == [(who["assessor"].id, 3), (who["other_assessor"].id, 4)]
    assert staffing.suggestion(case).id == who["assessor"].id


def _choice_of(case: Case, assessor_id: int) -> staffing.Choice:
    return next(c for c in staffing.choices(case) if c.assessor.id == assessor_id)


def test_the_choices_follow_each_change_to_qualifications_and_accounts_at_once(world):
    """The roster behind the choices is kept between pages: every change reaches the next choice all the same."""
    who = world["who"]
    case = db.session.get(Case, world["cases"]["a"])  # bakery (food), a Ukrainian-speaking candidate
    assessor = who["assessor"]
    assert _choice_of(case, assessor.id).refusal is None
    db.session.commit()
    # Qualifications taken away with nothing in their place: only rows removed.
    staffing.set_qualifications(assessor.id, who["admin"], [], [], [])
    assert _choice_of(case, assessor.id).refusal == staffing.NOT_QUALIFIED
    db.session.commit()
    assert _choice_of(case, assessor.id).refusal == staffing.NOT_QUALIFIED
    staffing.set_qualifications(assessor.id, who["admin"], [case.credential_id], [], ["en"])
    db.session.commit()
    assert _choice_of(case, assessor.id).refusal == staffing.NO_LANGUAGE
    factories.qualify(assessor, who["admin"])
    db.session.commit()
    assert _choice_of(case, assessor.id).refusal is None
    # A renamed assessor, a new one, one made inactive.
    assessor.display_name = "Renamed"
    newcomer = factories.user("assessor", "newcomer@test.example", "Newcomer")
    who["other_assessor"].active = False
    db.session.commit()
    listed = {c.assessor.id: c.assessor.display_name for c in staffing.choices(case)}
    assert listed[assessor.id] == "Renamed"
    assert newcomer.id in listed
    assert who["other_assessor"].id not in listed


def test_a_change_rolled_back_never_stays_in_the_kept_roster(world):
    who = world["who"]
    case = db.session.get(Case, world["cases"]["a"])
    assessor = who["assessor"]
    assessor_id = assessor.id

    def loaded() -> None:
        """The case and the assessor as a page has them, read before the change: the change is then written
        by the roster's own read, after its stamp was read (the order that could keep a change under the stamp
        from before it)."""
        db.session.refresh(case)
        db.session.refresh(assessor)
        assert case.credential.sector and case.candidate.preferred_language

    assert _choice_of(case, assessor_id).assessor.display_name == "Assessor"
    db.session.commit()
    loaded()
    assessor.display_name = "Never saved"
    assert _choice_of(case, assessor_id).assessor.display_name == "Never saved"
    db.session.rollback()
    assert _choice_of(case, assessor_id).assessor.display_name == "Assessor"


def test_only_admins_set_qualifications_and_every_change_is_audited(world):
    who = world["who"]
    with pytest.raises(Exception) as refused:
        staffing.set_qualifications(who["assessor"].id, who["coordinator"], [], ["food"], ["uk"])
    assert "administrators" in str(refused.value)
    with pytest.raises(Exception):
        staffing.set_qualifications(who["candidate"].id, who["admin"], [], ["food"], ["uk"])
    held = staffing.set_qualifications(who["assessor"].id, who["admin"], [], ["food", "food"], ["uk"])
    assert held.sectors == {"food"} and held.languages == {"uk"} and not held.credential_ids
    (event,) = [e for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalars()]
    assert event.action == "assessor.qualified"
    assert audit.facts_of(event) == {"subject_id": who["assessor"].id, "credential_ids": [], "sectors": ["food"],
                                     "languages": ["uk"]}


# --- bulk assignment ------------------------------------------------------------------------------------------


def test_bulk_assignment_takes_each_case_on_its_own(world):
    who = world["who"]
    c = world["cases"]
    screening, draft, closed, stale = (db.session.get(Case, c[k]) for k in ("c", "a", "e", "d"))
    selection = [(screening.id, screening.lock_version), (draft.id, draft.lock_version),
                 (closed.id, closed.lock_version), (stale.id, stale.lock_version - 1)]
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    report = queues.bulk_assign(selection, who["other_assessor"].id, who["coordinator"])
    db.session.commit()
    assert sorted(report.done) == sorted([screening.id, draft.id])
    reasons = dict(report.refused)
    assert reasons[closed.id] == "This case is closed; it can no longer be assigned."
    assert "changed" in reasons[stale.id]
    assert db.session.get(Case, screening.id).assessor_id == who["other_assessor"].id
    assert db.session.get(Case, stale.id).assessor_id == who["assessor"].id  # untouched
    assigned = db.session.execute(
        select(AuditEvent).where(AuditEvent.seq > before).order_by(AuditEvent.seq)
    ).scalars().all()
    # Each case on its own: its assignment, and the notification that tells the assessor.
    assert [e.action for e in assigned] == ["case.assigned", "notification.created"] * 2
    assert [e.case_id for e in assigned if e.action == "case.assigned"] == [screening.id, draft.id]
    assert audit.verify_chain().intact


def test_the_selection_is_read_leniently(world):
    assert queues.parse_selection(["3:7", "3:8", "x", "5", "9:", ":4", "12:abc"]) == [
        (3, 8), (5, None), (9, None), (12, None)]


def test_an_unknown_assessor_in_a_bulk_assignment_changes_nothing(world):
    who = world["who"]
    case = db.session.get(Case, world["cases"]["c"])
    report = queues.bulk_assign([(case.id, case.lock_version)], 999_999, who["coordinator"])
    assert report.done == [] and report.refused == [(case.id, "Choose an active assessor.")]
    assert db.session.get(User, 999_999) is None and case.assessor_id is None


def test_the_recount_command_repairs_and_says_how_many(world, app):
    bakery = catalog.by_code("UA-BAKERY")
    db.session.execute(update(CaseStateCount).where(CaseStateCount.credential_id == bakery.id,
                                                    CaseStateCount.state == "draft").values(n=0))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["queues", "recount"])
    assert result.exit_code == 0 and "1 count(s) corrected." in result.output
    db.session.remove()
    assert queues.counts() == actual_counts()
    again = app.test_cli_runner().invoke(args=["queues", "recount"])
    assert "0 count(s) corrected." in again.output


# --- reminders -----------------------------------------------------------------------------------------------


def test_a_bulk_reminder_tells_whoever_each_case_waits_for_in_their_language(world):
    from validation.models import Notification, OutboundMessage

    who = world["who"]
    c = world["cases"]
    draft, review, closed = (db.session.get(Case, c[k]) for k in ("a", "b", "e"))  # a: Ukrainian candidate
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    report = queues.bulk_remind([(draft.id, None), (review.id, 1), (closed.id, None)], who["coordinator"])
    db.session.commit()
    assert sorted(report.done) == sorted([draft.id, review.id])
    assert report.refused == [(closed.id, "This case is closed; nobody is waiting to be reminded.")]
    told = {n.case_id: n.user_id for n in db.session.execute(
        select(Notification).where(Notification.kind == "reminder")).scalars()}
    assert told == {draft.id: draft.candidate_id, review.id: who["assessor"].id}
    ukrainian = db.session.execute(
        select(OutboundMessage).where(OutboundMessage.to_address == "a@test.example")).scalars().all()
    assert [m.language for m in ukrainian if "нагад" in m.subject.lower()] == ["uk"]
    actions = db.session.execute(
        select(AuditEvent.action, AuditEvent.case_id).where(AuditEvent.seq > before).order_by(AuditEvent.seq)
    ).all()
    assert [a for a in actions if a[0] == "case.reminded"] == [("case.reminded", draft.id),
                                                              ("case.reminded", review.id)]
    assert draft.lock_version == db.session.get(Case, draft.id).lock_version  # nothing about the case changed


def test_only_coordinators_send_reminders(world):
    with pytest.raises(Exception) as refused:
        queues.bulk_remind([(world["cases"]["a"], None)], world["who"]["assessor"])
    assert "coordinators" in str(refused.value)

"""The probe of a case's optional records: what it found empty is read as empty only until something is
written, so no page misses a record its own request made. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from tests import factories
from validation.extensions import db
from validation.models import Case, IntakeResponse, Interview, User, utcnow
from validation.services import intake, interviews, presence


def probed(state: str) -> tuple[Case, dict[str, User]]:
    """A case in `state`, committed and probed, with the people around it."""
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state(state, who)
    db.session.commit()
    presence.probe(case.id, case.candidate_id)
    return case, who


def test_an_empty_table_is_read_as_empty_until_the_session_writes(ctx):
    case, who = probed("under_review")
    assert presence.empty(case.id, "interviews")
    assert not presence.empty(case.id + 1, "interviews")  # another case was not probed
    assert interviews.interviews_of(case.id) == []
    db.session.add(Interview(case_id=case.id, assessor_id=who["assessor"].id, kind="interview",
                             scheduled_for=utcnow() + timedelta(days=2), place="Room 4"))
    # The read flushes the new row first, and the flush forgets what the probe found.
    assert [i.place for i in interviews.interviews_of(case.id)] == ["Room 4"]
    assert not presence.empty(case.id, "interviews")
    presence.probe(case.id, case.candidate_id)
    assert not presence.empty(case.id, "interviews") and presence.empty(case.id, "appeals")
    db.session.commit()
    assert not presence.empty(case.id, "appeals")  # a commit forgets it too
    presence.probe(case.id, case.candidate_id)
    db.session.rollback()
    assert not presence.empty(case.id, "appeals")


def test_the_probe_sees_every_kind_of_record_it_names(ctx):
    awarded, _who = probed("awarded")
    found = {name for name in presence.PROBED if not presence.empty(awarded.id, name)}
    assert {"awards", "outcome_decisions"} <= found, found
    assert db.session.get(Case, awarded.id).outcome is not None


def test_a_candidate_without_intake_answers_is_probed_too(ctx):
    """The intake section of the case page: the candidate's answers, read only when there are some."""
    case, who = probed("under_review")
    assert presence.empty_for_candidate(case.candidate_id, "intake_responses")
    assert not presence.empty_for_candidate(who["assessor"].id, "intake_responses")  # not the probed one
    assert intake.latest_for(case.candidate_id) is None
    db.session.add(IntakeResponse(user_id=case.candidate_id, form_key="general", form_version=1, language="en",
                                  answers={}))
    assert intake.latest_for(case.candidate_id) is not None  # waiting in the session: read, and flushed first

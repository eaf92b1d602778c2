"""Guards in isolation: pure, plain-language, and blind to anything but CaseFacts."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from workflows import GUARDS, CaseFacts


def test_guard_names_are_the_agreed_set() -> None:
    assert set(GUARDS) == {
        "claims_outcomes",
        "evidence_for_every_claim",
        "assessor_assigned",
        "new_evidence_since_request",
        "every_claim_decided",
        "all_claims_met",
        "some_claims_met",
        "no_claim_met",
        "moderation_selected",
        "moderator_assigned",
        "moderation_reviewed",
        "moderation_agrees",
        "moderation_disagrees",
        "moderation_cleared",
        "within_appeal_period",
        "fresh_assessor_assigned",
    }


def test_case_facts_are_read_only_copies() -> None:
    evidence = {"LO1": 1}
    facts = CaseFacts(state="draft", claimed_outcomes=["LO1", "LO1"], evidence_by_outcome=evidence)  # type: ignore[arg-type]
    evidence["LO2"] = 5
    assert dict(facts.evidence_by_outcome) == {"LO1": 1}
    assert facts.claimed_outcomes == ("LO1",)
    assert isinstance(facts.decisions, MappingProxyType)
    with pytest.raises(TypeError):
        facts.evidence_by_outcome["LO3"] = 1  # type: ignore[index]
    with pytest.raises(AttributeError):
        facts.state = "submitted"  # type: ignore[misc]


def test_default_mappings_are_not_shared_mutable_state() -> None:
    first, second = CaseFacts(state="a"), CaseFacts(state="b")
    assert dict(first.decisions) == {} == dict(second.evidence_by_outcome)
    with pytest.raises(TypeError):
        first.decisions["LO1"] = "met"  # type: ignore[index]


SATISFIED = CaseFacts(
    state="recommended",
    claimed_outcomes=("LO1",),
    evidence_by_outcome={"LO1": 1},
    assessor_assigned=True,
    decisions={"LO1": "met"},
    items_since_request=1,
)


@pytest.mark.parametrize(
    "name",
    [
        "claims_outcomes",
        "evidence_for_every_claim",
        "assessor_assigned",
        "new_evidence_since_request",
        "every_claim_decided",
        "all_claims_met",
        "no_claim_met",
    ],
)
def test_guard_returns_none_when_satisfied(name: str) -> None:
    facts = SATISFIED
    if name == "no_claim_met":
        facts = CaseFacts(state="recommended", claimed_outcomes=("LO1",), decisions={"LO1": "not_met"})
    assert GUARDS[name](facts) is None


def test_some_claims_met_accepts_a_mixed_result() -> None:
    facts = CaseFacts(
        state="recommended", claimed_outcomes=("LO1", "LO2"), decisions={"LO1": "met", "LO2": "not_met"}
    )
    assert GUARDS["some_claims_met"](facts) is None


@pytest.mark.parametrize("name", sorted(GUARDS))
def test_every_refusal_is_a_full_sentence(name: str) -> None:
    hostile = CaseFacts(
        state="recommended",
        claimed_outcomes=("LO1", "LO2"),
        decisions={"LO1": "met", "LO2": "more_evidence"},
        moderation_selected=True,
        moderation_views={"LO2": False},
    )
    empty = CaseFacts(state="draft")
    texts = [text for text in (GUARDS[name](hostile), GUARDS[name](empty)) if text is not None]
    assert texts, f"{name} never refuses"
    for text in texts:
        assert text[0].isupper() and text.endswith("."), text


def test_more_evidence_decision_counts_as_not_met_for_awards() -> None:
    facts = CaseFacts(state="recommended", claimed_outcomes=("LO1",), decisions={"LO1": "more_evidence"})
    assert GUARDS["every_claim_decided"](facts) is not None
    assert GUARDS["all_claims_met"](facts) is not None
    assert GUARDS["no_claim_met"](facts) is None


def test_moderation_guards_follow_the_moderators_views() -> None:
    base = {"state": "moderation", "claimed_outcomes": ("LO1", "LO2"), "moderation_selected": True,
            "moderator_assigned": True}
    partial = CaseFacts(**base, moderation_views={"LO1": True})
    assert "LO2" in str(GUARDS["moderation_reviewed"](partial))
    agreeing = CaseFacts(**base, moderation_views={"LO1": True, "LO2": True})
    assert GUARDS["moderation_reviewed"](agreeing) is None
    assert GUARDS["moderation_agrees"](agreeing) is None
    assert GUARDS["moderation_disagrees"](agreeing) is not None
    disputed = CaseFacts(**base, moderation_views={"LO1": True, "LO2": False})
    assert "LO2" in str(GUARDS["moderation_agrees"](disputed))
    assert GUARDS["moderation_disagrees"](disputed) is None


def test_a_selected_recommendation_is_cleared_only_once_moderated() -> None:
    assert GUARDS["moderation_cleared"](CaseFacts(state="recommended")) is None
    selected = CaseFacts(state="recommended", moderation_selected=True)
    assert GUARDS["moderation_cleared"](selected) is not None
    done = CaseFacts(state="recommended", moderation_selected=True, moderation_done=True)
    assert GUARDS["moderation_cleared"](done) is None


def test_an_appeal_needs_the_period_running_and_fresh_eyes() -> None:
    closed = CaseFacts(state="awarded", appeal_days=30, appeal_open=False)
    assert "30" in str(GUARDS["within_appeal_period"](closed))
    assert GUARDS["within_appeal_period"](CaseFacts(state="awarded", appeal_open=True)) is None
    assert GUARDS["fresh_assessor_assigned"](CaseFacts(state="appealed")) is not None
    assert GUARDS["fresh_assessor_assigned"](CaseFacts(state="appealed", fresh_assessor_assigned=True)) is None

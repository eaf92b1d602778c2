"""Outcomes left out of the claim: a full award is impossible, a partial one possible with the rest met."""

from __future__ import annotations

import pytest

import workflows

CLAIMED = ("LO1", "LO2")


def _facts(**overrides):  # type: ignore[no-untyped-def]
    values = {
        "state": "recommended",
        "claimed_outcomes": CLAIMED,
        "evidence_by_outcome": dict.fromkeys(CLAIMED, 1),
        "assessor_assigned": True,
        "decisions": dict.fromkeys(CLAIMED, "met"),
        "unclaimed_outcomes": ("LO3",),
    }
    values.update(overrides)
    return workflows.CaseFacts(**values)


def test_full_award_is_refused_while_an_outcome_is_unclaimed():
    with pytest.raises(workflows.GuardRefused) as refused:
        workflows.default_registry().fire("standard", 1, _facts(), "award", "coordinator")
    assert refused.value.reason.startswith("Outcomes not claimed: LO3.")


def test_partial_award_is_possible_with_every_claimed_outcome_met():
    assert workflows.default_registry().fire("standard", 1, _facts(), "award_partially", "coordinator") == (
        "partially_awarded"
    )


def test_without_unclaimed_outcomes_the_full_award_stands():
    registry = workflows.default_registry()
    assert registry.fire("standard", 1, _facts(unclaimed_outcomes=()), "award", "coordinator") == "awarded"
    with pytest.raises(workflows.GuardRefused):
        registry.fire("standard", 1, _facts(unclaimed_outcomes=()), "award_partially", "coordinator")


def test_unclaimed_outcomes_do_not_need_evidence():
    facts = _facts(state="draft", decisions={}, assessor_assigned=False)
    assert workflows.default_registry().fire("standard", 1, facts, "submit", "candidate") == "submitted"

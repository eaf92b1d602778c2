"""Behaviour of the shipped ``standard`` workflow, exercised through ``Registry.fire``.

The expected states and transitions are written out here independently of the YAML, so that an
accidental edit of the definition (a lost guard, a widened role) fails a test instead of shipping.
"""

from __future__ import annotations

import itertools

import pytest

from workflows import (
    DEFINITIONS_DIR,
    GUARDS,
    ROLES,
    CaseFacts,
    GuardRefused,
    NotAllowed,
    ReasonRequired,
    Registry,
    RoleNotAllowed,
    default_registry,
)

KEY, VERSION = "standard", 1

# name: (label, stage, sla_days, terminal, outcome)
EXPECTED_STATES = {
    "draft": ("Draft", "identification", 60, False, None),
    "submitted": ("Submitted", "documentation", 5, False, None),
    "screening": ("Screening", "documentation", 10, False, None),
    "more_evidence": ("More evidence requested", "documentation", 30, False, None),
    "under_review": ("Under review", "assessment", 21, False, None),
    "interview": ("Interview", "assessment", 14, False, None),
    "recommended": ("Recommended", "assessment", 7, False, None),
    "awarded": ("Awarded", "certification", None, True, "awarded"),
    "partially_awarded": ("Partially awarded", "certification", None, True, "partially_awarded"),
    "not_awarded": ("Not awarded", "certification", None, True, "not_awarded"),
    "withdrawn": ("Withdrawn", "certification", None, True, "withdrawn"),
}

OPEN_STATES = ("draft", "submitted", "screening", "more_evidence", "under_review", "interview", "recommended")

# trigger: (sources, dest, roles, guards, reason_required)
EXPECTED_TRANSITIONS = {
    "submit": (
        ("draft",),
        "submitted",
        {"candidate"},
        ("claims_outcomes", "evidence_for_every_claim"),
        False,
    ),
    "start_screening": (("submitted",), "screening", {"coordinator"}, (), False),
    "return_to_draft": (("screening",), "draft", {"coordinator"}, (), True),
    "accept_for_review": (("screening",), "under_review", {"coordinator"}, ("assessor_assigned",), False),
    "request_more_evidence": (("under_review", "interview"), "more_evidence", {"assessor"}, (), True),
    "resubmit": (
        ("more_evidence",),
        "under_review",
        {"candidate"},
        ("new_evidence_since_request", "evidence_for_every_claim"),
        False,
    ),
    "schedule_interview": (("under_review",), "interview", {"assessor"}, (), False),
    "finish_interview": (("interview",), "under_review", {"assessor"}, (), False),
    "recommend": (
        ("under_review", "interview"),
        "recommended",
        {"assessor"},
        ("every_claim_decided",),
        False,
    ),
    "return_for_review": (("recommended",), "under_review", {"coordinator"}, (), True),
    "award": (("recommended",), "awarded", {"coordinator"}, ("every_claim_decided", "all_claims_met"), False),
    "award_partially": (
        ("recommended",),
        "partially_awarded",
        {"coordinator"},
        ("every_claim_decided", "some_claims_met"),
        False,
    ),
    "refuse_award": (
        ("recommended",),
        "not_awarded",
        {"coordinator"},
        ("every_claim_decided", "no_claim_met"),
        True,
    ),
    "withdraw": (OPEN_STATES, "withdrawn", {"candidate", "coordinator"}, (), True),
}

ALLOWED_PAIRS = [(s, t) for t, (sources, *_rest) in EXPECTED_TRANSITIONS.items() for s in sources]
FORBIDDEN_PAIRS = [
    (s, t) for s, t in itertools.product(EXPECTED_STATES, EXPECTED_TRANSITIONS) if (s, t) not in ALLOWED_PAIRS
]
ROLE_MISMATCHES = [
    (t, role)
    for t, (_s, _d, roles, *_rest) in EXPECTED_TRANSITIONS.items()
    for role in sorted(ROLES | {"visitor", ""})
    if role not in roles
]
REASON_TRIGGERS = [t for t, spec in EXPECTED_TRANSITIONS.items() if spec[4]]


def satisfying_facts(state: str, trigger: str) -> CaseFacts:
    """Facts under which every guard of ``trigger`` holds; the decisions depend on the kind of award."""
    decisions = {"LO1": "met", "LO2": "met"}
    if trigger == "award_partially":
        decisions = {"LO1": "met", "LO2": "not_met"}
    elif trigger == "refuse_award":
        decisions = {"LO1": "not_met", "LO2": "not_met"}
    return CaseFacts(
        state=state,
        claimed_outcomes=("LO1", "LO2"),
        evidence_by_outcome={"LO1": 1, "LO2": 3},
        assessor_assigned=True,
        decisions=decisions,
        items_since_request=2,
    )


def permitted_role(trigger: str) -> str:
    return sorted(EXPECTED_TRANSITIONS[trigger][2])[0]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.from_directory(DEFINITIONS_DIR)


def fire(
    registry: Registry, facts: CaseFacts, trigger: str, role: str, reason: str | None = "Because."
) -> str:
    return registry.fire(KEY, VERSION, facts, trigger, role, reason)


# ---------------------------------------------------------------------------------------------
# The definition itself
# ---------------------------------------------------------------------------------------------


def test_standard_states_match_the_agreed_list(registry: Registry) -> None:
    definition = registry.get(KEY, VERSION)
    assert definition.initial == "draft"
    assert list(definition.states) == list(EXPECTED_STATES)
    for name, (label, stage, sla, terminal, outcome) in EXPECTED_STATES.items():
        state = definition.state(name)
        assert (state.name, state.label, state.stage, state.sla_days, state.terminal, state.outcome) == (
            name,
            label,
            stage,
            sla,
            terminal,
            outcome,
        )


def test_standard_transitions_match_the_agreed_list(registry: Registry) -> None:
    definition = registry.get(KEY, VERSION)
    assert list(definition.transitions) == list(EXPECTED_TRANSITIONS)
    for trigger, (sources, dest, roles, guards, reason_required) in EXPECTED_TRANSITIONS.items():
        transition = definition.transitions[trigger]
        assert transition.sources == sources, trigger
        assert transition.dest == dest, trigger
        assert transition.roles == frozenset(roles), trigger
        assert transition.guards == guards, trigger
        assert transition.reason_required is reason_required, trigger
        assert transition.label.strip() and transition.label != trigger


def test_standard_is_the_latest_and_shipped_by_default() -> None:
    registry = default_registry()
    assert registry is default_registry()
    assert registry.keys().count("standard") == 1
    assert registry.latest("standard").version >= VERSION
    assert registry.get(KEY, VERSION).origin.endswith("standard.yaml")


def test_state_lookup_of_unknown_name_names_the_workflow(registry: Registry) -> None:
    with pytest.raises(KeyError, match="standard"):
        registry.get(KEY, VERSION).state("limbo")


def test_triggers_from_and_available(registry: Registry) -> None:
    definition = registry.get(KEY, VERSION)
    assert [t.trigger for t in definition.triggers_from("draft")] == ["submit", "withdraw"]
    assert [t.trigger for t in definition.triggers_from("recommended")] == [
        "return_for_review",
        "award",
        "award_partially",
        "refuse_award",
        "withdraw",
    ]
    assert [t.trigger for t in definition.available("draft", "candidate")] == ["submit", "withdraw"]
    assert [t.trigger for t in definition.available("draft", "coordinator")] == ["withdraw"]
    assert definition.available("draft", "assessor") == []
    assert [t.trigger for t in definition.available("interview", "assessor")] == [
        "request_more_evidence",
        "finish_interview",
        "recommend",
    ]
    assert definition.triggers_from("awarded") == []


# ---------------------------------------------------------------------------------------------
# Every (state, trigger) pair
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "trigger"), ALLOWED_PAIRS)
def test_allowed_pair_lands_in_destination(registry: Registry, state: str, trigger: str) -> None:
    facts = satisfying_facts(state, trigger)
    assert fire(registry, facts, trigger, permitted_role(trigger)) == EXPECTED_TRANSITIONS[trigger][1]


@pytest.mark.parametrize(("state", "trigger"), FORBIDDEN_PAIRS)
def test_forbidden_pair_is_not_allowed(registry: Registry, state: str, trigger: str) -> None:
    facts = satisfying_facts(state, trigger)
    with pytest.raises(NotAllowed) as info:
        fire(registry, facts, trigger, permitted_role(trigger))
    refused = info.value
    assert type(refused) is NotAllowed
    assert refused.status == 409
    assert refused.trigger == trigger
    assert EXPECTED_STATES[state][0] in refused.reason
    assert str(refused) == refused.reason


def test_not_allowed_reason_reads_naturally(registry: Registry) -> None:
    with pytest.raises(NotAllowed) as info:
        fire(registry, satisfying_facts("draft", "award"), "award", "coordinator")
    assert info.value.reason == "\u201cAward\u201d is not possible while the case is \u201cDraft\u201d."


@pytest.mark.parametrize("role", sorted(ROLES))
def test_unknown_trigger_is_not_allowed(registry: Registry, role: str) -> None:
    with pytest.raises(NotAllowed) as info:
        fire(registry, satisfying_facts("screening", "submit"), "teleport", role)
    assert info.value.status == 409
    assert info.value.trigger == "teleport"
    assert "teleport" in info.value.reason
    assert "Screening" in info.value.reason


def test_unknown_current_state_is_not_allowed(registry: Registry) -> None:
    with pytest.raises(NotAllowed) as info:
        fire(registry, satisfying_facts("archived", "withdraw"), "withdraw", "candidate")
    assert "archived" in info.value.reason


# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("trigger", "role"), ROLE_MISMATCHES)
def test_role_outside_the_set_is_refused(registry: Registry, trigger: str, role: str) -> None:
    state = EXPECTED_TRANSITIONS[trigger][0][0]
    with pytest.raises(RoleNotAllowed) as info:
        fire(registry, satisfying_facts(state, trigger), trigger, role)
    assert info.value.status == 403
    assert info.value.trigger == trigger
    label = registry.get(KEY, VERSION).transitions[trigger].label
    assert label in info.value.reason
    for allowed in EXPECTED_TRANSITIONS[trigger][2]:
        assert allowed in info.value.reason


def test_role_is_checked_before_state(registry: Registry) -> None:
    # A candidate may never award, so that is the more useful answer than "not in this state".
    with pytest.raises(RoleNotAllowed):
        fire(registry, satisfying_facts("draft", "award"), "award", "candidate")


def test_state_is_checked_before_reason(registry: Registry) -> None:
    with pytest.raises(NotAllowed):
        fire(registry, satisfying_facts("withdrawn", "withdraw"), "withdraw", "candidate", reason=None)


# ---------------------------------------------------------------------------------------------
# Reasons
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t"])
@pytest.mark.parametrize("trigger", REASON_TRIGGERS)
def test_reason_required(registry: Registry, trigger: str, reason: str | None) -> None:
    state = EXPECTED_TRANSITIONS[trigger][0][0]
    with pytest.raises(ReasonRequired) as info:
        fire(registry, satisfying_facts(state, trigger), trigger, permitted_role(trigger), reason=reason)
    assert info.value.status == 422
    assert info.value.trigger == trigger
    assert "reason" in info.value.reason


def test_reason_required_triggers_are_exactly_the_agreed_ones() -> None:
    assert sorted(REASON_TRIGGERS) == sorted(
        ["return_to_draft", "request_more_evidence", "return_for_review", "refuse_award", "withdraw"]
    )


def test_reason_is_checked_before_guards(registry: Registry) -> None:
    facts = CaseFacts(state="recommended", claimed_outcomes=("LO1",), decisions={"LO1": "met"})
    with pytest.raises(ReasonRequired):
        fire(registry, facts, "refuse_award", "coordinator", reason="  ")


def test_reason_is_optional_where_not_required(registry: Registry) -> None:
    facts = satisfying_facts("submitted", "start_screening")
    assert fire(registry, facts, "start_screening", "coordinator", reason=None) == "screening"


# ---------------------------------------------------------------------------------------------
# Guards, one refusal each, through fire
# ---------------------------------------------------------------------------------------------


def guard_refusal(registry: Registry, facts: CaseFacts, trigger: str) -> GuardRefused:
    with pytest.raises(GuardRefused) as info:
        fire(registry, facts, trigger, permitted_role(trigger))
    assert info.value.status == 409
    assert info.value.trigger == trigger
    return info.value


def test_guard_claims_outcomes(registry: Registry) -> None:
    refused = guard_refusal(registry, CaseFacts(state="draft"), "submit")
    assert refused.reason == "Claim at least one learning outcome before submitting."


def test_guard_evidence_for_every_claim_on_submit(registry: Registry) -> None:
    facts = CaseFacts(
        state="draft",
        claimed_outcomes=("LO1", "LO2", "LO3", "LO4"),
        evidence_by_outcome={"LO1": 2, "LO2": 0, "LO3": 1},
    )
    assert guard_refusal(registry, facts, "submit").reason == "Outcomes without evidence: LO2, LO4."


def test_guard_evidence_for_every_claim_on_resubmit(registry: Registry) -> None:
    facts = CaseFacts(
        state="more_evidence",
        claimed_outcomes=("LO1", "LO2"),
        evidence_by_outcome={"LO1": 1},
        items_since_request=1,
    )
    assert guard_refusal(registry, facts, "resubmit").reason == "Outcomes without evidence: LO2."


def test_guard_assessor_assigned(registry: Registry) -> None:
    refused = guard_refusal(
        registry, CaseFacts(state="screening", assessor_assigned=False), "accept_for_review"
    )
    assert refused.reason == GUARDS["assessor_assigned"](CaseFacts(state="screening"))
    assert "assessor" in refused.reason


def test_guard_new_evidence_since_request(registry: Registry) -> None:
    facts = CaseFacts(
        state="more_evidence",
        claimed_outcomes=("LO1",),
        evidence_by_outcome={"LO1": 1},
        items_since_request=0,
    )
    refused = guard_refusal(registry, facts, "resubmit")
    assert "new" in refused.reason and "evidence" in refused.reason
    assert "Outcomes without evidence" not in refused.reason


def test_guard_every_claim_decided(registry: Registry) -> None:
    facts = CaseFacts(
        state="under_review",
        claimed_outcomes=("LO1", "LO2", "LO3"),
        decisions={"LO1": "met", "LO2": "more_evidence"},
    )
    refused = guard_refusal(registry, facts, "recommend")
    assert "LO2, LO3" in refused.reason
    assert "LO1" not in refused.reason


def test_guard_every_claim_decided_without_claims(registry: Registry) -> None:
    refused = guard_refusal(registry, CaseFacts(state="interview"), "recommend")
    assert "nothing to decide" in refused.reason


def test_guard_all_claims_met(registry: Registry) -> None:
    facts = CaseFacts(
        state="recommended",
        claimed_outcomes=("LO1", "LO2", "LO3"),
        decisions={"LO1": "met", "LO2": "not_met", "LO3": "not_met"},
    )
    refused = guard_refusal(registry, facts, "award")
    assert "Outcomes not met: LO2, LO3." in refused.reason


def test_guard_some_claims_met_when_all_met(registry: Registry) -> None:
    facts = CaseFacts(
        state="recommended", claimed_outcomes=("LO1", "LO2"), decisions={"LO1": "met", "LO2": "met"}
    )
    refused = guard_refusal(registry, facts, "award_partially")
    assert "full award" in refused.reason


def test_guard_some_claims_met_when_none_met(registry: Registry) -> None:
    facts = CaseFacts(state="recommended", claimed_outcomes=("LO1",), decisions={"LO1": "not_met"})
    refused = guard_refusal(registry, facts, "award_partially")
    assert "No outcome is met" in refused.reason


def test_guard_no_claim_met(registry: Registry) -> None:
    facts = CaseFacts(
        state="recommended",
        claimed_outcomes=("LO1", "LO2"),
        decisions={"LO1": "met", "LO2": "not_met"},
    )
    with pytest.raises(GuardRefused) as info:
        fire(registry, facts, "refuse_award", "coordinator", reason="Insufficient.")
    assert "Outcomes met: LO1." in info.value.reason


def test_all_refusals_of_a_transition_are_reported_together(registry: Registry) -> None:
    facts = CaseFacts(
        state="more_evidence",
        claimed_outcomes=("LO1", "LO2"),
        evidence_by_outcome={"LO1": 1},
        items_since_request=0,
    )
    refused = guard_refusal(registry, facts, "resubmit")
    new_evidence = GUARDS["new_evidence_since_request"](facts)
    assert new_evidence is not None
    assert refused.reason == f"{new_evidence} Outcomes without evidence: LO2."


def test_refused_guard_leaves_facts_untouched(registry: Registry) -> None:
    facts = CaseFacts(state="draft")
    guard_refusal(registry, facts, "submit")
    assert facts.state == "draft"

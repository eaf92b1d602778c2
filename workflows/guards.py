"""Named guards: the conditions a transition can demand before it may happen.

A workflow definition refers to guards by name only, so the YAML stays data and the Python that
enforces it stays small and testable. Each guard is a pure function over a read-only
:class:`CaseFacts` snapshot built by the services layer: guards never touch the database, which
keeps them deterministic, safe to run from many threads at once, and trivial to test.

A guard returns ``None`` when it is satisfied and otherwise a plain-language sentence that is shown
to the person who tried to act, so that it tells them what to do rather than merely "no".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .messages import Message

__all__ = ["GUARDS", "MET", "MORE_EVIDENCE", "NOT_MET", "CaseFacts", "Guard"]

MET = "met"
NOT_MET = "not_met"
MORE_EVIDENCE = "more_evidence"
#: Decisions that close an outcome; "more evidence" keeps it open.
FINAL_DECISIONS = frozenset({MET, NOT_MET})


def _frozen_mapping() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CaseFacts:
    """What guards may know about a case, and nothing more.

    The services layer copies these facts out of the database so guards cannot lazily load
    relationships or mutate a case while merely deciding whether an action is allowed. Mappings
    are wrapped in ``MappingProxyType`` on construction, so even a careless guard cannot change them.
    """

    state: str
    claimed_outcomes: tuple[str, ...] = ()
    evidence_by_outcome: Mapping[str, int] = field(default_factory=_frozen_mapping)
    assessor_assigned: bool = False
    decisions: Mapping[str, str] = field(default_factory=_frozen_mapping)
    items_since_request: int = 0
    #: Outcomes of the credential the candidate left out of the claim ("not yet"): a full award is then
    #: impossible, however well the claimed ones went.
    unclaimed_outcomes: tuple[str, ...] = ()
    #: The current recommendation was selected for moderation by the credential's sampling rule.
    moderation_selected: bool = False
    #: A second assessor (never the first) is named to moderate it.
    moderator_assigned: bool = False
    #: The moderator's view per claimed outcome: True agrees with the recommendation.
    moderation_views: Mapping[str, bool] = field(default_factory=_frozen_mapping)
    #: The moderation ended: the moderator agreed, or the coordinator settled a disagreement.
    moderation_done: bool = False
    #: Days after the decision within which the candidate may appeal, and whether they are still running.
    appeal_days: int = 0
    appeal_open: bool = False
    #: The assessor now assigned has not decided this case before (an appeal needs fresh eyes).
    fresh_assessor_assigned: bool = False

    def __post_init__(self) -> None:
        # Normalise whatever the caller passed (lists, dicts) into immutable equivalents; duplicates
        # in the claims would otherwise be reported twice in refusal texts.
        object.__setattr__(self, "claimed_outcomes", tuple(dict.fromkeys(self.claimed_outcomes)))
        object.__setattr__(self, "unclaimed_outcomes", tuple(dict.fromkeys(self.unclaimed_outcomes)))
        object.__setattr__(self, "evidence_by_outcome", MappingProxyType(dict(self.evidence_by_outcome)))
        object.__setattr__(self, "decisions", MappingProxyType(dict(self.decisions)))
        object.__setattr__(self, "moderation_views", MappingProxyType(dict(self.moderation_views)))


Guard = Callable[[CaseFacts], Message | None]


def _names(codes: list[str]) -> str:
    return ", ".join(codes)


def claims_outcomes(facts: CaseFacts) -> Message | None:
    """A portfolio without a single claimed outcome gives an assessor nothing to assess."""
    if not facts.claimed_outcomes:
        return Message("Claim at least one learning outcome before submitting.")
    return None


def evidence_for_every_claim(facts: CaseFacts) -> Message | None:
    """A claim without evidence cannot be judged, so it must not reach an assessor."""
    gaps = [code for code in facts.claimed_outcomes if facts.evidence_by_outcome.get(code, 0) < 1]
    if gaps:
        return Message("Outcomes without evidence: %(codes)s.", codes=_names(gaps))
    return None


def assessor_assigned(facts: CaseFacts) -> Message | None:
    """A case accepted for review without an assessor would sit in nobody's queue."""
    if not facts.assessor_assigned:
        return Message("Assign an assessor before accepting the case for review.")
    return None


def new_evidence_since_request(facts: CaseFacts) -> Message | None:
    """Resubmitting unchanged material would only bounce the same question back to the assessor."""
    if facts.items_since_request <= 0:
        return Message("Add at least one new piece of evidence since more evidence was requested.")
    return None


def every_claim_decided(facts: CaseFacts) -> Message | None:
    """A recommendation or award must rest on a final decision for every claimed outcome."""
    if not facts.claimed_outcomes:
        return Message("No learning outcomes are claimed, so there is nothing to decide.")
    open_codes = [code for code in facts.claimed_outcomes if facts.decisions.get(code) not in FINAL_DECISIONS]
    if open_codes:
        return Message("Outcomes without a final decision (met or not met): %(codes)s.", codes=_names(open_codes))
    return None


def _split(facts: CaseFacts) -> tuple[list[str], list[str]]:
    met = [code for code in facts.claimed_outcomes if facts.decisions.get(code) == MET]
    not_met = [code for code in facts.claimed_outcomes if facts.decisions.get(code) != MET]
    return met, not_met


def all_claims_met(facts: CaseFacts) -> Message | None:
    """A full award certifies every claimed outcome, so each one must have been met."""
    met, not_met = _split(facts)
    if not met and not not_met:
        return Message("No learning outcomes are claimed, so there is nothing to award.")
    if not_met:
        return Message(
            "Outcomes not met: %(codes)s. A full award needs every claimed outcome met.", codes=_names(not_met)
        )
    if facts.unclaimed_outcomes:
        return Message(
            "Outcomes not claimed: %(codes)s. A full award covers every outcome of the credential; "
            "give a partial award.",
            codes=_names(list(facts.unclaimed_outcomes)),
        )
    return None


def some_claims_met(facts: CaseFacts) -> Message | None:
    """A partial award only makes sense when some outcomes are met and others are not (or not claimed)."""
    met, not_met = _split(facts)
    if not met:
        return Message("No outcome is met, so a partial award is not possible.")
    if not not_met and not facts.unclaimed_outcomes:
        return Message("Every claimed outcome is met: give the full award instead of a partial one.")
    return None


def no_claim_met(facts: CaseFacts) -> Message | None:
    """Refusing outright would discard outcomes that were met; those call for a (partial) award."""
    met, _ = _split(facts)
    if met:
        return Message(
            "Outcomes met: %(codes)s. The award can only be refused when no outcome is met.", codes=_names(met)
        )
    return None


def moderation_selected(facts: CaseFacts) -> Message | None:
    """Only a recommendation the sampling rule selected goes to a second assessor."""
    if not facts.moderation_selected:
        return Message("This recommendation was not selected for moderation.")
    return None


def moderator_assigned(facts: CaseFacts) -> Message | None:
    """A moderation without a moderator would sit in nobody's queue."""
    if not facts.moderator_assigned:
        return Message("Choose a second assessor to moderate this recommendation.")
    return None


def moderation_reviewed(facts: CaseFacts) -> Message | None:
    """The moderator answers for every claimed outcome before the moderation can end."""
    missing = [code for code in facts.claimed_outcomes if code not in facts.moderation_views]
    if missing:
        return Message("Give your view on every outcome first. Outcomes without it: %(codes)s.", codes=_names(missing))
    return None


def moderation_agrees(facts: CaseFacts) -> Message | None:
    """Agreeing overall while disagreeing on an outcome would hide the disagreement."""
    disputed = [code for code in facts.claimed_outcomes if facts.moderation_views.get(code) is False]
    if disputed:
        return Message(
            "You disagree on %(codes)s: send the case to the coordinator instead.", codes=_names(disputed)
        )
    return None


def moderation_disagrees(facts: CaseFacts) -> Message | None:
    """A disagreement goes to the coordinator only when there is one."""
    if not any(facts.moderation_views.get(code) is False for code in facts.claimed_outcomes):
        return Message("You agree on every outcome: agree with the recommendation instead.")
    return None


def moderation_cleared(facts: CaseFacts) -> Message | None:
    """A recommendation selected for moderation is decided only after the second assessor's review."""
    if facts.moderation_selected and not facts.moderation_done:
        return Message(
            "This recommendation was selected for moderation: a second assessor reviews it before the decision."
        )
    return None


def within_appeal_period(facts: CaseFacts) -> Message | None:
    """An appeal is possible for a set time after the decision, so that decisions become final."""
    if not facts.appeal_open:
        return Message(
            "The time for an appeal (%(days)s days after the decision) has ended.", days=facts.appeal_days
        )
    return None


def fresh_assessor_assigned(facts: CaseFacts) -> Message | None:
    """An appeal is reviewed by someone who did not make the decision appealed against."""
    if not facts.fresh_assessor_assigned:
        return Message("Assign an assessor who has not decided this case before.")
    return None


#: The only guard names a workflow definition may use; the loader rejects any other name.
GUARDS: dict[str, Guard] = {
    "claims_outcomes": claims_outcomes,
    "evidence_for_every_claim": evidence_for_every_claim,
    "assessor_assigned": assessor_assigned,
    "new_evidence_since_request": new_evidence_since_request,
    "every_claim_decided": every_claim_decided,
    "all_claims_met": all_claims_met,
    "some_claims_met": some_claims_met,
    "no_claim_met": no_claim_met,
    "moderation_selected": moderation_selected,
    "moderator_assigned": moderator_assigned,
    "moderation_reviewed": moderation_reviewed,
    "moderation_agrees": moderation_agrees,
    "moderation_disagrees": moderation_disagrees,
    "moderation_cleared": moderation_cleared,
    "within_appeal_period": within_appeal_period,
    "fresh_assessor_assigned": fresh_assessor_assigned,
}

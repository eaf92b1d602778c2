"""Words and sentences that the pages translate by value, listed here so that extraction finds them.

Templates and views often hold a code or a stored text and translate it at the last moment:
``_(credential.sector)``, ``_(u.role)``, ``_(stage|capitalize)``, ``_(TITLES[status])``. Message
extraction only sees string literals inside a gettext call, so none of these values would reach the
catalog, and the page would show the English word in the middle of a Ukrainian sentence. Marking
them with :func:`N_` (a function that returns its argument unchanged) puts them in the catalog
without changing anything at run time; ``pybabel extract`` is called with ``-k N_``.

Sentences defined in Python next to the code that uses them (timeline sentences, error titles) are
marked with :func:`N_` where they are defined; workflow refusals are ``workflows.Message`` objects,
extracted with ``-k Message``.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark ``message`` for extraction and return it untranslated; translation happens where it is shown."""
    return message


#: Sector codes of the catalog (``credential.sector``), shown in the sector filter.
SECTORS = (
    N_("ict"),  # information and communication technology
    N_("construction"),
    N_("food"),  # food production: bakeries, kitchens, food processing
    N_("energy"),  # power supply: cables, grids, installations
    N_("manufacturing"),  # industrial production: welding, metalwork
    N_("tourism"),
)

#: How candidates take part in the assessment (``credential.participation``).
PARTICIPATION = (
    N_("onsite"),  # in person, at the assessment centre or workplace
    N_("online"),
    N_("blended"),  # partly in person, partly online
)

#: Credit systems (``credential.credits_system``), shown after a number of credits.
CREDIT_SYSTEMS = (
    N_("ECTS"),  # European Credit Transfer and Accumulation System
    N_("ECVET"),  # European Credit system for Vocational Education and Training
    N_("national"),  # credits of the national qualifications system of the awarding country
)

#: Units next to a number; the size of an evidence file on the case page is given in kilobytes.
UNITS = (N_("KB"),)

#: Account roles (``user.role``), shown in the account list.
ROLES = (
    N_("candidate"),  # a person whose prior learning is validated
    N_("assessor"),  # judges the evidence against the learning outcomes
    N_("coordinator"),  # screens cases, assigns assessors, awards credentials
    N_("admin"),  # manages accounts and workflows
)

#: Account status in the account list.
ACCOUNT_STATUS = (N_("active"), N_("disabled"))

#: The four stages of validating prior learning (``state.stage``), lower case in the workflow list and
#: capitalised in the progress bar of a case (``_(stage|capitalize)``).
STAGES = (
    N_("identification"),  # the candidate finds out what they know and claims outcomes
    N_("documentation"),  # the portfolio of evidence is put together and screened
    N_("assessment"),  # an assessor judges the evidence
    N_("certification"),  # the credential is awarded in full, in part or not at all
    N_("Identification"),
    N_("Documentation"),
    N_("Assessment"),
    N_("Certification"),
)

#: An assessor's verdict on one learning outcome: capitalised on the case page, lower case inside
#: timeline sentences (``validation.web.timeline.VERDICTS``).
VERDICTS = (
    N_("Met"),
    N_("Not yet met"),
    N_("More evidence needed"),
    N_("met"),
    N_("not yet met"),
    N_("more evidence needed"),
)

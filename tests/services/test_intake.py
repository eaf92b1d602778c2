"""Intake questionnaires: the loader's errors, the forms built from a file, and keeping the answers."""

# The expected texts are Ukrainian: Cyrillic letters that look like Latin ones are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forms.intake import IntakeError, build_form, form_data, load, parse
from tests import factories
from validation.extensions import db
from validation.models import AuditEvent, Centre, IntakeResponse
from validation.services import intake, profiles
from validation.services.errors import Conflict, Forbidden, Invalid

SHIPPED = Path(__file__).resolve().parents[2] / "forms" / "intake"
DEFAULT = SHIPPED / "default.yaml"

# The line numbers in the cases below count in this text.
SAMPLE = """\
key: sample
version: 1
title: {en: Sample, uk: Зразок}
questions:
  - key: work
    type: text
    required: true
    label: {en: Work, uk: Робота}
  - key: years
    type: choice
    required: false
    label: {en: Years, uk: Роки}
    choices:
      - key: few
        label: {en: Few, uk: Мало}
      - key: many
        label: {en: Many, uk: Багато}
"""

LABEL_WORK = "    label: {en: Work, uk: Робота}\n"
CHOICES = """\
    choices:
      - key: few
        label: {en: Few, uk: Мало}
      - key: many
        label: {en: Many, uk: Багато}
"""

# (what to replace, by what, the line the error must name, words the reason must contain)
BROKEN = {
    "unknown type": ("    type: text\n", "    type: txt\n", 6,
                     "unknown type 'txt' of question 'work'; did you mean 'text'"),
    "missing question key": ("  - key: work\n    type: text\n", "  - type: text\n", 5,
                             "question #1 is missing the required field 'key'"),
    "missing top field": ("version: 1\n", "", 1, "the questionnaire is missing the required field 'version'"),
    "duplicate question key": ("  - key: years\n", "  - key: work\n", 9,
                               "question 'work' is defined twice (first on line 5)"),
    "bad questionnaire key": ("key: sample\n", "key: Sample-1\n", 1, "lowercase letters, digits and underscores"),
    "bad question key": ("  - key: work\n", "  - key: 2work\n", 5, "lowercase letters, digits and underscores"),
    "bad choice key": ("      - key: many\n", "      - key: many more\n", 16, "lowercase letters"),
    "key read as a boolean": ("      - key: many\n", "      - key: no\n", 16,
                              "was read as False; write the key in quotes"),
    "key the form uses itself": ("  - key: work\n", "  - key: answers\n", 5, "cannot be a question key"),
    "choice without choices": (CHOICES, "", 9, "question 'years' is a choice question without 'choices'"),
    "only one choice": ("      - key: many\n        label: {en: Many, uk: Багато}\n", "", 14, "at least two choices"),
    "duplicate choice keys": ("      - key: many\n", "      - key: few\n", 16,
                              "choice 'few' appears twice in question 'years' (first on line 14)"),
    "choices on a text question": (LABEL_WORK, LABEL_WORK + "    choices: []\n", 9,
                                   "'choices' is only for choice questions, and question 'work' is a text question"),
    "label without Ukrainian": (LABEL_WORK, "    label: {en: Work}\n", 8,
                                "'label' of question 'work' has no 'uk' text"),
    "choice label without English": ("        label: {en: Few, uk: Мало}\n", "        label: {uk: Мало}\n", 15,
                                     "has no 'en' text"),
    "help without Ukrainian": (LABEL_WORK, LABEL_WORK + "    help: {en: Say where}\n", 9,
                               "'help' of question 'work' has no 'uk' text"),
    "title without English": ("title: {en: Sample, uk: Зразок}\n", "title: {uk: Зразок}\n", 3,
                              "'title' of the questionnaire has no 'en' text"),
    "intro without Ukrainian": ("title: {en: Sample, uk: Зразок}\n",
                                "title: {en: Sample, uk: Зразок}\nintro: {en: Hello}\n", 4, "has no 'uk' text"),
    "empty text": (LABEL_WORK, "    label: {en: Work, uk: ''}\n", 8, "must be a non-empty text"),
    "a language the site does not speak": ("title: {en: Sample, uk: Зразок}\n",
                                           "title: {en: Sample, uk: Зразок, de: Probe}\n", 3, "unknown language 'de'"),
    "text instead of languages": ("title: {en: Sample, uk: Зразок}\n", "title: Sample\n", 3,
                                  "must give the text per language"),
    "required not a flag": ("    required: true\n", "    required: sometimes\n", 7,
                            "'required' of question 'work' must be true or false, got 'sometimes'"),
    "max_length zero": (LABEL_WORK, LABEL_WORK + "    max_length: 0\n", 9, "from 1 to 10000, got 0"),
    "max_length too big": (LABEL_WORK, LABEL_WORK + "    max_length: 20000\n", 9, "from 1 to 10000, got 20000"),
    "max_length not a number": (LABEL_WORK, LABEL_WORK + "    max_length: long\n", 9, "got 'long'"),
    "max_length on a choice": ("    required: false\n", "    required: false\n    max_length: 10\n", 12,
                               "'max_length' is only for text questions"),
    "unknown question field": ("    required: true\n", "    requird: true\n", 7,
                               "unknown field 'requird' in question 'work'; did you mean 'required'?"),
    "unknown top field": ("version: 1\n", "version: 1\nauthor: me\n", 3, "unknown field 'author' in the questionnaire"),
    "field written twice": ("version: 1\n", "version: 1\nversion: 2\n", 3, "'version' appears twice (first on line 2)"),
    "version not positive": ("version: 1\n", "version: 0\n", 2, "'version' must be a positive whole number"),
    "no questions": (SAMPLE[SAMPLE.index("questions:"):], "questions: []\n", 4, "'questions' must be a non-empty list"),
    "not YAML": ("title: {en: Sample, uk: Зразок}\n", "title: {en: Sample, uk: Зразок\n", 4, "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(BROKEN), ids=sorted(BROKEN))
def test_each_mistake_is_named_with_file_and_line(tmp_path, case):
    old, new, line, reason = BROKEN[case]
    assert SAMPLE.count(old) >= 1, f"the case {case!r} does not apply to the sample"
    path = tmp_path / "centre.yaml"
    path.write_text(SAMPLE.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(IntakeError) as raised:
        load(path)
    assert str(raised.value).startswith(f"{path}:{line}: "), str(raised.value)
    assert reason in raised.value.reason
    assert (raised.value.origin, raised.value.line) == (str(path), line)


def test_the_sample_itself_is_valid(tmp_path):
    path = tmp_path / "sample.yaml"
    path.write_text(SAMPLE, encoding="utf-8")
    questionnaire = load(path)
    assert questionnaire.key == "sample" and questionnaire.version == 1
    assert [q.key for q in questionnaire.questions] == ["work", "years"]
    assert questionnaire.questions[0].max_length == 2000 and not questionnaire.questions[0].multiline


def test_an_empty_file_is_refused():
    with pytest.raises(IntakeError, match=r"^empty\.yaml:1: the questionnaire is empty$"):
        parse("", "empty.yaml")


def test_the_languages_are_those_of_the_site():
    """A file fit for English and Ukrainian is refused where the site also speaks another language."""
    with pytest.raises(IntakeError, match=r"'title' of the questionnaire has no 'pl' text"):
        parse(SAMPLE, "sample.yaml", ("en", "uk", "pl"))


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_questionnaire_loads(path):
    questionnaire = load(path)
    assert questionnaire.questions
    for question in questionnaire.questions:
        assert set(question.label) == {"en", "uk"}


def test_the_default_asks_what_the_issue_asks():
    questionnaire = load(DEFAULT)
    kinds = {q.key: q.type for q in questionnaire.questions}
    assert set(kinds.values()) == {"text", "choice", "date", "yes_no"}
    assert questionnaire.question("has_papers").type == "yes_no"
    assert "fine not to have any" in questionnaire.question("has_papers").help["en"]
    assert not questionnaire.question("available_from").required
    assert [c.key for c in questionnaire.question("years_in_field").choices] == [
        "under_1", "from_1_to_3", "from_3_to_10", "over_10"]
    assert not list(SHIPPED.glob("*.yml")), "only .yaml files are read"


# --- forms built from the file ---------------------------------------------------------------------------

VALID = {"work_done": "  Baker, 2015-2022.  ", "years_in_field": "from_3_to_10", "education": "vocational",
         "has_papers": "no", "assessment_preference": "demonstration"}


def _form(app, data, language="en", headers=None):  # type: ignore[no-untyped-def]
    questionnaire = load(DEFAULT)
    with app.test_request_context("/my/intake", method="POST", data=data, headers=headers or {}):
        form = build_form(questionnaire, language)(meta={"csrf": False})
        form.validate()
        return form, {name: list(errors) for name, errors in form.errors.items()}


def test_a_complete_form_gives_json_answers(app):
    form, errors = _form(app, {**VALID, "available_from": "2025-09-01"})
    assert errors == {}
    assert form.answers() == {"work_done": "Baker, 2015-2022.", "years_in_field": "from_3_to_10",
                              "education": "vocational", "has_papers": False, "available_from": "2025-09-01",
                              "assessment_preference": "demonstration"}
    json.dumps(form.answers())  # kept in a JSON column as it is


def test_required_questions_must_be_answered_each_with_one_message(app):
    _, errors = _form(app, {"work_done": "   "})
    assert errors == {
        "work_done": ["Please answer this question."],
        "years_in_field": ["Please choose an answer."],
        "education": ["Please choose an answer."],
        "has_papers": ["Please choose an answer."],
        "assessment_preference": ["Please choose an answer."],
    }


def test_optional_questions_may_be_left_out(app):
    form, errors = _form(app, {**VALID, "available_from": "", "anything_else": "  "})
    assert errors == {}
    assert "available_from" not in form.answers() and "anything_else" not in form.answers()


def test_no_is_an_answer_and_yes_is_true(app):
    assert _form(app, VALID)[0].answers()["has_papers"] is False
    assert _form(app, {**VALID, "has_papers": "yes"})[0].answers()["has_papers"] is True
    _, errors = _form(app, {**VALID, "has_papers": "maybe"})
    assert errors == {"has_papers": ["Please choose an answer."]}


def test_a_choice_must_be_one_of_the_file(app):
    _, errors = _form(app, {**VALID, "years_in_field": "forty"})
    assert errors == {"years_in_field": ["Please choose an answer."]}


@pytest.mark.parametrize(("typed", "kept"), [("2025-09-01", "2025-09-01"), ("01.09.2025", "2025-09-01")])
def test_a_date_may_be_typed(app, typed, kept):
    form, errors = _form(app, {**VALID, "available_from": typed})
    assert errors == {}
    assert form.answers()["available_from"] == kept


def test_a_date_that_is_not_one_is_refused(app):
    _, errors = _form(app, {**VALID, "available_from": "next spring"})
    assert errors == {"available_from": ["Write the date as year-month-day, for example 2025-09-01."]}


def test_text_is_limited_to_its_max_length(app):
    _, errors = _form(app, {**VALID, "work_done": "x" * 4001})
    assert errors == {"work_done": ["Write at most 4000 characters."]}
    assert _form(app, {**VALID, "work_done": "x" * 4000})[1] == {}


def test_the_form_speaks_the_language_it_is_built_for(app):
    form, _ = _form(app, {}, language="uk")
    assert form.work_done.label.text == "Яку роботу ви виконували і як довго?"
    assert ("under_1", "Менше 1 року") in form.years_in_field.choices
    assert form.available_from.label.text.startswith("З якої дати ви можете взяти участь в оцінюванні?")
    assert form.available_from.widget.input_type == "date"
    assert form.work_done.type == "TextAreaField"


def test_kept_answers_prefill_the_form(app):
    questionnaire = load(DEFAULT)
    answers = {"work_done": "Baker", "has_papers": True, "available_from": "2025-09-01",
               "years_in_field": "gone_from_the_file", "removed_question": "x"}
    assert form_data(questionnaire, answers) == {"work_done": "Baker", "has_papers": "yes",
                                                 "available_from": dt.date(2025, 9, 1)}


# --- the service -----------------------------------------------------------------------------------------

ANSWERS = {"work_done": "Baker, 2015-2022.", "years_in_field": "from_3_to_10", "education": "vocational",
           "has_papers": False, "assessment_preference": "demonstration"}


def _responses() -> int:
    return int(db.session.execute(select(func.count(IntakeResponse.id))).scalar_one())


def test_submit_keeps_a_row_and_audits_no_answer_text(ctx):
    who = factories.people()
    response = intake.submit(who["candidate"], ANSWERS, language="uk")
    db.session.commit()
    assert (response.form_key, response.form_version, response.language) == ("vpl_intake", 1, "uk")
    assert response.answers == ANSWERS and response.user_id == who["candidate"].id
    event = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
    assert event.action == "intake.answered" and event.actor_id == who["candidate"].id
    facts = json.loads(event.facts)
    assert facts == {"user_id": who["candidate"].id, "response_id": response.id, "form_key": "vpl_intake",
                     "form_version": 1, "answers": 5}
    assert "Baker" not in event.facts and "demonstration" not in event.facts


def test_answering_again_keeps_the_history(ctx):
    who = factories.people()
    first = intake.submit(who["candidate"], ANSWERS)
    second = intake.submit(who["candidate"], {**ANSWERS, "has_papers": True})
    db.session.commit()
    assert _responses() == 2
    assert intake.latest_for(who["candidate"].id).id == second.id != first.id
    assert db.session.get(IntakeResponse, first.id).answers["has_papers"] is False
    assert intake.latest_for(who["other_candidate"].id) is None


@pytest.mark.parametrize("role", ["assessor", "coordinator", "admin"])
def test_staff_do_not_answer(ctx, role):
    who = factories.people()
    with pytest.raises(Forbidden):
        intake.submit(who[role], ANSWERS)
    assert _responses() == 0


def test_nothing_is_kept_after_consent_is_withdrawn(ctx):
    who = factories.people()
    profiles.give_consent(who["candidate"], "en")
    profiles.withdraw_consent(who["candidate"])
    with pytest.raises(Conflict):
        intake.submit(who["candidate"], ANSWERS)
    assert _responses() == 0


@pytest.mark.parametrize(
    "answers",
    [
        {k: v for k, v in ANSWERS.items() if k != "education"},  # a required one missing
        {**ANSWERS, "years_in_field": "forty"},  # not a choice of the file
        {**ANSWERS, "has_papers": "no"},  # yes/no is kept as true/false
        {**ANSWERS, "available_from": "01.09.2025"},  # dates are kept as YYYY-MM-DD
        {**ANSWERS, "work_done": "x" * 4001},
        {**ANSWERS, "salary": "a lot"},  # no such question
    ],
)
def test_answers_that_do_not_fit_the_file_are_refused(ctx, answers):
    who = factories.people()
    with pytest.raises(Invalid):
        intake.submit(who["candidate"], answers)
    assert _responses() == 0


CENTRE_FILE = SAMPLE.replace("key: sample", "key: lviv_intake")


def test_a_centre_file_replaces_the_default_for_its_candidates(ctx, tmp_path):
    (tmp_path / "default.yaml").write_text(DEFAULT.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "ua-lviv-01.yaml").write_text(CENTRE_FILE, encoding="utf-8")
    ctx.config["INTAKE_DIR"] = str(tmp_path)
    who = factories.people()
    lviv = Centre(code="UA-LVIV-01", name="Lviv centre", country="UA")
    kyiv = Centre(code="UA-KYIV-01", name="Kyiv centre", country="UA")
    db.session.add_all([lviv, kyiv])
    db.session.flush()
    who["candidate"].centre = lviv
    who["other_candidate"].centre = kyiv
    db.session.flush()

    assert intake.questionnaire_for(who["candidate"]).key == "lviv_intake"
    assert intake.questionnaire_for(who["other_candidate"]).key == "vpl_intake"  # no file of its own
    response = intake.submit(who["candidate"], {"work": "Cook", "years": "many"})
    assert (response.form_key, response.answers) == ("lviv_intake", {"work": "Cook", "years": "many"})


def test_an_edited_file_is_read_again(ctx, tmp_path):
    (tmp_path / "default.yaml").write_text(SAMPLE, encoding="utf-8")
    ctx.config["INTAKE_DIR"] = str(tmp_path)
    who = factories.people()
    assert intake.questionnaire_for(who["candidate"]).version == 1
    (tmp_path / "default.yaml").write_text(SAMPLE.replace("version: 1", "version: 22"), encoding="utf-8")
    assert intake.questionnaire_for(who["candidate"]).version == 22


def test_answers_for_display_are_readable(ctx):
    who = factories.people()
    intake.submit(who["candidate"], {**ANSWERS, "available_from": "2025-09-01"})
    db.session.commit()
    with ctx.test_request_context():  # Yes and No are words of the page, in the page's language
        rows = intake.answers_for_display(who["candidate"].id, "uk")
        english = intake.answers_for_display(who["candidate"].id, "en")
    assert rows[0] == ("Яку роботу ви виконували і як довго?", "Baker, 2015-2022.")
    assert ("Скільки років досвіду у вас у цій галузі?", "Від 3 до 10 років") in rows
    assert ("З якої дати ви можете взяти участь в оцінюванні?", "2025-09-01") in rows
    assert ("Do you have any papers from earlier work or training?", "No") in english
    assert intake.answers_for_display(who["other_candidate"].id, "en") == []
    questionnaire, response = intake.view_for(who["candidate"].id)
    assert questionnaire.key == response.form_key == "vpl_intake"


# --- the command -----------------------------------------------------------------------------------------


def test_intake_check_passes_on_the_shipped_files(app):
    result = app.test_cli_runner().invoke(args=["intake", "check"])
    assert result.exit_code == 0, result.output
    assert f"{len(list(SHIPPED.glob('*.yaml')))} questionnaire(s) valid." in result.output


def test_intake_check_names_file_and_line_of_each_broken_file(app, tmp_path):
    (tmp_path / "default.yaml").write_text(SAMPLE, encoding="utf-8")
    (tmp_path / "ua-lviv-01.yaml").write_text(SAMPLE.replace("    type: text\n", "    type: txt\n"),
                                               encoding="utf-8")
    (tmp_path / "ua-odesa.yml").write_text(SAMPLE, encoding="utf-8")
    app.config["INTAKE_DIR"] = str(tmp_path)
    result = app.test_cli_runner().invoke(args=["intake", "check"])
    assert result.exit_code == 1
    assert f"{tmp_path / 'ua-lviv-01.yaml'}:6: unknown type 'txt'" in result.output
    assert f"{tmp_path / 'ua-odesa.yml'}:1: only files ending in .yaml are read" in result.output
    assert "default.yaml" not in result.output


def test_intake_check_wants_a_default(app, tmp_path):
    (tmp_path / "ua-lviv-01.yaml").write_text(SAMPLE, encoding="utf-8")
    app.config["INTAKE_DIR"] = str(tmp_path)
    result = app.test_cli_runner().invoke(args=["intake", "check"])
    assert result.exit_code == 1
    assert f"{tmp_path / 'default.yaml'}:1: missing" in result.output

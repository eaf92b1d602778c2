"""The intake questionnaire: question sets kept as YAML files, validated when loaded, made into forms at run time.

A centre changes its intake by editing a file in ``forms/intake/``, not code (the format is described in
``forms/intake/README.md`` and at the top of ``default.yaml``). Because the people who edit those files are
not programmers and a broken file would only show when a candidate opens the page, :func:`load` is strict in
the same way as the workflow loader (:mod:`workflows.definition`): every mistake is reported as
``<file>:<line>: <reason>``, unknown fields are refused rather than ignored (``requird: true`` must not
silently make a question optional), and every text must be given in every language the site speaks.

:func:`build_form` turns a loaded questionnaire into a Flask-WTF form class for one language; the form's
:meth:`IntakeForm.answers` gives plain JSON values to keep. This module reads files and builds forms; it
never touches the database.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from validation.config import LANGUAGES
from workflows.yaml_lines import YamlMap as _Map
from workflows.yaml_lines import YamlProblem as _Problem
from workflows.yaml_lines import YamlSeq as _Seq
from workflows.yaml_lines import check_keys as _shared_check_keys
from workflows.yaml_lines import fail as _fail
from workflows.yaml_lines import read_yaml as _read_yaml

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "TYPES",
    "Choice",
    "IntakeError",
    "IntakeForm",
    "Question",
    "Questionnaire",
    "build_form",
    "form_data",
    "load",
    "parse",
]

TYPES = ("text", "choice", "date", "yes_no")
DEFAULT_MAX_LENGTH = 2000
#: Longer answers belong in evidence, not in the intake; the limit also keeps one response row small.
MAX_MAX_LENGTH = 10000
#: The questionnaire key is stored with every response (a String(60) column) and in the audit trail.
MAX_KEY_LENGTH = 60
#: Dates a candidate may type when the browser shows a plain text box: ISO first (what <input type=date>
#: sends and what is shown back), then the day.month.year that people in Ukraine write by hand.
DATE_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class IntakeError(Exception):
    """A questionnaire file is invalid; the message is ``<file>:<line>: <reason>``, as for workflows."""

    def __init__(self, origin: str, line: int, reason: str) -> None:
        super().__init__(f"{origin}:{line}: {reason}")
        self.origin = origin
        self.line = line
        self.reason = reason


# --------------------------------------------------------------------------------------------
# The questionnaire as data
# --------------------------------------------------------------------------------------------


def _in(texts: Mapping[str, str], language: str) -> str:
    """The text in ``language``; English, then any, if the file lacks it (the loader prevents that)."""
    return texts.get(language) or texts.get("en") or next(iter(texts.values()), "")


@dataclass(frozen=True)
class Choice:
    key: str
    label: Mapping[str, str]

    def text(self, language: str) -> str:
        return _in(self.label, language)


@dataclass(frozen=True)
class Question:
    """One question. ``multiline`` and ``max_length`` matter for text, ``choices`` for choice questions."""

    key: str
    type: str
    required: bool
    label: Mapping[str, str]
    help: Mapping[str, str] | None = None
    multiline: bool = False
    max_length: int = DEFAULT_MAX_LENGTH
    choices: tuple[Choice, ...] = ()

    def text(self, language: str) -> str:
        return _in(self.label, language)

    def help_text(self, language: str) -> str | None:
        return _in(self.help, language) if self.help else None

    def choice(self, key: str) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)

    def answer_text(self, value: Any, language: str) -> str:
        """A kept answer as a reader understands it: a choice's label, Yes or No, the date, the text."""
        if self.type == "yes_no" and isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        if self.type == "choice":
            choice = self.choice(str(value))
            return choice.text(language) if choice else str(value)
        return str(value)


@dataclass(frozen=True)
class Questionnaire:
    """A validated questionnaire file. ``key`` and ``version`` are kept with every response to it."""

    key: str
    version: int
    title: Mapping[str, str]
    intro: Mapping[str, str] | None
    questions: tuple[Question, ...]
    origin: str

    def title_text(self, language: str) -> str:
        return _in(self.title, language)

    def intro_text(self, language: str) -> str | None:
        return _in(self.intro, language) if self.intro else None

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def answers_for_display(self, answers: Mapping[str, Any], language: str) -> list[tuple[str, str]]:
        """(question, answer) in the order of the questions, for reading a response.

        Answers to questions that a later version of the file no longer has are still shown, under their key:
        what a candidate said is never hidden because the form moved on.
        """
        rows = [(q.text(language), q.answer_text(answers[q.key], language))
                for q in self.questions if q.key in answers]
        rows += [(key, str(value)) for key, value in answers.items() if self.question(key) is None]
        return rows


# --------------------------------------------------------------------------------------------
# YAML with line numbers (the same approach as workflows/definition.py)
# --------------------------------------------------------------------------------------------


# The YAML reader that keeps line numbers is shared with the other data files: workflows/yaml_lines.py.


# --------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------

_TOP_KEYS = ("key", "version", "title", "intro", "questions")
_TOP_REQUIRED = ("key", "version", "title", "questions")
_QUESTION_KEYS = ("key", "type", "required", "label", "help", "multiline", "max_length", "choices")
_QUESTION_REQUIRED = ("key", "type", "required", "label")
_TEXT_ONLY = ("multiline", "max_length")
_CHOICE_KEYS = ("key", "label")


def _check_keys(m: _Map, allowed: tuple[str, ...], required: tuple[str, ...], where: str) -> None:
    _shared_check_keys(m, allowed, required, where, "field")


def _identifier(m: _Map, field: str, where: str) -> str:
    value = m[field]
    if isinstance(value, bool):
        # YAML 1.1 reads yes/no/on/off as true/false: the commonest surprise in a hand-written file.
        _fail(m.value_lines[field], f"{field!r} of {where} was read as {value!r}; write the key in quotes")
    if not isinstance(value, str) or not _IDENTIFIER.match(value) or len(value) > MAX_KEY_LENGTH:
        _fail(
            m.value_lines[field],
            f"{field!r} of {where} must be lowercase letters, digits and underscores starting with a letter "
            f"(at most {MAX_KEY_LENGTH}), got {value!r}",
        )
    return value


def _texts(m: _Map, field: str, where: str, languages: Sequence[str], *, one_line: bool) -> dict[str, str]:
    """A text per language, e.g. ``label: {en: ..., uk: ...}``; every language of the site must be there."""
    value = m[field]
    if not isinstance(value, _Map):
        example = ", ".join(f"{lang}: ..." for lang in languages)
        _fail(m.value_lines[field], f"{field!r} of {where} must give the text per language, e.g. {{{example}}}")
    for lang in value:
        if lang not in languages:
            _fail(value.key_lines[lang], f"unknown language {lang!r} in {field!r} of {where}; "
                                         f"expected: {', '.join(languages)}")
    texts: dict[str, str] = {}
    for lang in languages:
        if lang not in value:
            _fail(value.line, f"{field!r} of {where} has no {lang!r} text")
        text = value[lang]
        if not isinstance(text, str) or not text.strip():
            _fail(value.value_lines[lang], f"the {lang!r} text of {field!r} of {where} must be a non-empty text")
        text = text.strip()
        if one_line and "\n" in text:
            _fail(value.value_lines[lang], f"the {lang!r} text of {field!r} of {where} must fit on one line")
        texts[lang] = text
    return texts


def _flag(m: _Map, field: str, where: str, default: bool | None = None) -> bool:
    value = m.get(field, default)
    if not isinstance(value, bool):
        _fail(m.value_lines[field], f"{field!r} of {where} must be true or false, got {value!r}")
    return value


def _describe(m: _Map, kind: str, position: int) -> str:
    name = m.get("key")
    return f"{kind} {name!r}" if isinstance(name, str) and name else f"{kind} #{position}"


def _choices(m: _Map, where: str, languages: Sequence[str]) -> tuple[Choice, ...]:
    if "choices" not in m:
        _fail(m.line, f"{where} is a choice question without 'choices'")
    value = m["choices"]
    if not isinstance(value, _Seq) or len(value) < 2:
        _fail(m.value_lines["choices"], f"'choices' of {where} must be a list of at least two choices")
    choices: list[Choice] = []
    lines: dict[str, int] = {}
    for position, (item, line) in enumerate(zip(value, value.item_lines, strict=True), start=1):
        if not isinstance(item, _Map):
            _fail(line, f"each choice of {where} must have a 'key' and a 'label'")
        inner = f"{_describe(item, 'choice', position)} of {where}"
        _check_keys(item, _CHOICE_KEYS, _CHOICE_KEYS, inner)
        key = _identifier(item, "key", inner)
        if key in lines:
            _fail(item.value_lines["key"], f"choice {key!r} appears twice in {where} (first on line {lines[key]})")
        lines[key] = item.value_lines["key"]
        choices.append(Choice(key=key, label=_texts(item, "label", f"choice {key!r} of {where}", languages,
                                                    one_line=True)))
    return tuple(choices)


def _question(m: _Map, position: int, languages: Sequence[str]) -> Question:
    where = _describe(m, "question", position)
    _check_keys(m, _QUESTION_KEYS, _QUESTION_REQUIRED, where)
    key = _identifier(m, "key", where)
    if key in _RESERVED:
        _fail(m.value_lines["key"], f"{key!r} cannot be a question key: the form uses that name itself")
    where = f"question {key!r}"
    kind = m["type"]
    if kind not in TYPES:
        hint = difflib.get_close_matches(str(kind), TYPES, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else f"; expected one of: {', '.join(TYPES)}"
        _fail(m.value_lines["type"], f"unknown type {kind!r} of {where}{extra}")
    for field in (*_TEXT_ONLY, "choices"):
        if field in m and kind != ("choice" if field == "choices" else "text"):
            owner = "choice" if field == "choices" else "text"
            _fail(m.key_lines[field], f"{field!r} is only for {owner} questions, and {where} is a {kind} question")
    max_length = m.get("max_length", DEFAULT_MAX_LENGTH)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= MAX_MAX_LENGTH:
        _fail(m.value_lines["max_length"],
              f"'max_length' of {where} must be a whole number from 1 to {MAX_MAX_LENGTH}, got {max_length!r}")
    return Question(
        key=key,
        type=kind,
        required=_flag(m, "required", where),
        label=_texts(m, "label", where, languages, one_line=True),
        help=_texts(m, "help", where, languages, one_line=False) if "help" in m else None,
        multiline=_flag(m, "multiline", where, default=False),
        max_length=max_length,
        choices=_choices(m, where, languages) if kind == "choice" else (),
    )


def _parse(text: str, origin: str, languages: Sequence[str]) -> Questionnaire:
    top = _read_yaml(text)
    if top is None:
        _fail(1, "the questionnaire is empty")
    if not isinstance(top, _Map):
        _fail(1, f"a questionnaire must be a mapping with the fields {', '.join(_TOP_KEYS)}")
    _check_keys(top, _TOP_KEYS, _TOP_REQUIRED, "the questionnaire")
    key = _identifier(top, "key", "the questionnaire")
    version = top["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        _fail(top.value_lines["version"], f"'version' must be a positive whole number, got {version!r}")
    title = _texts(top, "title", "the questionnaire", languages, one_line=True)
    intro = _texts(top, "intro", "the questionnaire", languages, one_line=False) if "intro" in top else None

    items = top["questions"]
    if not isinstance(items, _Seq) or not items:
        _fail(top.value_lines["questions"], "'questions' must be a non-empty list")
    questions: list[Question] = []
    lines: dict[str, int] = {}
    for position, (item, line) in enumerate(zip(items, items.item_lines, strict=True), start=1):
        if not isinstance(item, _Map):
            _fail(line, "each question must be a mapping of fields to values")
        question = _question(item, position, languages)
        if question.key in lines:
            _fail(item.value_lines["key"],
                  f"question {question.key!r} is defined twice (first on line {lines[question.key]})")
        lines[question.key] = item.value_lines["key"]
        questions.append(question)
    return Questionnaire(key=key, version=version, title=title, intro=intro, questions=tuple(questions),
                         origin=origin)


def parse(text: str, origin: str, languages: Sequence[str] = LANGUAGES) -> Questionnaire:
    """Parse and validate questionnaire ``text``; ``origin`` names it in errors."""
    try:
        return _parse(text, origin, tuple(languages))
    except _Problem as problem:
        raise IntakeError(origin, problem.line, problem.reason) from None


def load(path: str | Path, languages: Sequence[str] = LANGUAGES) -> Questionnaire:
    """Load and validate one questionnaire file; errors name ``path`` and the offending line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise IntakeError(str(path), 1, f"not UTF-8 text ({exc.reason})") from None
    return parse(text, str(path), languages)


# --------------------------------------------------------------------------------------------
# Forms built at run time
# --------------------------------------------------------------------------------------------


class IntakeForm(FlaskForm):
    """The base of every questionnaire form that :func:`build_form` makes."""

    questionnaire: ClassVar[Questionnaire]

    def answers(self) -> dict[str, Any]:
        """The validated answers as JSON values, by question key; questions left empty are left out."""
        result: dict[str, Any] = {}
        for question in self.questionnaire.questions:
            value = _to_json(question, self[question.key].data)
            if value is not None:
                result[question.key] = value
        return result


# A question key becomes an attribute of the form class: it must not hide one the form already has.
_RESERVED = frozenset(name for name in dir(IntakeForm) if not name.startswith("__")) | {"csrf_token", "meta"}

_ANSWER = _l("Please answer this question.")
_CHOOSE = _l("Please choose an answer.")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _to_json(question: Question, data: Any) -> Any:
    if question.type == "yes_no":
        return {"yes": True, "no": False}.get(data) if isinstance(data, str) else None
    if question.type == "date":
        return data.isoformat() if isinstance(data, dt.date) else None
    return data if isinstance(data, str) and data else None


def _field(question: Question, language: str) -> Any:
    label = question.text(language)
    if not question.required:
        label = "{} ({})".format(label, gettext("optional"))
    radio = question.type in ("choice", "yes_no")
    if question.required:
        first: Any = InputRequired(message=_CHOOSE if radio else _ANSWER)
        if question.type == "text":
            first = DataRequired(message=_ANSWER)  # spaces alone are no answer
    else:
        first = Optional()
    common = {"description": question.help_text(language) or "", "validators": [first]}
    if question.type == "text":
        common["validators"].append(Length(max=question.max_length,
                                           message=_l("Write at most %(max)d characters.")))
        if question.multiline:
            return TextAreaField(label, filters=[_strip], render_kw={"rows": 5}, **common)
        return StringField(label, filters=[_strip], **common)
    if question.type == "date":
        return DateField(label, format=DATE_FORMATS,
                         invalid_value_message=_l("Write the date as year-month-day, for example 2025-09-01."),
                         **common)
    choices = ([(c.key, c.text(language)) for c in question.choices] if question.type == "choice"
               else [("yes", gettext("Yes")), ("no", gettext("No"))])
    return RadioField(label, choices=choices, invalid_choice_message=_CHOOSE, **common)


def build_form(questionnaire: Questionnaire, language: str) -> type[IntakeForm]:
    """A form class for ``questionnaire`` with its texts in ``language``; messages follow the page's locale.

    yes/no questions are a pair of radio buttons, not a checkbox: an unticked box cannot tell "no" from
    "not answered", and a required yes/no question must be answered either way.
    """
    attrs: dict[str, Any] = {"questionnaire": questionnaire}
    for question in questionnaire.questions:
        attrs[question.key] = _field(question, language)
    return type(f"IntakeForm_{questionnaire.key}", (IntakeForm,), attrs)


def form_data(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Kept answers as the form's initial data, to prefill it; answers the form can no longer take are dropped."""
    data: dict[str, Any] = {}
    for key, value in answers.items():
        question = questionnaire.question(key)
        if question is None:
            continue
        if question.type == "yes_no" and isinstance(value, bool):
            data[key] = "yes" if value else "no"
        elif question.type == "date" and isinstance(value, str):
            try:
                data[key] = dt.date.fromisoformat(value)
            except ValueError:
                continue
        elif question.type == "choice":
            if question.choice(str(value)) is not None:
                data[key] = str(value)
        elif question.type == "text" and isinstance(value, str):
            data[key] = value
    return data

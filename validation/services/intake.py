"""The intake questionnaire: which one a candidate gets, and keeping their answers with its key and version.

The questions are data (``forms/intake/*.yaml``, see :mod:`forms.intake`), so a centre can change them
without code. A candidate gets their centre's file when there is one, else ``default.yaml``. Each answer is a
new row: what a candidate said before is kept, and each row names the questionnaire version it answered, so
old answers keep their meaning after the file changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select

from forms import intake as questionnaires
from forms.intake import IntakeError, Question, Questionnaire
from validation.extensions import db
from validation.models import User
from validation.models.intake import IntakeResponse
from validation.services import audit, presence, profiles
from validation.services.errors import Forbidden, Invalid

DEFAULT_FILE = "default.yaml"
# A centre code names a file: only plain names, so that no code can point outside the folder.
_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def intake_dir() -> Path:
    return Path(current_app.config["INTAKE_DIR"])


def _languages() -> tuple[str, ...]:
    return tuple(current_app.config["LANGUAGES"])


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int, size: int, languages: tuple[str, ...]) -> Questionnaire:
    """Parsed once per version of the file: an edited file has a new mtime and is read again."""
    return questionnaires.load(path, languages)


def load_file(path: Path) -> Questionnaire:
    """Load (or reuse) one questionnaire file; a broken file raises :class:`IntakeError`."""
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size, _languages())


def file_for(user: User) -> Path:
    """The centre's own file when it has one, else the default."""
    directory = intake_dir()
    if user.centre is not None:
        name = user.centre.code.lower()
        if _FILE_NAME.match(name) and name + ".yaml" != DEFAULT_FILE:
            own = directory / f"{name}.yaml"
            if own.is_file():
                return own
    return directory / DEFAULT_FILE


def questionnaire_for(user: User) -> Questionnaire:
    return load_file(file_for(user))


#: Read by every case page a member of staff opens, so built once.
_LATEST = (
    select(IntakeResponse)
    .where(IntakeResponse.user_id == bindparam("user_id"))
    .order_by(IntakeResponse.id.desc())
    .limit(1)
)


def latest_for(user_id: int) -> IntakeResponse | None:
    """The newest response of a candidate, whichever questionnaire it answered."""
    if presence.empty_for_candidate(user_id, "intake_responses"):
        return None
    return db.session.execute(_LATEST, {"user_id": user_id}).scalar_one_or_none()


def prefill_for(user: User, questionnaire: Questionnaire) -> dict[str, Any]:
    """The form data that shows the candidate's last answers again, when they answered this questionnaire."""
    latest = latest_for(user.id)
    if latest is None or latest.form_key != questionnaire.key:
        return {}
    return questionnaires.form_data(questionnaire, latest.answers)


def _valid(question: Question, value: Any) -> bool:
    if question.type == "text":
        return isinstance(value, str) and bool(value.strip()) and len(value) <= question.max_length
    if question.type == "choice":
        return isinstance(value, str) and question.choice(value) is not None
    if question.type == "yes_no":
        return isinstance(value, bool)
    try:
        return isinstance(value, str) and dt.date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def submit(actor: User, answers: Mapping[str, Any], *, language: str | None = None) -> IntakeResponse:
    """Keep a candidate's answers as a new response; the form checked them, this checks them against the file.

    The audit event says which questionnaire was answered and how many answers were given, never what: the
    answers are the candidate's own words and situation.
    """
    if actor.role != "candidate":
        raise Forbidden("Only candidates answer the intake questionnaire.")
    profiles.require_consent(actor)
    questionnaire = questionnaire_for(actor)
    for key, value in answers.items():
        question = questionnaire.question(key)
        if question is None or not _valid(question, value):
            raise Invalid("The answers do not fit the questionnaire, which may have changed. Reload the page and "
                          "answer again.")
    if any(q.required and q.key not in answers for q in questionnaire.questions):
        raise Invalid("Please answer every question that is not marked optional.")
    if language not in _languages():
        language = actor.preferred_language
    response = IntakeResponse(user_id=actor.id, form_key=questionnaire.key, form_version=questionnaire.version,
                              language=language, answers=dict(answers))
    db.session.add(response)
    db.session.flush()
    audit.record("intake.answered", actor=actor, user_id=actor.id, response_id=response.id,
                 form_key=questionnaire.key, form_version=questionnaire.version, answers=len(answers))
    return response


def questionnaire_of(response: IntakeResponse, user: User) -> Questionnaire:
    """The questionnaire that explains a response: the candidate's own if it has the response's key, else
    any file with that key, else the candidate's own (unknown answers are then shown under their keys)."""
    current = questionnaire_for(user)
    if current.key == response.form_key:
        return current
    for path in sorted(intake_dir().glob("*.yaml")):
        try:
            other = load_file(path)
        except IntakeError:
            continue
        if other.key == response.form_key:
            return other
    return current


def view_for(user_id: int) -> tuple[Questionnaire, IntakeResponse] | None:
    """What ``templates/cases/_intake.html`` shows as ``intake``: the latest response and its questionnaire.

    Reading only; who may see a candidate's answers is decided by the caller (the case page).
    """
    response = latest_for(user_id)
    if response is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        return None
    return questionnaire_of(response, user), response


def answers_for_display(user_id: int, language: str) -> list[tuple[str, str]]:
    """(question, answer) pairs of the latest response in ``language``; empty when there is none."""
    found = view_for(user_id)
    if found is None:
        return []
    questionnaire, response = found
    return questionnaire.answers_for_display(response.answers, language)


def check_directory(directory: Path | None = None) -> tuple[int, list[str]]:
    """Load every questionnaire file; the number that are valid and one ``file:line: reason`` per broken file."""
    directory = directory or intake_dir()
    problems: list[str] = []
    if not (directory / DEFAULT_FILE).is_file():
        problems.append(f"{directory / DEFAULT_FILE}:1: missing: candidates without a centre file get this one")
    for path in sorted(directory.glob("*.yml")):
        problems.append(f"{path}:1: only files ending in .yaml are read; rename it")
    valid = 0
    for path in sorted(directory.glob("*.yaml")):
        try:
            questionnaires.load(path, _languages())
        except IntakeError as exc:
            problems.append(str(exc))
        else:
            valid += 1
    return valid, problems

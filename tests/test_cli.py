"""The `validation` command: workflow diagrams and checks, pinned workflow versions, accounts, demo data."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

import workflows
from tests import factories
from tests.conftest import login, post
from validation import create_app
from validation import demo as demo_data
from validation.extensions import db
from validation.models import AuditEvent, Case, User, UserSession, WorkflowVersion
from validation.models.people import ROLES
from validation.services import audit, cases, catalog
from validation.web.security import write_intent

STANDARD = workflows.DEFINITIONS_DIR / "standard.yaml"
STANDARD_STATES = list(workflows.default_registry().latest("standard").states)


@pytest.fixture(autouse=True)
def _no_write_intent_left_behind() -> Iterator[None]:
    """A CLI command marks its thread as writing (its process ends there); the tests go on, so restore it."""
    token = write_intent.set(False)
    yield
    write_intent.reset(token)


def _invoke(app: Flask, *args: str, **kwargs: Any) -> Any:
    return app.test_cli_runner().invoke(args=list(args), **kwargs)


def _use_workflow_dir(app: Flask, path: Path) -> None:
    app.config["WORKFLOW_DIR"] = str(path)
    app.extensions.pop("workflow_registry", None)


@pytest.fixture
def sibling(app: Flask) -> Iterator[Any]:
    """Further apps on the same database, as another process would build; their engines closed after."""
    made: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        keys = ("TESTING", "SECRET_KEY", "EVIDENCE_DIR", "KEYS_DIR", "RATELIMIT_STORAGE_URI", "MAX_CONTENT_LENGTH",
                "SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS")
        other = create_app({**{k: app.config[k] for k in keys}, **overrides})
        made.append(other)
        return other

    yield build
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


# --- workflow diagram ----------------------------------------------------------------------------------


def test_workflow_diagram_prints_mermaid(app: Flask) -> None:
    result = _invoke(app, "workflow", "diagram", "standard")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("stateDiagram-v2\n")
    assert 'state "Under review" as under_review' in result.output
    for state in STANDARD_STATES:
        assert re.search(rf"\bstate \"[^\"]+\" as {state}\n", result.output), state
    assert "    [*] --> draft\n" in result.output
    assert "draft --> submitted: Submit portfolio" in result.output
    latest = workflows.default_registry().latest("standard").version
    pinned = _invoke(app, "workflow", "diagram", "standard", "--version", str(latest))
    assert pinned.exit_code == 0 and pinned.output == result.output
    first = _invoke(app, "workflow", "diagram", "standard", "--version", "1")
    assert first.exit_code == 0 and "moderation" not in first.output


@pytest.mark.parametrize("args", [["no_such_workflow"], ["standard", "--version", "99"]])
def test_workflow_diagram_of_an_unknown_workflow(app: Flask, args: list[str]) -> None:
    result = _invoke(app, "workflow", "diagram", *args)
    assert result.exit_code == 1, result.output
    assert "not registered" in result.output
    assert "stateDiagram" not in result.output


# --- workflow check ------------------------------------------------------------------------------------


def _recorded(app: Flask) -> list[tuple[str, int, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(WorkflowVersion.key, WorkflowVersion.version, WorkflowVersion.source_text)
            .order_by(WorkflowVersion.key, WorkflowVersion.version)
        ).all()
        db.session.remove()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _last_event() -> AuditEvent:
    return db.session.execute(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()


def _audit_count(app: Flask) -> int:
    with app.app_context():
        count = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
        db.session.remove()
        return int(count)


def test_workflow_check_records_versions_and_refuses_a_changed_file(app: Flask, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    copy = folder / "standard.yaml"
    shutil.copy(STANDARD, copy)
    original = copy.read_text(encoding="utf-8")
    _use_workflow_dir(app, folder)
    assert _recorded(app) == []

    result = _invoke(app, "workflow", "check")
    assert result.exit_code == 0, result.output
    assert "1 workflow(s) valid." in result.output
    assert _recorded(app) == [("standard", 1, original)]
    assert _audit_count(app) == 1

    # Checking again records nothing new.
    again = _invoke(app, "workflow", "check")
    assert again.exit_code == 0, again.output
    assert _recorded(app) == [("standard", 1, original)]
    assert _audit_count(app) == 1

    # A label changed, the version not: refused, and the recorded text stays as it was.
    edited = original.replace("label: Under review", "label: Being reviewed")
    assert edited != original and "version: 1\n" in edited
    copy.write_text(edited, encoding="utf-8")
    refused = _invoke(app, "workflow", "check")
    assert refused.exit_code == 1, refused.output
    assert "bump the version" in refused.output
    assert "standard.yaml" in refused.output
    assert _recorded(app) == [("standard", 1, original)]
    assert _audit_count(app) == 1

    # The same change as version 2 is accepted and recorded beside version 1.
    bumped = edited.replace("version: 1\n", "version: 2\n", 1)
    copy.write_text(bumped, encoding="utf-8")
    accepted = _invoke(app, "workflow", "check")
    assert accepted.exit_code == 0, accepted.output
    assert _recorded(app) == [("standard", 1, original), ("standard", 2, bumped)]
    assert _audit_count(app) == 2


def test_workflow_check_refuses_an_invalid_definition(app: Flask, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    text = STANDARD.read_text(encoding="utf-8")
    text = text.replace("guards: [assessor_assigned]", "guards: [no_such_guard]")
    assert "no_such_guard" in text
    (folder / "standard.yaml").write_text(text, encoding="utf-8")
    _use_workflow_dir(app, folder)
    result = _invoke(app, "workflow", "check")
    assert result.exit_code == 1, result.output
    assert re.search(r"standard\.yaml:\d+: ", result.output), result.output
    assert "no_such_guard" in result.output
    assert _recorded(app) == []


# --- a case stays on its workflow version ---------------------------------------------------------------


def test_case_stays_pinned_and_runs_from_the_stored_text(app: Flask, sibling: Any, tmp_path: Path) -> None:
    only_v1 = tmp_path / "only-v1"
    only_v1.mkdir()
    shutil.copy(STANDARD, only_v1 / "standard.yaml")
    _use_workflow_dir(app, only_v1)
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        old_case = factories.case_in_state("submitted", who, code="UA-BAKERY")
        db.session.commit()
        old_id, candidate_id = old_case.id, who["candidate"].id
        assert (old_case.workflow_key, old_case.workflow_version) == ("standard", 1)
        db.session.remove()

    # Version 2 renames an action; version 1's file is gone.
    folder = tmp_path / "only-v2"
    folder.mkdir()
    text = STANDARD.read_text(encoding="utf-8")
    v2 = text.replace("version: 1\n", "version: 2\n", 1).replace("trigger: start_screening",
                                                                  "trigger: begin_screening")
    assert v2.count("begin_screening") == 1 and "version: 2\n" in v2
    (folder / "standard.yaml").write_text(v2, encoding="utf-8")
    later = sibling(WORKFLOW_DIR=str(folder))

    with later.app_context():
        coordinator = db.session.execute(sa.select(User).where(User.role == "coordinator")).scalar_one()
        candidate = db.session.get(User, candidate_id)
        assert candidate is not None
        # The old case moves by version 1's rules, read back from the database.
        moved = cases.fire(old_id, "start_screening", coordinator)
        assert moved.state == "screening" and moved.workflow_version == 1
        assert cases.definition_for(moved).origin == "database:standard@1"
        # A new case gets version 2, where the old action does not exist.
        credential = catalog.by_code("GE-WELD-MMA")
        assert credential is not None
        new_case = cases.open_case(candidate, credential.id)
        assert (new_case.workflow_key, new_case.workflow_version) == ("standard", 2)
        factories.portfolio(new_case, candidate)
        cases.fire(new_case.id, "submit", candidate)
        with pytest.raises(workflows.NotAllowed):
            cases.fire(new_case.id, "start_screening", coordinator)
        assert cases.fire(new_case.id, "begin_screening", coordinator).state == "screening"
        db.session.commit()
        versions = db.session.execute(
            sa.select(WorkflowVersion.version, WorkflowVersion.source_text).order_by(WorkflowVersion.version)
        ).all()
        assert [tuple(v) for v in versions] == [(1, text), (2, v2)]
        assert audit.verify_chain().intact
        db.session.remove()

    with app.app_context():
        assert db.session.get(Case, old_id).state == "screening"  # type: ignore[union-attr]
        db.session.remove()


# --- users ---------------------------------------------------------------------------------------------


def test_users_create_with_password_option_then_login(app: Flask, client: FlaskClient) -> None:
    result = _invoke(app, "users", "create", "--email", "Iryna@Test.example", "--name", "Iryna",
                     "--role", "assessor", "--password", factories.PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Created assessor Iryna@Test.example." in result.output
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == "iryna@test.example")).scalar_one()
        assert (user.role, user.display_name, user.active) == ("assessor", "Iryna", True)
        assert factories.PASSWORD not in user.password_hash
        event = _last_event()
        assert (event.action, event.actor_id) == ("user.created", None)
        db.session.remove()
    response = login(client, "iryna@test.example")
    assert response.headers["Location"].endswith("/assessor/")
    assert client.get("/assessor/").status_code == 200


def test_users_create_prompts_for_the_password(app: Flask, client: FlaskClient) -> None:
    password = "a prompted password"
    result = _invoke(app, "users", "create", "--email", "coord@test.example", "--name", "Coordinator",
                     "--role", "coordinator", "--language", "uk", input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    assert password not in result.output
    wrong = post(client, "/login", {"login": "coord@test.example", "password": "wrong password!"})
    assert wrong.status_code == 401
    response = login(client, "coord@test.example", password)
    assert response.headers["Location"].endswith("/coordinator/")
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == "coord@test.example")).scalar_one()
        assert user.preferred_language == "uk"
        db.session.remove()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--password", "short"], 1, "at least 10 characters"),
        (["--password", factories.PASSWORD, "--role", "wizard"], 2, "wizard"),
    ],
)
def test_users_create_refuses(app: Flask, args: list[str], code: int, message: str) -> None:
    base = ["users", "create", "--email", "x@test.example", "--name", "X"]
    if "--role" not in args:
        base += ["--role", "candidate"]
    result = _invoke(app, *base, *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 0
        db.session.remove()


def test_users_create_refuses_a_taken_email(app: Flask) -> None:
    args = ["users", "create", "--email", "x@test.example", "--name", "X", "--role", "admin",
            "--password", factories.PASSWORD]
    assert _invoke(app, *args).exit_code == 0
    again = _invoke(app, *args[:2], "--email", "X@TEST.example", *args[4:])
    assert again.exit_code == 1, again.output
    assert "already exists" in again.output
    assert _audit_count(app) == 1


def test_users_disable_ends_an_open_session(app: Flask, client: FlaskClient) -> None:
    created = _invoke(app, "users", "create", "--email", "assessor@test.example", "--name", "A",
                      "--role", "assessor", "--password", factories.PASSWORD)
    assert created.exit_code == 0, created.output
    login(client, "assessor@test.example")
    assert client.get("/assessor/").status_code == 200

    result = _invoke(app, "users", "disable", "assessor@test.example")
    assert result.exit_code == 0, result.output
    assert "Disabled assessor@test.example." in result.output

    response = client.get("/assessor/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == "assessor@test.example")).scalar_one()
        assert user.active is False
        sessions = db.session.execute(
            sa.select(UserSession).where(UserSession.user_id == user.id)
        ).scalars().all()
        assert sessions and all(s.revoked_at is not None for s in sessions)
        event = _last_event()
        assert event.action == "user.disabled"
        assert audit.facts_of(event) == {"user_id": user.id, "sessions_revoked": 1}
        db.session.remove()
    # Signing in again is refused too.
    fresh = app.test_client()
    refused = post(fresh, "/login", {"login": "assessor@test.example", "password": factories.PASSWORD})
    assert refused.status_code == 401


def test_users_disable_an_unknown_account(app: Flask) -> None:
    result = _invoke(app, "users", "disable", "nobody@test.example")
    assert result.exit_code == 1
    assert "No account nobody@test.example." in result.output


# --- demo ----------------------------------------------------------------------------------------------


def _snapshot(app: Flask) -> dict[str, Any]:
    """Row counts of every table, and what changes in place when a case moves."""
    with app.app_context():
        snapshot: dict[str, Any] = {
            table.name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in db.metadata.sorted_tables
        }
        snapshot["cases"] = [
            tuple(r) for r in db.session.execute(
                sa.select(Case.id, Case.state, Case.lock_version, Case.updated_at).order_by(Case.id)
            )
        ]
        snapshot["last_audit_hash"] = db.session.execute(
            sa.select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).scalar_one_or_none()
        db.session.remove()
        return snapshot


def test_demo_loads_everything_once(app: Flask) -> None:
    result = _invoke(app, "demo")
    assert result.exit_code == 0, result.output
    assert "Demo data loaded." in result.output
    assert demo_data.PASSWORD in result.output
    printed = re.findall(r"^\s+(candidate|assessor|coordinator|admin)\s+(\S+@\S+)$", result.output, re.M)
    assert {role for role, _ in printed} == set(ROLES)

    with app.app_context():
        states = set(db.session.execute(sa.select(Case.state).distinct()).scalars())
        assert states == set(STANDARD_STATES)
        for role, email in printed:
            user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
            assert user.role == role and user.active
        roles = set(db.session.execute(sa.select(User.role).distinct()).scalars())
        assert roles == set(ROLES)
        assert db.session.execute(sa.select(sa.func.count()).select_from(User).where(User.role == "admin")
                                  ).scalar_one() == 1
        db.session.remove()

    # The printed logins work.
    for role, email in printed:
        response = login(app.test_client(), email, demo_data.PASSWORD)
        desk = "/my" if role == "candidate" else f"/{role}"
        assert response.headers["Location"].rstrip("/").endswith(desk), role

    before = _snapshot(app)
    assert before["cases"] and before["audit_events"] > 0
    again = _invoke(app, "demo")
    assert again.exit_code == 0, again.output
    assert "already present; nothing changed" in again.output
    assert "Demo data loaded." not in again.output
    after = _snapshot(app)
    assert after == before

    verified = _invoke(app, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert f"{before['audit_events']} event(s) verified" in verified.output


def test_seed_fills_a_benchmark_database_that_stays_consistent(app: Flask) -> None:
    refused = _invoke(app, "seed")
    assert refused.exit_code == 2 and "--yes" in refused.output
    result = _invoke(app, "seed", "--yes", "--cases", "120", "--credentials", "10", "--assessors", "6",
                     "--events", "1500")
    assert result.exit_code == 0, result.output
    assert "Seeded 120 cases" in result.output and "1,500 audit events" in result.output
    from validation.services import queues, reports, staffing

    with app.app_context():
        assert audit.verify_chain().intact
        assert queues.recount() == 0  # the kept counts match the cases
        assert staffing.recount_workloads() == 0  # and so does each assessor's open work
        assert staffing.open_workloads()  # the seed assigns cases
        states = set(db.session.execute(sa.select(Case.state).distinct()).scalars())
        assert len(states) >= 10
        figures = reports.figures(reports.Period("2020-01", "2030-12"))
        decided = db.session.execute(
            sa.select(sa.func.count()).select_from(Case)
            .where(Case.outcome.in_(["awarded", "partially_awarded", "not_awarded"]))
        ).scalar_one()
        assert figures.overall.decisions.n == decided
        db.session.rollback()

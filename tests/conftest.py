"""Fixtures: an app and an empty migrated database per test, on SQLite and, when TEST_DATABASE_URL is set,
on PostgreSQL too; clients signed in per role; factories that build cases through the services."""

from __future__ import annotations

import gc
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache

from validation import create_app
from validation.extensions import db
from validation.services import accounts

PASSWORD = "correct horse battery"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
IN_CI = bool(os.environ.get("CI"))
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def postgres_only(test: Callable[..., Any], reason: str = "needs PostgreSQL") -> Callable[..., Any]:
    """Runs on PostgreSQL alone (real locks between connections, what its driver does); in CI
    TEST_DATABASE_URL is always set, so it never skips there."""
    test = pytest.mark.skipif(not PG_URL, reason=f"{reason}: set TEST_DATABASE_URL")(test)
    test = pytest.mark.parametrize("backend", ["postgresql"])(test)
    return pytest.mark.postgres_only(test)

# The real hasher is argon2id with production costs; tests keep argon2id but make it cheap.
accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _collect_garbage_less_often() -> None:
    """Every test builds an app and a database: a great many short-lived objects, on top of a heap of long-
    lived ones (the libraries, SQLAlchemy's metadata, the JSON-LD contexts). With Python's default thresholds
    the full collection runs so often that it took a fifth of the suite's time (tests/web/test_case_actions.py:
    46 s, 36 s with these settings). What is loaded now is frozen out of collection; collections come later."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1_000)


_collect_garbage_less_often()


def _reuse_url_builders() -> None:
    """Each test builds its own app, and Werkzeug compiles two URL builder functions per route from an AST
    (about a third of the cost of an app). A builder takes its rule as an argument and bakes in only the
    rule's text, its parts and its defaults, so apps with the same routes can share them."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    built: dict[object, object] = {}

    def cached(self: Rule, append_unknown: bool = True):  # type: ignore[no-untyped-def]
        key = (type(self), self.rule, tuple(self._trace), append_unknown,
               tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items())),
               tuple(sorted((k, type(c).__name__) for k, c in self._converters.items())))
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    Rule._compile_builder = cached  # type: ignore[method-assign]


_reuse_url_builders()


class _SharedTemplateBytecode(BytecodeCache):
    """Templates compiled once for the whole test process, not once per test's app: Jinja's lexing, parsing
    and compiling were the largest cost of a test's first requests. The key holds the template's source
    checksum, so a changed template is compiled again."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self._compiled:
            bucket.bytecode_from_string(self._compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": _SharedTemplateBytecode()}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: nothing may be left unchecked silently."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if IN_CI and skipped and exitstatus == 0:
        reporter.write_line(f"CI: {skipped} test(s) were skipped; in CI nothing may skip.", red=True)
        session.exitstatus = 1


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pg_schema() -> str:
    """A schema per test process, so parallel workers and parallel runs never share tables."""
    return f"test_{_worker()}_{os.getpid()}"


def pg_engine_options() -> dict[str, object]:
    """The worker's own schema. A test's commits need not wait for the disk (synchronous_commit=off: what a
    crash would lose is a test database), and its connections are new, so no ping before each checkout."""
    return {"connect_args": {"options": f"-csearch_path={pg_schema()} -csynchronous_commit=off"}}


def _migrate(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy, which is much faster than migrating again."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    _migrate(create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TESTING": True}))
    # Fold the write-ahead log into the file, so that copying the one file copies everything.
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return path


@pytest.fixture(scope="session")
def pg_ready() -> Iterator[str]:
    """A schema of our own in the PostgreSQL test database, migrated once per test worker."""
    engine = sa.create_engine(PG_URL)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {pg_schema()} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {pg_schema()}")
    except sa.exc.OperationalError as exc:  # pragma: no cover - depends on the machine
        if IN_CI:
            pytest.fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    finally:
        engine.dispose()
    _migrate(create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "SQLALCHEMY_ENGINE_OPTIONS": pg_engine_options(),
                         "TESTING": True}))
    yield PG_URL
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {pg_schema()} CASCADE")
    engine.dispose()


_PG_SEQUENCES: list[str] = []
_PG_SUPERUSER: list[bool] = []


def _empty_pg(app: Flask) -> None:
    """Empty every table and restart every sequence, as a fresh migrated schema would be.

    DELETE with triggers and foreign keys switched off for the session (session_replication_role) takes a
    few milliseconds, where TRUNCATE of forty tables takes over a hundred: the file work TRUNCATE does per
    table outweighs deleting the few rows a test leaves. A role that may not switch them off (not a
    superuser) gets TRUNCATE, which is slower but just as clean."""
    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if not _PG_SEQUENCES:
                _PG_SEQUENCES.extend(row[0] for row in conn.exec_driver_sql(
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()"))
            if not _PG_SUPERUSER:
                _PG_SUPERUSER.append(bool(conn.exec_driver_sql(
                    "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar()))
            restart = "".join(f"SELECT setval('{name}', 1, false);" for name in _PG_SEQUENCES)
            if _PG_SUPERUSER[0]:
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica;"
                                     + "".join(f"DELETE FROM {name};" for name in tables) + restart)
                return
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate")
            conn.exec_driver_sql("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE")
            conn.exec_driver_sql("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate")


@pytest.fixture(autouse=True)
def _no_write_intent_left_behind() -> Iterator[None]:
    """Each test starts as a reader. A request made through the test client runs in the test's own context,
    and marks it as writing when it is a POST; without this, the next test in the same worker would begin
    its SQLite transactions with the write lock (a test holding two connections then waits for itself)."""
    from validation.web.security import write_intent

    token = write_intent.set(False)
    yield
    write_intent.reset(token)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_config(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copy(template, path)
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    url = request.getfixturevalue("pg_ready")
    return {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": pg_engine_options()}


@pytest.fixture
def app(database_config: dict[str, object], tmp_path: Path, backend: str) -> Iterator[Flask]:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-" + uuid.uuid4().hex,
        "EVIDENCE_DIR": str(tmp_path / "evidence"),
        "MAIL_DIR": str(tmp_path / "mail"),
        "KEYS_DIR": str(tmp_path / "keys"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "MAX_FILE_BYTES": 2 * 1024 * 1024,
        **database_config,
    }
    application = create_app(config)
    if backend == "postgresql":
        _empty_pg(application)
    # No app context stays pushed: each request gets its own, as in production (g, session, current_user).
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context for tests that call services directly."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# --- helpers -------------------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, url: str = "/catalog") -> str:
    """Every page carries a CSRF token (the language switch is a form), so any page gives one."""
    html = client.get(url).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def post(client: FlaskClient, url: str, data: dict | None = None, **kwargs):  # type: ignore[no-untyped-def]
    """POST a form the way a browser does: with the CSRF token the site handed out."""
    payload = dict(data or {})
    payload.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=payload, **kwargs)


def login(client: FlaskClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    response = post(client, "/login", {"login": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block, in order (clear the list to count afresh)."""
    with app.app_context():
        engine = db.engine
    counted: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        counted.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

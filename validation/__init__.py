"""The validation engine: recognition of prior learning against the outcomes of (micro-)credentials."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from validation import config as config_module
from validation.extensions import babel, compress, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an app: settings from the environment, then `config` on top (tests pass theirs here)."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    app.config.from_mapping(config_module.from_environment(app.instance_path))
    if config:
        app.config.from_mapping(config)
        if "SQLALCHEMY_DATABASE_URI" in config and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = config_module.engine_options(
                config["SQLALCHEMY_DATABASE_URI"]
            )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    compress.init_app(app)

    from validation.web import i18n

    babel.init_app(
        app,
        locale_selector=i18n.select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )

    # Their hooks keep derived rows with each flush: the choices' stamp, the assessors' open work.
    from validation.services import choices, staffing  # noqa: F401
    from validation.web import register

    register(app, login_manager)

    from validation.cli import register_cli

    register_cli(app)
    if not app.testing:
        # The issuer's signing key exists from the first start (tests make theirs when first needed).
        from validation.credentials.keys import KeyRing

        KeyRing(app.config["KEYS_DIR"]).ensure()
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys and use WAL, so readers never wait for the writer."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        # SQLAlchemy starts transactions itself (see _sqlite_begin), not the driver.
        dbapi_connection.isolation_level = None
        # The wait first: switching to WAL needs a moment's lock, and without it a new connection opened while
        # another one writes fails at once with "database is locked".
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """SQLite: a changing request takes the write lock when it starts, so writers queue, never fail."""
    if connection.dialect.name == "sqlite":
        from validation.web.security import write_intent

        connection.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")

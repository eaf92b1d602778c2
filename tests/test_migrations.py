"""Migrations: the migrated schema is the models' schema, every revision goes down and up again with data
in the tables, and the constraints the models name are held by the database itself."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import downgrade, upgrade

from tests import factories
from validation.extensions import db
from validation.services import audit, cases

APP_TABLES = {t.name for t in db.metadata.sorted_tables}


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def _current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def _pg_functions() -> set[str]:
    """Functions in the test's own schema (the audit trigger function lives there)."""
    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema()"
        )
        return {r[0] for r in rows}


def _load_data() -> None:
    """Catalog, people and cases in several states, committed: the tables are not empty when migrating."""
    factories.load_catalog()
    who = factories.people()
    factories.case_in_state("awarded", who, code="UA-BAKERY")
    factories.case_in_state("more_evidence", who, code="GE-WELD-MMA")
    factories.case_in_state("draft", who, code="AM-LINUX-TECH")
    db.session.commit()
    db.session.remove()


def _row_counts() -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in APP_TABLES}


def _service_works() -> None:
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state("recommended", who)
    db.session.commit()
    assert case.state == "recommended"
    assert cases.transitions_of(case.id)[-1].to_state == "recommended"
    report = audit.verify_chain()
    assert report.intact and report.checked > 0, report
    db.session.remove()


# --- head equals the models ---------------------------------------------------------------------------


def test_migrated_schema_equals_the_models(ctx: Flask) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"the migrations and the models differ; a new revision is needed: {diff}"


def test_database_is_at_the_single_head(ctx: Flask) -> None:
    script = _script()
    heads = script.get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"
    assert _current_revision() == heads[0]
    assert _tables() == APP_TABLES


# --- down and up with data present --------------------------------------------------------------------


def test_downgrade_to_base_and_upgrade_again_with_data(ctx: Flask, backend: str) -> None:
    _load_data()
    counts = _row_counts()
    assert counts["audit_events"] > 0 and counts["cases"] == 3 and counts["credentials"] == 8
    try:
        downgrade(revision="base")
        assert _current_revision() is None
        assert _tables() == set(), f"left behind by the downgrade: {_tables()}"
        if backend == "postgresql":
            assert "audit_events_refuse_change" not in _pg_functions()
    finally:
        upgrade()
    assert _current_revision() == _script().get_current_head()
    assert _tables() == APP_TABLES
    assert all(n == 0 for n in _row_counts().values())
    _service_works()


def test_every_revision_steps_down_and_up_with_data(ctx: Flask) -> None:
    script = _script()
    revisions = list(script.walk_revisions("base", "heads"))  # newest first
    assert revisions, "no migration revisions found"
    assert all(r.down_revision is None or isinstance(r.down_revision, str) for r in revisions), \
        "the history must be linear (merge revisions are not expected)"
    head = script.get_current_head()
    _load_data()
    try:
        for revision in revisions:
            assert _current_revision() == revision.revision
            downgrade(revision=revision.down_revision or "base")
            assert _current_revision() == revision.down_revision, revision.revision
        assert _tables() == set()
        for revision in reversed(revisions):
            upgrade(revision=revision.revision)
            assert _current_revision() == revision.revision
    finally:
        upgrade()
    assert _current_revision() == head
    assert _tables() == APP_TABLES
    _service_works()


def test_audit_trail_is_append_only_again_after_a_round_trip(ctx: Flask) -> None:
    try:
        downgrade(revision="base")
    finally:
        upgrade()
    factories.load_catalog()
    db.session.commit()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("UPDATE audit_events SET action = 'changed' WHERE seq = 1"))
    db.session.rollback()
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text("DELETE FROM audit_events WHERE seq = 1"))
    db.session.rollback()


# --- constraints held by the database -----------------------------------------------------------------


def _one_case() -> tuple[int, int]:
    factories.load_catalog()
    who = factories.people()
    case = factories.case_in_state("recommended", who)
    db.session.commit()
    return case.id, who["coordinator"].id


def test_check_constraint_awarded_needs_date_and_user(ctx: Flask) -> None:
    case_id, coordinator_id = _one_case()
    with pytest.raises(sa.exc.IntegrityError, match="ck_cases_awarded_has_date_and_user"):
        db.session.execute(
            sa.text("UPDATE cases SET outcome = 'awarded', closed_at = CURRENT_TIMESTAMP WHERE id = :id"),
            {"id": case_id},
        )
        db.session.flush()
    db.session.rollback()
    with pytest.raises(sa.exc.IntegrityError, match="ck_cases_awarded_has_date_and_user"):
        db.session.execute(
            sa.text("UPDATE cases SET outcome = 'partially_awarded', closed_at = CURRENT_TIMESTAMP, "
                    "awarded_at = CURRENT_TIMESTAMP WHERE id = :id"),
            {"id": case_id},
        )
    db.session.rollback()
    # The same change with the date and the user is accepted: the constraint, not something else, refused.
    db.session.execute(
        sa.text("UPDATE cases SET outcome = 'awarded', closed_at = CURRENT_TIMESTAMP, "
                "awarded_at = CURRENT_TIMESTAMP, awarded_by_id = :by WHERE id = :id"),
        {"id": case_id, "by": coordinator_id},
    )
    db.session.rollback()


def test_check_constraint_closed_iff_outcome(ctx: Flask) -> None:
    case_id, _ = _one_case()
    with pytest.raises(sa.exc.IntegrityError, match="ck_cases_closed_iff_outcome"):
        db.session.execute(sa.text("UPDATE cases SET outcome = 'withdrawn' WHERE id = :id"), {"id": case_id})
    db.session.rollback()


def test_check_constraint_on_credentials(ctx: Flask) -> None:
    factories.load_catalog()
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError, match="ck_credentials_eqf_level_range"):
        db.session.execute(sa.text("UPDATE credentials SET eqf_level = 9 WHERE code = 'UA-BAKERY'"))
    db.session.rollback()
    with pytest.raises(sa.exc.IntegrityError, match="ck_credentials_participation_known"):
        db.session.execute(
            sa.text("UPDATE credentials SET participation = 'hybrid' WHERE code = 'UA-BAKERY'")
        )
    db.session.rollback()


def test_foreign_keys_are_enforced(ctx: Flask) -> None:
    case_id, _ = _one_case()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.text("INSERT INTO evidence_links (item_id, outcome_id, case_id) "
                    "VALUES (999999, 999999, 999999)")
        )
        db.session.flush()
    db.session.rollback()
    # A link to a real item of another case's claim is refused too (composite keys tie both to one case).
    item_id, outcome_id = db.session.execute(
        sa.text("SELECT item_id, outcome_id FROM evidence_links WHERE case_id = :id LIMIT 1"), {"id": case_id}
    ).one()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.text("INSERT INTO evidence_links (item_id, outcome_id, case_id) "
                    "VALUES (:item, :outcome, 999999)"),
            {"item": item_id, "outcome": outcome_id},
        )
    db.session.rollback()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.text("UPDATE cases SET candidate_id = 999999 WHERE id = :id"), {"id": case_id})
    db.session.rollback()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_foreign_key_pragma_is_on_for_every_sqlite_connection(ctx: Flask) -> None:
    with db.engine.connect() as first, db.engine.connect() as second:
        assert first.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        assert second.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_runs_in_wal_mode(ctx: Flask) -> None:
    assert db.session.execute(sa.text("PRAGMA journal_mode")).scalar_one().lower() == "wal"

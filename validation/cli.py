"""The `validation` command: everything an operator does, from migrations to audit verification."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

import workflows
from validation.extensions import db
from validation.services import accounts, audit, cases
from validation.services import catalog as catalog_service
from validation.services.errors import ServiceError
from validation.web.security import write_intent

F = TypeVar("F", bound=Callable[..., Any])


def writes(command: F) -> F:
    """The command changes data: on SQLite its transactions take the write lock up front."""

    @functools.wraps(command)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = write_intent.set(True)
        try:
            return command(*args, **kwargs)
        finally:
            write_intent.reset(token)

    return wrapped  # type: ignore[return-value]


def register_cli(app: Flask) -> None:
    app.cli.add_command(import_catalog)
    app.cli.add_command(audit_group)
    app.cli.add_command(workflow_group)
    app.cli.add_command(intake_group)
    app.cli.add_command(users_group)
    app.cli.add_command(demo)
    app.cli.add_command(mail_group)
    app.cli.add_command(tick)
    app.cli.add_command(uploads_group)
    app.cli.add_command(queues_group)
    app.cli.add_command(seed_command)
    app.cli.add_command(credentials_group)


@click.command("import-catalog")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
@writes
def import_catalog(file: Path) -> None:
    """Import credentials from a YAML or JSON file; the same file twice changes nothing."""
    try:
        report = catalog_service.import_catalog(file)
    except ServiceError as exc:
        db.session.rollback()
        click.echo(exc.reason, err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"{len(report.created)} credential(s) created, {len(report.unchanged)} unchanged.")


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute the hash chain; exit 0 when intact, 1 naming the first broken event."""
    report = audit.verify_chain()
    if report.intact:
        click.echo(f"Audit trail intact: {report.checked} event(s) verified.")
        return
    click.echo(
        f"Audit trail broken at event {report.broken_seq}: {report.reason} "
        f"({report.checked} event(s) before it verified).",
        err=True,
    )
    sys.exit(1)


@click.group("workflow")
def workflow_group() -> None:
    """Workflow definitions."""


@workflow_group.command("diagram")
@click.argument("key")
@click.option("--version", type=int, default=None, help="A version other than the latest.")
@with_appcontext
def workflow_diagram(key: str, version: int | None) -> None:
    """Print the Mermaid diagram of a workflow."""
    registry = cases.registry()
    try:
        definition = registry.get(key, version) if version else registry.latest(key)
    except LookupError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(workflows.mermaid(definition))


@workflow_group.command("check")
@with_appcontext
@writes
def workflow_check() -> None:
    """Load every definition, and record versions not seen before (a changed file is refused)."""
    try:
        registry = workflows.Registry.from_directory(cases.registry_dir())
        for key in registry.keys():  # noqa: SIM118  (a Registry, not a dict)
            cases.record_version(registry.latest(key))
    except workflows.WorkflowError as exc:
        db.session.rollback()
        click.echo(str(exc), err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"{len(registry.keys())} workflow(s) valid.")


@click.group("intake")
def intake_group() -> None:
    """Intake questionnaires (INTAKE_DIR)."""


@intake_group.command("check")
@with_appcontext
def intake_check() -> None:
    """Load every questionnaire file; exit 1 naming file:line of the first error in each broken file."""
    from validation.services import intake

    valid, problems = intake.check_directory()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{valid} questionnaire(s) valid.")


@click.group("users")
def users_group() -> None:
    """Accounts."""


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice(["candidate", "assessor", "coordinator", "admin"]), required=True)
@click.option("--language", type=click.Choice(["en", "uk"]), default="en")
@click.password_option()
@with_appcontext
@writes
def users_create(email: str, display_name: str, role: str, language: str, password: str) -> None:
    """Create an account (staff accounts are made here or on the admin page)."""
    try:
        accounts.create_user(
            email=email,
            display_name=display_name,
            password=password,
            role=role,
            language=language,
            actor=None,
        )
    except ServiceError as exc:
        db.session.rollback()
        click.echo(exc.reason, err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"Created {role} {email}.")


@users_group.command("disable")
@click.argument("email")
@with_appcontext
@writes
def users_disable(email: str) -> None:
    """Disable an account and end all its sessions."""
    user = accounts.find_by_email(email)
    if user is None:
        click.echo(f"No account {email}.", err=True)
        sys.exit(1)
    accounts.set_active(user.id, False, None)
    db.session.commit()
    click.echo(f"Disabled {email}.")


@click.command("demo")
@with_appcontext
@writes
def demo() -> None:
    """Load the demo catalog, one user per role and cases in every state; running it again changes nothing."""
    from validation import demo as demo_data

    created = demo_data.load()
    db.session.commit()
    click.echo("Demo data loaded." if created else "Demo data already present; nothing changed.")
    click.echo("\nDemo logins (password for all: " + demo_data.PASSWORD + ")")
    width = max(len(role) for role, _ in demo_data.LOGINS)
    for role, email in demo_data.LOGINS:
        click.echo(f"  {role:<{width}}  {email}")


@click.group("mail")
def mail_group() -> None:
    """The outbox of e-mails."""


@mail_group.command("send")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many messages.")
@with_appcontext
@writes
def mail_send(limit: int) -> None:
    """Deliver waiting e-mails (SMTP, or .eml files in MAIL_DIR); exit 1 when one could not be sent."""
    from validation.services import mail

    report = mail.send_pending(limit)
    click.echo(f"{report.sent} e-mail(s) sent, {report.failed} failed.")
    if report.failed:
        sys.exit(1)


@click.command("tick")
@click.option("--mail-limit", type=int, default=100, show_default=True, help="At most this many e-mails.")
@with_appcontext
@writes
def tick(mail_limit: int) -> None:
    """Everything due by now: overdue cases, deadline reminders, draft warnings and expiries, then e-mail.

    Run it every minute (cron, a systemd timer), on as many machines as you like: each notice is given and
    each e-mail sent once. Exit 1 when a case could not be handled (it is tried again at the next run); an
    e-mail that fails is retried later and, failing for good, listed on the administrators' e-mail page.
    """
    from validation.services import tick as tick_service

    report = tick_service.run(mail_limit=mail_limit)
    click.echo(
        f"{report.overdue} marked overdue, {report.reminded} reminded, {report.warned} draft(s) warned, "
        f"{report.expired} draft(s) expired; {report.sent} e-mail(s) sent, {report.failed} failed."
    )
    if report.errors:
        click.echo(f"{report.errors} case(s) could not be handled; see the log.", err=True)
        sys.exit(1)


@click.group("uploads")
def uploads_group() -> None:
    """Resumable uploads."""


@uploads_group.command("sweep")
@with_appcontext
@writes
def uploads_sweep() -> None:
    """Cancel uploads past their expiry and delete the parts of files they had received."""
    from validation.services import uploads

    count = uploads.sweep_expired()
    db.session.commit()
    click.echo(f"{count} expired upload(s) cancelled.")


def main() -> None:
    from validation import create_app

    FlaskGroup(create_app=lambda: create_app(), help="The validation engine.")(prog_name="validation")


@click.group("queues")
def queues_group() -> None:
    """The coordinator's queue."""


@queues_group.command("recount")
@with_appcontext
@writes
def queues_recount() -> None:
    """Rebuild the cases-per-state counts and the assessors' open work from the cases (both are kept with
    every change; this repairs them)."""
    from validation.services import queues, staffing

    wrong = queues.recount() + staffing.recount_workloads()
    db.session.commit()
    click.echo(f"{wrong} count(s) corrected.")


@click.command("seed")
@click.option("--cases", "cases_wanted", type=int, default=100_000, show_default=True)
@click.option("--credentials", type=int, default=50, show_default=True)
@click.option("--assessors", type=int, default=200, show_default=True)
@click.option("--events", type=int, default=1_000_000, show_default=True, help="Audit events to add.")
@click.option("--yes", is_flag=True, help="Confirm: this adds synthetic people and cases (benchmarks only).")
@with_appcontext
@writes
def seed_command(cases_wanted: int, credentials: int, assessors: int, events: int, yes: bool) -> None:
    """Fill a benchmark database with synthetic cases in every state, on top of the demo data."""
    from validation import demo as demo_data
    from validation.demo import seed

    if not yes:
        click.echo("This adds synthetic people and cases; run it on a benchmark database with --yes.", err=True)
        sys.exit(2)
    demo_data.load()
    report = seed.seed(cases_wanted, credentials, assessors, events, progress=click.echo)
    db.session.commit()
    click.echo(f"Seeded {report.cases:,} cases ({report.claims:,} claims, {report.spans:,} stays), "
               f"{report.credentials} credentials, {report.assessors} assessors, {report.candidates:,} candidates, "
               f"{report.audit_events:,} audit events. Coordinator: {seed.COORDINATOR} / {seed.PASSWORD}")


@click.group("credentials")
def credentials_group() -> None:
    """Issued credentials: export them, check one, rotate the signing key."""


@credentials_group.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def credentials_export(folder: Path) -> None:
    """Write every issued credential as <award number>.json (JSON-LD with proof) and .jwt into FOLDER."""
    from validation.services import credentials

    folder.mkdir(parents=True, exist_ok=True)
    rows = credentials.all_issued()
    for row in rows:
        (folder / f"{row.award.number}.json").write_text(row.document, encoding="utf-8")
        (folder / f"{row.award.number}.jwt").write_text(row.jwt + "\n", encoding="utf-8")
    click.echo(f"{len(rows)} credential(s) written to {folder}")


@credentials_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The issuer's published keys (JWKS); without it, this instance's own keys.")
@click.option("--status-list", "status_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A status list credential the credential points to; without it, this instance's lists.")
@with_appcontext
def credentials_verify(file: Path, jwks_file: Path | None, status_files: tuple[Path, ...]) -> None:
    """Check one credential (JSON-LD or JWT): exit 0 when valid, 1 when not, with the reason."""
    import json

    from validation.credentials.keys import public_from_jwk
    from validation.credentials.verify import Resolvers, verify
    from validation.services import credentials

    own = credentials.resolvers()
    key_for, list_for = own.key, own.status_list
    if jwks_file is not None:
        published = {k["kid"]: public_from_jwk(k) for k in json.loads(jwks_file.read_text("utf-8"))["keys"]}
        key_for = published.get
    if status_files:
        lists = {}
        for status_file in status_files:
            listed = json.loads(status_file.read_text("utf-8"))
            lists[listed.get("id")] = listed
        list_for = lists.get
    resolvers = Resolvers(key=key_for, status_list=list_for)
    verdict = verify(file.read_text(encoding="utf-8"), resolvers)
    for check in verdict.checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.message}"
                   + (f" ({check.detail})" if check.detail else ""))
    if not verdict.valid:
        click.echo("not valid", err=True)
        sys.exit(1)
    click.echo("valid")


@credentials_group.command("rotate-key")
@with_appcontext
def credentials_rotate_key() -> None:
    """Make a new signing key; the earlier keys stay published, so credentials signed with them verify."""
    from validation.services import credentials

    key = credentials.keyring().rotate()
    click.echo(f"New signing key {key.kid}; earlier keys are kept and published.")

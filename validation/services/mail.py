"""The outbox: e-mails written in the transaction of the change they tell about, delivered afterwards.

`queue` renders a message in the recipient's language and adds it to the caller's transaction, so a
message exists exactly when its change commits, and a slow or broken mail server never fails the person
who caused it. `send_pending` (part of `validation tick`, and `validation mail send` on its own) delivers
what waits: over SMTP when `MAIL_SMTP_URL` is set, else as .eml files in `MAIL_DIR`, so a local install
can read its mail without a server.

A failed delivery is tried again later, each wait twice the one before (MAIL_RETRY_SECONDS, doubled, at most
MAIL_RETRY_MAX_SECONDS); after MAIL_MAX_ATTEMPTS failures the message is marked failed. Nothing is deleted:
a failed message stays in the outbox, listed for administrators, until one of them asks to retry it.

A mail template is plain text, `templates/mail/<name>.txt`, extending `mail/_layout.txt`: it defines
`{% block subject %}` (one line) and `{% block body %}`. Plain text is not autoescaped (Flask escapes only
.html templates), so names and statements appear as written.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import or_, select

from validation.extensions import db
from validation.models import OutboundMessage, User, utcnow
from validation.services import audit
from validation.services.errors import Conflict, Forbidden, NotFound

SMTP_TIMEOUT_SECONDS = 20
_BLANK_LINES = re.compile(r"\n{3,}")


def _render(template_name: str, context: dict[str, Any]) -> tuple[str, str]:
    """The subject block and the whole text of a mail template, in the locale that is active."""
    env = current_app.jinja_env
    template = env.get_template(f"mail/{template_name}.txt")
    values = dict(context)
    current_app.update_template_context(values)
    subject = "".join(template.blocks["subject"](template.new_context(values)))
    body = template.render(values)
    # A header is one line, whatever a name in it contained.
    subject = " ".join(subject.split())[:300]
    lines = [line.rstrip() for line in body.strip("\n").splitlines()]
    return subject, _BLANK_LINES.sub("\n\n", "\n".join(lines)) + "\n"


def queue(to: str, language: str, purpose: str, template: str, **context: Any) -> OutboundMessage:
    """Render `mail/<template>.txt` in `language` and add it to the outbox in the caller's transaction."""
    languages = current_app.config["LANGUAGES"]
    language = language if language in languages else current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(language):
        subject, body = _render(template, {**context, "language": language})
    message = OutboundMessage(
        to_address=to.strip(),
        language=language,
        purpose=purpose,
        subject=subject,
        body=body,
        created_at=utcnow(),
        attempts=0,
    )
    db.session.add(message)
    db.session.flush()
    return message


# --- delivery ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: int


def _sender() -> str:
    return str(current_app.config.get("MAIL_FROM") or "validation@localhost")


def _address(header: str) -> str:
    """The bare address of "Name <address>"."""
    return parseaddr(header)[1] or header


def as_email(message: OutboundMessage) -> EmailMessage:
    """The outbox row as an RFC 5322 message (UTF-8 text, its language declared)."""
    email = EmailMessage()
    sender = _sender()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # The sender's domain, never the host name: looking that up can hang on a machine without DNS.
    email["Message-ID"] = make_msgid(f"outbox-{message.id}", domain=_address(sender).rpartition("@")[2] or "localhost")
    # Tells mail servers and vacation responders that nobody typed this: no auto-replies.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    # After set_content, which replaces every Content-* header.
    email["Content-Language"] = message.language
    return email


def _write_file(email: EmailMessage, message: OutboundMessage, folder: Path) -> None:
    """Atomically: a reader of the folder never sees half a message."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{message.id:08d}-{message.purpose}.eml"
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".sending-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(email.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _send_smtp(email: EmailMessage, url: str) -> None:
    """smtp://user:pass@host:587 uses STARTTLS when the server offers it; smtps:// is TLS from the start.

    A password is only ever sent over TLS: a server that offers no STARTTLS gets no login.
    """
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else ""
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        connection: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
        secure = True
    elif parts.scheme == "smtp":
        connection = smtplib.SMTP(host, parts.port or 587, timeout=SMTP_TIMEOUT_SECONDS)
        secure = False
    else:
        raise ValueError(f"MAIL_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
    with connection:
        connection.ehlo()
        if not secure and connection.has_extn("starttls"):
            connection.starttls(context=context)
            connection.ehlo()
            secure = True
        if user:
            if not secure:
                raise smtplib.SMTPException("the server offers no STARTTLS; the password is not sent unencrypted")
            connection.login(user, password)
        connection.send_message(email, from_addr=_address(_sender()), to_addrs=[_address(email["To"])])


def _deliver(message: OutboundMessage) -> None:
    email = as_email(message)
    url = current_app.config.get("MAIL_SMTP_URL")
    if url:
        _send_smtp(email, url)
    else:
        _write_file(email, message, Path(current_app.config["MAIL_DIR"]))


def _next_unsent(tried: set[int], now: datetime) -> OutboundMessage | None:
    """The next message due that nobody is sending: PostgreSQL skips rows another sender holds locked."""
    statement = select(OutboundMessage).where(
        OutboundMessage.sent_at.is_(None),
        OutboundMessage.failed_at.is_(None),
        or_(OutboundMessage.next_attempt_at.is_(None), OutboundMessage.next_attempt_at <= now),
    )
    if tried:
        statement = statement.where(OutboundMessage.id.not_in(tried))
    # Fresh messages first, so that one that keeps failing never holds up the others.
    statement = statement.order_by(OutboundMessage.attempts, OutboundMessage.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return db.session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: 1, 2, 4, 8 ... minutes by default, capped."""
    base = int(current_app.config.get("MAIL_RETRY_SECONDS", 60))
    cap = int(current_app.config.get("MAIL_RETRY_MAX_SECONDS", 3600))
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def _record_failure(message: OutboundMessage, exc: Exception, now: datetime) -> None:
    """Keep the error; schedule the next attempt, or give up after the last one (and say so in the trail)."""
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if message.attempts >= int(current_app.config.get("MAIL_MAX_ATTEMPTS", 8)):
        message.failed_at = now
        message.next_attempt_at = None
        db.session.flush()
        audit.record("mail.failed", message_id=message.id, purpose=message.purpose, attempts=message.attempts)
    else:
        message.next_attempt_at = now + retry_delay(message.attempts)


def send_pending(limit: int = 100, now: datetime | None = None) -> SendReport:
    """Deliver up to `limit` messages that are due; count each attempt and keep the last error.

    Unlike other services this commits, once per message: sending is outside the database and cannot be
    rolled back, so each delivery is recorded as soon as it happened and a crash resends at most one
    message. One failing message is recorded and the next one is tried. On PostgreSQL a message being sent
    is locked and skipped by every other sender; on SQLite the sender holds the write lock (the CLI takes
    it up front), so two senders at once never send one message twice.
    """
    sent = failed = 0
    tried: set[int] = set()
    while len(tried) < limit:
        moment = now or utcnow()
        message = _next_unsent(tried, moment)
        if message is None:
            db.session.rollback()
            break
        tried.add(message.id)
        message.attempts += 1
        try:
            _deliver(message)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            _record_failure(message, exc, moment)
            failed += 1
        else:
            message.sent_at = utcnow()
            message.last_error = None
            message.next_attempt_at = None
            sent += 1
        db.session.commit()
    return SendReport(sent, failed)


# --- the administrators' view ----------------------------------------------------------------------------


def unsent(limit: int = 200) -> list[OutboundMessage]:
    """Messages not delivered yet, failed ones first, then the longest waiting."""
    return list(
        db.session.execute(
            select(OutboundMessage)
            .where(OutboundMessage.sent_at.is_(None))
            .order_by(OutboundMessage.failed_at.is_(None), OutboundMessage.id)
            .limit(limit)
        ).scalars()
    )


def retry_now(message_id: int, actor: User) -> OutboundMessage:
    """An administrator asks for a failed (or waiting) message to be sent at the next tick, with fresh attempts.

    The earlier error stays until the next attempt replaces it; the trail records how many attempts the
    message had before.
    """
    if actor.role != "admin":
        raise Forbidden("Only an administrator can retry e-mails.")
    statement = select(OutboundMessage).where(OutboundMessage.id == message_id)
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    message = db.session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()
    if message is None:
        raise NotFound("There is no such e-mail.")
    if message.sent_at is not None:
        raise Conflict("This e-mail has already been sent.")
    before = message.attempts
    was_failed = message.failed_at is not None
    message.attempts = 0
    message.failed_at = None
    message.next_attempt_at = None
    db.session.flush()
    audit.record("mail.retry_requested", actor=actor, message_id=message.id, attempts_before=before,
                 was_failed=was_failed)
    return message

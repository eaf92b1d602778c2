"""The outbox: e-mails written in the transaction of the change they tell about, delivered afterwards.

`queue` renders a message in the recipient's language and adds it to the caller's transaction, so a
message exists exactly when its change commits, and a slow or broken mail server never fails the person
who caused it. `send_pending` (the `validation mail send` command, run from cron or a timer) delivers
what waits: over SMTP when `MAIL_SMTP_URL` is set, else as .eml files in `MAIL_DIR`, so a local install
can read its mail without a server.

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
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from validation.extensions import db
from validation.models import OutboundMessage, utcnow

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


def _next_unsent(tried: set[int]) -> OutboundMessage | None:
    """The next message nobody is sending: PostgreSQL skips rows another sender holds locked."""
    statement = select(OutboundMessage).where(OutboundMessage.sent_at.is_(None))
    if tried:
        statement = statement.where(OutboundMessage.id.not_in(tried))
    # Fresh messages first, so that one that keeps failing never holds up the others.
    statement = statement.order_by(OutboundMessage.attempts, OutboundMessage.id).limit(1)
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return db.session.execute(statement.execution_options(populate_existing=True)).scalar_one_or_none()


def send_pending(limit: int = 100) -> SendReport:
    """Deliver up to `limit` unsent messages; count each attempt and keep the last error.

    Unlike other services this commits, once per message: sending is outside the database and cannot be
    rolled back, so each delivery is recorded as soon as it happened and a crash resends at most one
    message. One failing message is recorded and the next one is tried.
    """
    sent = failed = 0
    tried: set[int] = set()
    while len(tried) < limit:
        message = _next_unsent(tried)
        if message is None:
            db.session.rollback()
            break
        tried.add(message.id)
        message.attempts += 1
        try:
            _deliver(message)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            failed += 1
        else:
            message.sent_at = utcnow()
            message.last_error = None
            sent += 1
        db.session.commit()
    return SendReport(sent, failed)

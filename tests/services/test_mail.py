"""The outbox: e-mails rendered in the recipient's language, queued in the caller's transaction, and sent
by `validation mail send` to a real (local) SMTP server or as .eml files."""


from __future__ import annotations

import email
import socketserver
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from validation.extensions import db
from validation.models import OutboundMessage, utcnow
from validation.services import mail
from validation.web.security import write_intent

ANSWERED = {
    "candidate_name": "Олена",
    "referee_name": "Петро Іваненко",
    "answer": "confirmed",
    "credential_title": "Пекар",
    "link": "http://validation.test/cases/7#referees",
}


@pytest.fixture(autouse=True)
def _no_write_intent_left_behind() -> Iterator[None]:
    token = write_intent.set(False)
    yield
    write_intent.reset(token)


@pytest.fixture
def mail_dir(app: Flask, tmp_path: Path) -> Path:
    """Mail goes to a folder of the test, never into the instance folder."""
    folder = tmp_path / "mail"
    app.config["MAIL_DIR"] = str(folder)
    app.config["MAIL_SMTP_URL"] = None
    app.config["MAIL_FROM"] = "Validation <noreply@validation.test>"
    return folder


# --- a real SMTP server, small enough to read ----------------------------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Speaks enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT (no STARTTLS, no AUTH)."""

    def _reply(self, *lines: str) -> None:
        self.wfile.write("".join(f"{line}\r\n" for line in lines).encode("ascii"))

    def handle(self) -> None:
        server: SMTPServer = self.server  # type: ignore[assignment]
        self._reply("220 smtp.test ready")
        sender, recipients = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            server.commands.append(line.split(" ", 1)[0].upper())
            verb = line[:4].upper()
            if verb == "EHLO":
                self._reply("250-smtp.test", "250-8BITMIME", "250 SIZE 10000000")
            elif verb == "HELO":
                self._reply("250 smtp.test")
            elif verb == "MAIL":
                # MAIL FROM:<address> [SIZE=n ...]
                sender, recipients = line.split(":", 1)[1].split()[0].strip("<>"), []
                self._reply("250 OK")
            elif verb == "RCPT":
                address = line.split(":", 1)[1].split()[0].strip("<>")
                if address in server.refuse:
                    self._reply("550 5.1.1 no such mailbox")
                else:
                    recipients.append(address)
                    self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 end with <CRLF>.<CRLF>")
                data = bytearray()
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                server.received.append((sender, list(recipients), bytes(data)))
                self._reply("250 queued")
            elif verb in ("RSET", "NOOP"):
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("502 not implemented")


class SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.received: list[tuple[str, list[str], bytes]] = []
        self.commands: list[str] = []
        self.refuse: set[str] = set()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server_address[1]}"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(data, policy=default_policy) for _, _, data in self.received]  # type: ignore[misc]


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- helpers -------------------------------------------------------------------------------------------


def _queue(app: Flask, *messages: tuple[str, str]) -> list[int]:
    """Queue one "referee answered" e-mail per (address, language) and commit them."""
    with app.app_context():
        ids = [mail.queue(to, language, "referee_answered", "referee_answered", **ANSWERED).id
               for to, language in messages]
        db.session.commit()
        return ids


def _rows(app: Flask) -> dict[str, OutboundMessage]:
    with app.app_context():
        rows = db.session.execute(sa.select(OutboundMessage).order_by(OutboundMessage.id)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return {row.to_address: row for row in rows}


def _send(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["mail", "send", *args])


# --- queueing ------------------------------------------------------------------------------------------


def test_a_message_is_rendered_in_the_recipients_language(ctx: Flask) -> None:
    uk = mail.queue("olena@example.org", "uk", "referee_answered", "referee_answered", **ANSWERED)
    en = mail.queue("olena@example.org", "en", "referee_answered", "referee_answered", **ANSWERED)

    assert uk.language == "uk"
    assert uk.subject == "Надійшла відповідь від рекомендодавця"
    assert uk.body.startswith("Добрий день, Олена!\n")
    assert "ваше твердження підтверджено" in uk.body
    assert "«Пекар»" in uk.body and ANSWERED["link"] in uk.body
    assert "Валідація результатів неформального та інформального навчання" in uk.body

    assert en.subject == "Your referee has answered"
    assert en.body.startswith("Hello Олена,\n")  # a name is never translated
    assert "they confirm your statement" in en.body and "Надійшла" not in en.body
    # Plain text: nothing is HTML-escaped, and the layout leaves no runs of blank lines.
    assert "&" not in en.body and "\n\n\n" not in en.body


def test_an_unknown_language_falls_back_to_english(ctx: Flask) -> None:
    message = mail.queue("a@example.org", "de", "referee_answered", "referee_answered", **ANSWERED)
    assert message.language == "en"
    assert message.subject == "Your referee has answered"


def test_a_subject_is_one_line_whatever_a_name_holds(ctx: Flask) -> None:
    message = mail.queue("a@example.org", "en", "referee_invitation", "referee_invitation",
                         referee_name="R", candidate_name="Olena\r\nBcc: victim@example.org",
                         credential_title="Baker", relationship="boss", statement="I baked.",
                         outcomes=[], expires_at=datetime(2030, 1, 31, tzinfo=UTC),
                         link="http://x/referee/t")
    assert "\n" not in message.subject and "\r" not in message.subject
    assert mail.as_email(message)["Subject"] == message.subject
    assert mail.as_email(message)["Bcc"] is None


def test_a_message_exists_only_if_its_transaction_commits(app: Flask) -> None:
    with app.app_context():
        mail.queue("gone@example.org", "en", "referee_answered", "referee_answered", **ANSWERED)
        db.session.rollback()
    _queue(app, ("kept@example.org", "en"))
    assert set(_rows(app)) == {"kept@example.org"}


# --- delivery as files ---------------------------------------------------------------------------------


def test_without_a_mail_server_each_message_becomes_an_eml_file(app: Flask, mail_dir: Path) -> None:
    _queue(app, ("olena@example.org", "uk"), ("petro@example.org", "en"))

    result = _send(app)

    assert result.exit_code == 0, result.output
    assert "2 e-mail(s) sent, 0 failed." in result.output
    files = sorted(mail_dir.glob("*.eml"))
    assert [f.name.split("-", 1)[1] for f in files] == ["referee_answered.eml"] * 2
    parsed = [email.message_from_bytes(f.read_bytes(), policy=default_policy) for f in files]
    first = parsed[0]
    assert first["To"] == "olena@example.org"
    assert first["From"] == "Validation <noreply@validation.test>"
    assert first["Subject"] == "Надійшла відповідь від рекомендодавця"
    assert first["Content-Language"] == "uk"
    assert first["Auto-Submitted"] == "auto-generated"
    assert "@validation.test>" in first["Message-ID"]
    assert "Добрий день, Олена!" in first.get_content()
    assert parsed[1]["Subject"] == "Your referee has answered"
    rows = _rows(app)
    assert all(r.sent_at is not None and r.attempts == 1 and r.last_error is None for r in rows.values())
    assert not list(mail_dir.glob(".sending-*")), "no half-written file is left behind"

    again = _send(app)
    assert again.exit_code == 0 and "0 e-mail(s) sent, 0 failed." in again.output
    assert len(list(mail_dir.glob("*.eml"))) == 2, "a sent message is never sent again"


def test_a_folder_that_cannot_be_written_is_an_error_on_the_message(app: Flask, mail_dir: Path) -> None:
    mail_dir.parent.mkdir(parents=True, exist_ok=True)
    mail_dir.write_text("a file where the folder should be")
    _queue(app, ("olena@example.org", "en"))

    result = _send(app)

    assert result.exit_code == 1
    row = _rows(app)["olena@example.org"]
    assert row.sent_at is None and row.attempts == 1 and row.last_error


# --- delivery over SMTP --------------------------------------------------------------------------------


def test_messages_go_to_the_smtp_server_and_one_refusal_stops_no_other(
    app: Flask, mail_dir: Path, smtp_server: SMTPServer
) -> None:
    app.config["MAIL_SMTP_URL"] = smtp_server.url
    smtp_server.refuse.add("nobody@example.org")
    _queue(app, ("nobody@example.org", "en"), ("olena@example.org", "uk"), ("petro@example.org", "en"))

    result = _send(app)

    assert result.exit_code == 1, result.output
    assert "2 e-mail(s) sent, 1 failed." in result.output
    assert [(s, r) for s, r, _ in smtp_server.received] == [
        ("noreply@validation.test", ["olena@example.org"]),
        ("noreply@validation.test", ["petro@example.org"]),
    ]
    olena = smtp_server.messages()[0]
    assert olena["Subject"] == "Надійшла відповідь від рекомендодавця"
    assert "Добрий день, Олена!" in olena.get_content()
    assert "STARTTLS" not in smtp_server.commands and "AUTH" not in smtp_server.commands
    rows = _rows(app)
    refused = rows["nobody@example.org"]
    assert refused.sent_at is None and refused.attempts == 1
    assert "550" in (refused.last_error or "") and "no such mailbox" in (refused.last_error or "")
    assert rows["olena@example.org"].sent_at is not None
    assert not list(mail_dir.glob("*.eml")), "with a mail server, nothing is written to the folder"

    # Not at once: the refused one waits a minute before it is tried again ...
    assert refused.next_attempt_at is not None
    assert timedelta(seconds=50) < refused.next_attempt_at - refused.created_at < timedelta(minutes=5)
    smtp_server.refuse.clear()
    result = _send(app)
    assert result.exit_code == 0 and "0 e-mail(s) sent, 0 failed." in result.output
    # ... and then the next run tries it again, and only that one.
    with app.app_context():
        report = mail.send_pending(now=utcnow() + timedelta(minutes=2))
    assert (report.sent, report.failed) == (1, 0)
    assert [r for _, r, _ in smtp_server.received][-1] == ["nobody@example.org"]
    assert len(smtp_server.received) == 3
    refused = _rows(app)["nobody@example.org"]
    assert refused.sent_at is not None and refused.attempts == 2 and refused.last_error is None


def test_a_password_is_never_sent_without_tls(app: Flask, mail_dir: Path, smtp_server: SMTPServer) -> None:
    app.config["MAIL_SMTP_URL"] = smtp_server.url.replace("smtp://", "smtp://user:secret@")
    _queue(app, ("olena@example.org", "en"))

    result = _send(app)

    assert result.exit_code == 1
    assert smtp_server.received == []
    assert "AUTH" not in smtp_server.commands
    row = _rows(app)["olena@example.org"]
    assert row.sent_at is None and "unencrypted" in (row.last_error or "")


def test_an_unreachable_server_is_counted_and_retried_later(app: Flask, mail_dir: Path) -> None:
    server = SMTPServer()
    port = server.server_address[1]
    server.server_close()  # nobody listens there now
    app.config["MAIL_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    _queue(app, ("olena@example.org", "en"))

    assert _send(app).exit_code == 1
    assert _send(app).exit_code == 0, "not tried again before its next attempt is due"
    with app.app_context():
        assert mail.send_pending(now=utcnow() + timedelta(minutes=2)).failed == 1
    row = _rows(app)["olena@example.org"]
    assert row.sent_at is None and row.attempts == 2
    assert "Connection" in (row.last_error or "") or "refused" in (row.last_error or "").lower()


def test_a_limit_sends_at_most_that_many(app: Flask, mail_dir: Path) -> None:
    _queue(app, *[(f"p{i}@example.org", "en") for i in range(3)])
    result = _send(app, "--limit", "2")
    assert "2 e-mail(s) sent" in result.output
    assert sum(r.sent_at is not None for r in _rows(app).values()) == 2

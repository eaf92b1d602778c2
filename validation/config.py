"""Settings read from the environment, so one build runs anywhere: laptop, CI, several workers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "uk")
MB = 1024 * 1024
#: Room in a plain form upload for the fields around the file (title, outcomes, token, multipart headers).
FORM_OVERHEAD_BYTES = 1 * MB


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the configuration; SQLite in the instance folder unless DATABASE_URL says otherwise."""
    instance = Path(instance_path)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'validation.sqlite3'}"
    secret = os.environ.get("SECRET_KEY")
    if not secret:
        secret = _instance_secret(instance)
    max_file = int(os.environ.get("MAX_FILE_BYTES", str(250 * MB)))
    return {
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url),
        "EVIDENCE_DIR": os.environ.get("EVIDENCE_DIR") or str(instance / "evidence"),
        # The largest evidence file; a plain form upload may be this plus room for the rest of the form.
        "MAX_FILE_BYTES": max_file,
        "MAX_CONTENT_LENGTH": max_file + FORM_OVERHEAD_BYTES,
        "CASE_QUOTA_BYTES": int(os.environ.get("CASE_QUOTA_BYTES", str(1024 * MB))),
        "MAX_ITEMS_PER_CASE": int(os.environ.get("MAX_ITEMS_PER_CASE", "200")),
        # What the browser sends per resumable-upload request: small enough to resend cheaply on a bad line.
        "UPLOAD_CHUNK_BYTES": int(os.environ.get("UPLOAD_CHUNK_BYTES", str(32 * MB))),
        "UPLOAD_EXPIRY_HOURS": int(os.environ.get("UPLOAD_EXPIRY_HOURS", "72")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": False,
        "LOGIN_FAILURES_PER_MINUTE": int(os.environ.get("LOGIN_FAILURES_PER_MINUTE", "5")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", False),
        "SESSION_LIFETIME_HOURS": int(os.environ.get("SESSION_LIFETIME_HOURS", "12")),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "LANGUAGES": LANGUAGES,
        "WORKFLOW_DIR": os.environ.get("WORKFLOW_DIR")
        or str(Path(__file__).resolve().parent.parent / "workflows" / "definitions"),
        "INTAKE_DIR": os.environ.get("INTAKE_DIR")
        or str(Path(__file__).resolve().parent.parent / "forms" / "intake"),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        # The issuer's Ed25519 signing keys (made on first use, mode 0600; rotation keeps the old ones), and
        # the name under which this instance signs its status lists.
        "KEYS_DIR": os.environ.get("KEYS_DIR") or str(instance / "keys"),
        "ISSUER_NAME": os.environ.get("ISSUER_NAME", "Validation of prior learning"),
        # Outgoing e-mail: over SMTP when a server is named, else as .eml files in MAIL_DIR.
        "MAIL_SMTP_URL": os.environ.get("MAIL_SMTP_URL") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "validation@localhost"),
        "MAIL_DIR": os.environ.get("MAIL_DIR") or str(instance / "mail"),
        "REFEREE_LINK_DAYS": int(os.environ.get("REFEREE_LINK_DAYS", "30")),
        # Delivery retries: wait MAIL_RETRY_SECONDS after the first failure, twice as long after each next one
        # (at most MAIL_RETRY_MAX_SECONDS); after MAIL_MAX_ATTEMPTS failures the message is marked failed.
        "MAIL_MAX_ATTEMPTS": int(os.environ.get("MAIL_MAX_ATTEMPTS", "8")),
        "MAIL_RETRY_SECONDS": int(os.environ.get("MAIL_RETRY_SECONDS", "60")),
        "MAIL_RETRY_MAX_SECONDS": int(os.environ.get("MAIL_RETRY_MAX_SECONDS", "3600")),
        # `validation tick`: remind whoever must act this many days before a case is due; warn a candidate
        # whose draft has not changed for DRAFT_WARNING_DAYS, and withdraw it DRAFT_EXPIRY_DAYS after that.
        "DEADLINE_NEAR_DAYS": int(os.environ.get("DEADLINE_NEAR_DAYS", "2")),
        "DRAFT_WARNING_DAYS": int(os.environ.get("DRAFT_WARNING_DAYS", "45")),
        "DRAFT_EXPIRY_DAYS": int(os.environ.get("DRAFT_EXPIRY_DAYS", "14")),
        # The country assumed for a phone number written without its country code (ISO 3166 code).
        "PHONE_REGION": os.environ.get("PHONE_REGION", "UA"),
        "ACCESS_CODE_DAYS": int(os.environ.get("ACCESS_CODE_DAYS", "14")),
        "COMPRESS_MIMETYPES": ["text/css", "text/javascript", "application/javascript", "image/svg+xml"]
        + (["text/html"] if _bool("COMPRESS_HTML", False) else []),
    }


def engine_options(database_url: str) -> dict[str, Any]:
    """SQLite waits for the writer instead of failing at once; PostgreSQL checks pooled connections."""
    if database_url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def _instance_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts without configuration."""
    import secrets

    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()

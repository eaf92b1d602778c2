"""Response headers every page carries, and the SQLite write lock taken up front for changing requests."""

from __future__ import annotations

from contextvars import ContextVar

from flask import Flask, Response, request, session

# Set for requests that change data: on SQLite their transaction starts with BEGIN IMMEDIATE, so two
# writers queue for the lock instead of one failing when it upgrades a read snapshot.
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)

CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def install(app: Flask) -> None:
    @app.before_request
    def _mark_writes() -> None:
        write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        # A signed-in person's pages are never kept by a cache. Told by the session (Flask-Login's user id in
        # it), not by `current_user`: that would load the account from the database for every response, a
        # stylesheet or /healthz alike, when no page asked for it.
        if "_user_id" in session:
            response.headers["Cache-Control"] = "no-store"
        return response

"""Errors a service raises when a person asks for something that may not happen; views turn them into pages."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal with a plain-language reason and the HTTP status that fits it."""

    status = 400

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    """The case moved on, or changed since the page was opened."""

    status = 409


class Invalid(ServiceError):
    status = 422

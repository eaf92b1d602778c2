"""Route decorators that check the role before a view runs."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

F = TypeVar("F", bound=Callable[..., Any])


def roles_required(*roles: str) -> Callable[[F], F]:
    """Signed in, and with one of these roles; anyone else gets 403 (anonymous users go to sign-in)."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def desk_for(role: str) -> str:
    return {
        "candidate": "candidate.home",
        "assessor": "assessor.home",
        "coordinator": "coordinator.home",
        "admin": "admin.home",
    }[role]

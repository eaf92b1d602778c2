"""Choosing the language of a page: the account's choice, else the browser cookie, else the browser."""

from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.preferred_language in languages:
        return str(current_user.preferred_language)
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in languages:
        return str(cookie)
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]

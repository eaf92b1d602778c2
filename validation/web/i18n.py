"""Choosing the language of a page: the account's choice, else the browser cookie, else the browser."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, has_request_context, request
from flask_babel import get_locale, get_translations, gettext
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

import workflows

LANGUAGE_COOKIE = "lang"


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if getattr(current_user, "is_authenticated", False) and current_user.preferred_language in languages:
        return str(current_user.preferred_language)
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in languages:
        return str(cookie)
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    """The language of the page being built."""
    return str(get_locale() or "en")


def _value(text: object) -> object:
    """A placeholder value: a label or a comma list of roles is translated part by part; codes stay, and so
    do numbers (a number of days, say)."""
    if not isinstance(text, str):
        return text
    return ", ".join(gettext(part) if part else part for part in text.split(", "))


def translate_message(message: str) -> str:
    if isinstance(message, workflows.Message):
        return gettext(message.template, **{k: _value(v) for k, v in message.params.items()})
    return gettext(message) if message else message


def translate_refusal(refusal: workflows.Refused) -> str:
    """A workflow refusal in the reader's language, one sentence at a time."""
    return " ".join(translate_message(m) for m in refusal.messages)


def country_name(code: str) -> str:
    """A country's name in the reader's language, from the CLDR data that Babel ships."""
    locale = get_locale()
    return locale.territories.get(code, code) if locale else code


def language_name(code: str) -> str:
    locale = get_locale()
    name = locale.languages.get(code, code) if locale else code
    return name[:1].upper() + name[1:]


def install_page_translations(app: Flask) -> None:
    """Bind a page's `_`, `gettext`, `ngettext` and `pgettext` to its language's catalog once per rendering.

    Flask-Babel's template functions look the catalog up again for every string (the request context, the
    domain, the locale, a cache), which made the translation calls of a long page cost more than its query.
    They behave as Jinja's "newstyle" gettext does: autoescaped, always formatted with their variables.
    Templates rendered outside a request (and macros imported without context) keep Flask-Babel's.

    `_` is bound too, and all of them take the evaluation context, not the template's: Jinja calls a function
    that takes the template's context inside a loop or after a `{% set %}` with a copy of that whole context
    made for the call, which is what the i18n extension's own `_` takes (75 copies on a case page).
    """

    @app.context_processor
    def _page_translations() -> dict[str, object]:
        if not has_request_context():
            return {}
        catalog = get_translations()
        gettext = _newstyle(catalog.ugettext)
        return {
            "_": gettext,
            "gettext": gettext,
            "ngettext": _newstyle_plural(catalog.ungettext),
            "pgettext": _newstyle(catalog.upgettext),
        }


def _newstyle(lookup: Callable[..., str]) -> Callable[..., str]:
    @pass_eval_context
    def gettext(eval_ctx: EvalContext, *args: str, **variables: object) -> str:
        text = lookup(*args)
        if eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 (a translator's text, trusted as Jinja's own i18n trusts it)
        # Formatting a text without a "%" changes nothing, and Markup's formatting is slow: most of a page's
        # strings have no variables.
        return text % variables if variables or "%" in text else text

    return gettext


def _newstyle_plural(lookup: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_eval_context
    def ngettext(eval_ctx: EvalContext, singular: str, plural: str, num: int, **variables: object) -> str:
        variables.setdefault("num", num)
        text = lookup(singular, plural, num)
        if eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 (a translator's text, trusted as Jinja's own i18n trusts it)
        return text % variables

    return ngettext

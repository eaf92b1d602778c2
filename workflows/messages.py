"""Sentences that a person reads, kept translatable without tying the engine to any i18n library.

A :class:`Message` is a plain ``str`` (the English sentence) that also remembers its template and values,
so a user interface can look the template up in its own catalog and fill the values in after translating
them too. Templates use ``%(name)s`` placeholders, the form gettext catalogs expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class Message(str):
    template: str
    params: Mapping[str, str]

    def __new__(cls, template: str, **params: str) -> Message:
        text = template % params if params else template
        message = super().__new__(cls, text)
        message.template = template
        message.params = MappingProxyType(dict(params))
        return message

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_rebuild, (self.template, dict(self.params)))


def _rebuild(template: str, params: dict[str, str]) -> Message:
    return Message(template, **params)

"""Long lists of <option>s (two hundred assessors, say), written out once and kept, for the queue's filters and
bulk actions and the case page's assignment alike."""

from __future__ import annotations

from markupsafe import Markup, escape


def select_options(choices: list[tuple[object, object]], selected: object = None) -> Markup:
    """The <option>s of a long choice, built in one pass rather than a template loop per option: the queue page
    lists two hundred assessors twice, the case page once. With `selected` None, none is marked (the lists are
    kept so, and `mark_selected` marks the one a request asks for)."""
    chosen = None if selected is None else str(selected)
    parts = []
    for value, label in choices:
        text = str(value)
        mark = " selected" if text == chosen else ""
        parts.append(f'<option value="{escape(text)}"{mark}>{escape(str(label))}</option>')
    return Markup("".join(parts))  # noqa: S704 (every value and label is escaped above)


def mark_selected(options: Markup, value: object) -> Markup:
    """Kept <option>s (from `select_options`) with the one of this value selected."""
    text = escape("" if value is None else str(value))
    # On the plain text: Markup's own replace would escape the tags it is given.
    marked = str(options).replace(f'<option value="{text}">', f'<option value="{text}" selected>', 1)
    return Markup(marked)  # noqa: S704 (options and value are escaped)

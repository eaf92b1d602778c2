"""Deciding a file's type from its bytes, never from its name.

This is the first line of defence: a type is accepted only when the bytes start the way that type must
start and, for text, decode as UTF-8 without control characters.
"""

from __future__ import annotations

ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "text/plain": "text",
}


def sniff(head: bytes) -> str | None:
    """The media type the leading bytes prove, or None when they prove nothing we accept."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if _is_text(head) and not _is_markup(head):
        return "text/plain"
    return None


def _is_markup(head: bytes) -> bool:
    """HTML, SVG or XML passes as UTF-8 text, but a browser would run it: markup is never plain text."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\n\r\f").startswith(b"<")


def _is_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        # The head may cut a multi-byte character: drop up to 3 trailing bytes before deciding.
        for cut in range(4):
            try:
                text = head[: len(head) - cut].decode("utf-8")
                break
            except UnicodeDecodeError:
                if cut == 3:
                    raise
        else:  # pragma: no cover - the loop always breaks or raises
            return False
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\n\r\f" for c in text)

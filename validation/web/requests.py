"""The app's request class: a form's file is written straight into the evidence store as it arrives.

Werkzeug's default spools a file field to a temporary file elsewhere, which the store then reads again,
hashes and copies: the bytes crossed the disk twice and were read three times. Here the file part is
written once, into the store's own work folder, and hashed on the way (`evidence.receiving_file`), so
keeping it is a rename (see `BlobStore.put_received`).

The multipart parser reads its input 64 KB at a time; a WSGI server's body reader may copy what it holds
in its buffer on every read (gunicorn's does), which for a 200 MB file adds up to gigabytes of copying.
The body is therefore read through a 1 MB buffer, and the parser takes its 64 KB pieces from that.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import IO, Any

from babel import support
from flask import Request
from flask_babel import get_locale
from werkzeug.formparser import FormDataParser
from wtforms.i18n import messages_path

from validation.services import evidence

#: How much of a request body is read from the server at once while a form is parsed.
BODY_READ_BYTES = 1024 * 1024


class _LargeReadFormDataParser(FormDataParser):
    def parse(self, stream: IO[bytes], mimetype: str, content_length: int | None,
              options: dict[str, str] | None = None) -> Any:
        if mimetype == "multipart/form-data" and isinstance(stream, io.RawIOBase):
            stream = io.BufferedReader(stream, BODY_READ_BYTES)
        return super().parse(stream, mimetype, content_length, options)


@lru_cache(maxsize=16)
def _wtforms_messages(language: str) -> support.Translations:
    return support.Translations.load(messages_path(), [language], domain="wtforms")


class AppRequest(Request):
    form_data_parser_class = _LargeReadFormDataParser

    @property
    def wtforms_translations(self) -> support.Translations:
        """WTForms' own messages ("This field is required.") in the page's language. Flask-WTF reads them from
        this attribute of the request, and when it finds none there, it finds and parses the catalog file
        again, once for every request that builds a form (a case page builds four): here each language's
        catalog is read once per process."""
        return _wtforms_messages(str(get_locale() or "en"))

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        """Werkzeug's documented hook for where a file field goes while the form is parsed."""
        return evidence.receiving_file()  # type: ignore[return-value]

"""Tables as CSV and XLSX downloads, written row by row.

A cell that begins with = + - @ (or a tab or carriage return) would be read as a formula by a spreadsheet
program; a candidate's name is text someone typed, so such a cell is written with a leading apostrophe in
CSV, and as a plain string cell in XLSX (openpyxl would otherwise store "=..." as a formula).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Sequence

from flask import Response, send_file

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: Up to this size a download is built in memory, beyond it in a temporary file.
SPOOL_BYTES = 4 * 1024 * 1024


def _safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def _download(spool: tempfile.SpooledTemporaryFile, filename: str, mimetype: str) -> Response:  # type: ignore[type-arg]
    spool.seek(0)
    response = send_file(spool, mimetype=mimetype, as_attachment=True, download_name=filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """The whole file is written within the request (the rows may read the database), into memory up to
    SPOOL_BYTES and on disk beyond, so a large export costs no more memory than a small one."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")  # noqa: SIM115 (send_file closes it)
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
    text.flush()
    text.detach()
    return _download(spool, filename, "text/csv")


def xlsx_response(filename: str, title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(header))
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula
            cells.append(cell)
        sheet.append(cells)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")  # noqa: SIM115 (send_file closes it)
    workbook.save(spool)
    return _download(spool, filename, XLSX_TYPE)

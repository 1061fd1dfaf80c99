"""CSV exports every list page shares: streamed, UTF-8 with a byte-order mark, and safe
to open in a spreadsheet (no cell runs as a formula)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

from django.http import StreamingHttpResponse

# A spreadsheet runs a cell that starts with one of these as a formula...
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ... except a plain number such as -30, which stays a number.
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def safe_cell(value) -> str:
    """Text for a CSV cell that a spreadsheet will not run: a leading quote on anything
    that starts like a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def number_cell(value) -> str:
    """A decimal as plain digits (100, not 100.0000 or 1E+2); empty for no value."""
    return "" if value is None else f"{value.normalize():f}"


class _Echo:
    def write(self, value):
        return value


def csv_lines(rows: Iterable[Iterable]) -> Iterable[str]:
    """Each row as one CSV line, every cell made safe; the first line carries the
    byte-order mark that lets spreadsheet programs read UTF-8 names correctly."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


def csv_response(rows: Iterable[Iterable], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

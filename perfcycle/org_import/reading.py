"""The import file: its columns, the upload checks, and parsing the CSV into row dicts."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

CSV_COLUMNS = [
    "employee_number",
    "full_name",
    "email",
    "department_code",
    "department_name",
    "parent_department_code",
    "position",
    "grade",
    "manager_employee_number",
    "hire_date",
    "department_head",
]
OPTIONAL_COLUMNS = ("grade", "department_head")
REQUIRED_COLUMNS = [c for c in CSV_COLUMNS if c not in OPTIONAL_COLUMNS]
# The row dicts from read_org_csv carry their line in the file under this extra key.
LINE_KEY = "_line"
FILE_FIELD = "file"


@dataclass
class RowError:
    line: int  # 1 is the header row; 0 means the file as a whole
    field: str
    message: str


def check_upload(file, filename: str) -> list[RowError]:
    """Is this a CSV file we can read: extension, size, UTF-8 text without NUL bytes?

    Leaves the file positioned at its start, so it can be read again.
    """
    _data, errors = read_upload(file, filename)
    if hasattr(file, "seek"):
        file.seek(0)
    return errors


def read_upload(file, filename: str) -> tuple[str, list[RowError]]:
    if os.path.splitext(filename or "")[1].lower() != ".csv":
        return "", [
            file_error(
                _(
                    "“%(name)s” is not a .csv file. Export the organisation as CSV "
                    "(in Excel: Save As, “CSV UTF-8”) and upload that."
                )
                % {"name": os.path.basename(filename or "")}
            )
        ]
    limit = settings.ORG_IMPORT_MAX_BYTES
    size = getattr(file, "size", None)
    data = file.read(limit + 1) if size is None or size <= limit else b""
    if (size or 0) > limit or len(data) > limit:
        return "", [
            file_error(
                _("The file is larger than %(limit)s. Split it, or ask for the limit to be raised.")
                % {"limit": filesizeformat(limit)}
            )
        ]
    return decode(data)


def decode(data: bytes | str) -> tuple[str, list[RowError]]:
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
            return "", [
                file_error(
                    _(
                        "This is a spreadsheet workbook, not a CSV file. Open it in Excel "
                        "and use Save As, “CSV UTF-8”."
                    )
                )
            ]
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            return "", [
                RowError(
                    line,
                    FILE_FIELD,
                    _(
                        "This line is not UTF-8 text. Save the file as “CSV UTF-8” "
                        "(Excel may use another encoding for plain “CSV”)."
                    ),
                )
            ]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return "", [
            RowError(line, FILE_FIELD, _("This line holds binary data; upload a CSV text file."))
        ]
    return text, []


def read_org_csv(file) -> tuple[list[dict[str, str]], list[RowError]]:
    """Parse the CSV (bytes or text; UTF-8 with or without BOM) into row dicts.

    Each dict is keyed by the columns present in :data:`CSV_COLUMNS` and carries its line
    under :data:`LINE_KEY`. Blank lines are skipped; line numbers count the header as line 1,
    as a spreadsheet numbers its rows. A header without a required column gives errors and
    no rows; a row with the wrong number of values is reported and left out.
    """
    text, errors = decode(file.read())
    if errors:
        return [], errors
    if not text.strip():
        return [], [RowError(1, FILE_FIELD, _("The file is empty; it needs a header row."))]
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[dict[str, str]] = []
    header: list[str] = []
    line = 0
    try:
        for line, record in enumerate(reader, start=1):
            if line == 1:
                header = [h.strip().lower().replace(" ", "_").replace("-", "_") for h in record]
                errors = _check_header(header)
                if errors:
                    return [], errors
                continue
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(header) and not any(c.strip() for c in record[len(header) :]):
                record = record[: len(header)]
            if len(record) != len(header):
                errors.append(
                    RowError(
                        line,
                        FILE_FIELD,
                        _(
                            "This row has %(found)d values but the header has %(expected)d "
                            "columns; check for a missing or extra separator."
                        )
                        % {"found": len(record), "expected": len(header)},
                    )
                )
                continue
            row = {name: value.strip() for name, value in zip(header, record, strict=True)}
            row = {name: row[name] for name in CSV_COLUMNS if name in row}
            row[LINE_KEY] = str(line)
            rows.append(row)
    except csv.Error as exc:
        errors.append(
            RowError(
                line + 1,
                FILE_FIELD,
                _("The file cannot be read as CSV from this line on (%(reason)s).")
                % {"reason": exc},
            )
        )
    return rows, errors


def _check_header(header: list[str]) -> list[RowError]:
    errors = []
    seen = set()
    for name in header:
        if name and name in seen and name in CSV_COLUMNS:
            errors.append(
                RowError(1, name, _("The column “%(column)s” appears twice.") % {"column": name})
            )
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            errors.append(
                RowError(
                    1,
                    name,
                    _("The header row has no “%(column)s” column; add it (see the template).")
                    % {"column": name},
                )
            )
    return errors


def file_error(message: str) -> RowError:
    return RowError(0, FILE_FIELD, message)

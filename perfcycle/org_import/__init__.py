"""Import or update the organisation from the HR system's CSV export.

The whole file is validated first and every bad row is reported with its line number, the
column and what to do about it; on any error nothing is written to the organisation (the
attempt itself is recorded as a rejected :class:`OrgImport`). A valid file is applied in one
transaction with bulk statements, so the number of queries does not grow with the number of
rows beyond batching, and every created or changed department, position and employee gets
one history row (who, when, which file). Re-importing the same file writes nothing.

The file is the truth for the rows it holds: each row describes one person and their place
(department with its parent, position, manager). People missing from the file are left alone
unless ``deactivate_missing`` is asked for. When the optional ``department_head`` column is
there, a person marked "yes" heads exactly the department on their row and a person marked
"no" (or left empty) heads none; headships of people not in the file are kept unless a row
names a new head for their department.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import access
from ..models import OrgImport
from .checks import REQUIRED_VALUES, Snapshot, validate
from .reading import (
    CSV_COLUMNS,
    FILE_FIELD,
    LINE_KEY,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    RowError,
    check_upload,
    read_org_csv,
    read_upload,
)
from .writes import apply, changes_for

logger = logging.getLogger(__name__)

__all__ = [
    "CSV_COLUMNS",
    "LINE_KEY",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "REQUIRED_VALUES",
    "ImportOutcome",
    "RowError",
    "check_upload",
    "import_org_file",
    "import_org_rows",
    "read_org_csv",
]


@dataclass
class ImportOutcome:
    """What an import did (or, for a dry run, would do); ``record`` is its audit row."""

    ok: bool
    errors: list[RowError]
    record: OrgImport
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    departments_created: int = 0
    departments_updated: int = 0
    positions_created: int = 0


# --- entry points -------------------------------------------------------------------


Progress = Callable[[int], None]


def import_org_file(
    *,
    actor,
    file,
    filename: str,
    deactivate_missing: bool = False,
    dry_run: bool = False,
    record: OrgImport | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Check, read and import an uploaded file (see :func:`import_org_rows`).

    With ``record`` (a queued upload, see :mod:`perfcycle.tasks`) the outcome is written into
    that row instead of a new one, and its stored file text is emptied. ``progress`` is
    called with a percentage after reading and after validating.
    """
    if actor is not None:
        access.require(access.can_import_org(actor))
    text, errors = read_upload(file, filename)
    rows: list[dict[str, str]] = []
    if not errors:
        rows, errors = read_org_csv(io.StringIO(text))
    if errors and not rows:
        return _reject(actor, filename, 0, errors, dry_run=dry_run, record=record)
    if progress:
        progress(10)
    return _import(
        actor=actor,
        rows=rows,
        filename=filename,
        deactivate_missing=deactivate_missing,
        dry_run=dry_run,
        read_errors=errors,
        record=record,
        progress=progress,
    )


def import_org_rows(
    *,
    actor,
    rows: list[dict[str, str]],
    filename: str,
    deactivate_missing: bool = False,
    dry_run: bool = False,
) -> ImportOutcome:
    """Validate every row, then apply them all in one transaction, or nothing at all.

    ``rows`` are dicts keyed by :data:`CSV_COLUMNS`; without a :data:`LINE_KEY` the n-th
    row is taken to be on line n + 1 (after the header). ``dry_run`` validates and counts
    what would change without writing anything, not even the audit record.
    """
    if actor is not None:
        access.require(access.can_import_org(actor))
    return _import(
        actor=actor,
        rows=rows,
        filename=filename,
        deactivate_missing=deactivate_missing,
        dry_run=dry_run,
        read_errors=[],
    )


def _import(
    *,
    actor,
    rows,
    filename,
    deactivate_missing,
    dry_run,
    read_errors: list[RowError],
    record: OrgImport | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    try:
        with transaction.atomic():
            snapshot = Snapshot.load()
            plan, errors = validate(rows, snapshot, deactivate_missing=deactivate_missing)
            errors = sorted(read_errors + errors, key=lambda e: (e.line, _field_order(e.field)))
            if errors:
                total = len(rows) + len(read_errors)
                return _reject(actor, filename, total, errors, dry_run=dry_run, record=record)
            if progress:
                # Inside the import's transaction: other sessions see it only at the end.
                progress(50)
            changes = changes_for(plan, snapshot, deactivate_missing=deactivate_missing)
            counts = changes.counts()
            record = _fill(
                record,
                actor=actor,
                filename=filename[:255],
                status=OrgImport.Status.APPLIED,
                rows=len(rows),
                errors=[],
                **counts,
            )
            if not dry_run:
                apply(plan, snapshot, changes, actor=actor, filename=filename)
                record.save()
    except IntegrityError:
        # Someone saved a clashing record (an e-mail, a code) between our check and our
        # write; the transaction is rolled back, so the file can simply be sent again.
        logger.warning("Organisation import %s hit a concurrent change", filename, exc_info=True)
        message = _(
            "The organisation changed while this file was being imported; nothing was "
            "written. Import the file again."
        )
        return _reject(
            actor,
            filename,
            len(rows),
            [RowError(0, FILE_FIELD, message)],
            dry_run=dry_run,
            record=record,
        )
    return ImportOutcome(ok=True, errors=[], record=record, **counts)


def _reject(
    actor,
    filename: str,
    rows: int,
    errors: list[RowError],
    *,
    dry_run,
    record: OrgImport | None = None,
) -> ImportOutcome:
    record = _fill(
        record,
        actor=actor,
        filename=filename[:255],
        status=OrgImport.Status.REJECTED,
        rows=rows,
        errors=[asdict(e) for e in errors],
    )
    if not dry_run:
        record.save()
    return ImportOutcome(ok=False, errors=errors, record=record)


def _fill(record: OrgImport | None, **fields) -> OrgImport:
    """A new audit row, or the queued one with the outcome; its stored file text is dropped."""
    if record is None:
        return OrgImport(**fields)
    for name, value in fields.items():
        setattr(record, name, value)
    record.progress = 100
    record.source = ""
    return record


def _field_order(name: str) -> int:
    return CSV_COLUMNS.index(name) if name in CSV_COLUMNS else -1

"""Set-based writes: ``INSERT INTO ... SELECT`` with the column list read from the
model's ``_meta``, and the history rows of what such a statement wrote.

For bulk work (a cycle's launch) where building thousands of objects and their history
rows in Python costs many times what the database needs. The columns come from the
models, so a field added later is written (with its default) rather than forgotten.
PostgreSQL and SQLite both run these statements.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import timezone


def insert_select(
    model: type[Model],
    *,
    source: str,
    params: Sequence[Any] = (),
    copied: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> int:
    """``INSERT INTO model (every column) SELECT ... FROM source``; the rows written.

    ``copied`` maps columns to SQL expressions over ``source``; ``values`` gives columns
    one value for every row; every other column gets the field's default, as a new
    instance would (the auto primary key is left to the database). ``params`` are those
    of ``source``, which may go on with ``WHERE`` and ``ORDER BY``.
    """
    copied, values = copied or {}, values or {}
    unknown = (set(copied) | set(values)) - {f.column for f in model._meta.concrete_fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no column {', '.join(sorted(unknown))}.")
    qn = connection.ops.quote_name
    now = timezone.now()
    columns, selected, selected_params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.get_internal_type().endswith("AutoField"):
            continue
        columns.append(qn(field.column))
        if field.column in copied:
            selected.append(copied[field.column])
            continue
        if field.column in values:
            value = values[field.column]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        selected.append("%s")
        selected_params.append(field.get_db_prep_save(value, connection))
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(selected)} FROM {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*selected_params, *params])
        return cursor.rowcount


def insert_history(
    model: type[Model],
    *,
    source: str,
    params: Sequence[Any] = (),
    alias: str,
    actor,
    reason: str,
    when: datetime.datetime | None = None,
) -> int:
    """The creation history row (type ``+``) of each ``model`` row that ``source`` selects
    as ``alias``: every tracked field copied, with who (``actor``), when and why
    (``reason``), as ``simple_history``'s ``bulk_create_with_history`` writes them."""
    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return 0
    history = model.history.model
    qn = connection.ops.quote_name
    return insert_select(
        history,
        source=source,
        params=params,
        copied={f.column: f"{alias}.{qn(f.column)}" for f in history.tracked_fields},
        values={
            "history_date": when or timezone.now(),
            "history_change_reason": reason,
            "history_type": "+",
            history._meta.get_field("history_user").column: actor.pk if actor else None,
        },
    )

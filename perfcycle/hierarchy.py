"""Tree queries on the two adjacency lists: the reporting line and the department tree.

Each question is answered in one SQL statement, whatever the depth, with a recursive
common table expression that PostgreSQL and SQLite both run. We use our own CTE rather
than django-tree-queries because that library requires the tree's foreign key to be
called ``parent``, while the reporting line is ``Employee.manager``; two small
functions here cover both trees and compose as subqueries into any queryset.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL

# A reporting line deeper than this is a data error; the guard stops a runaway query.
MAX_DEPTH = 64


def descendants_sql(model: type[Model], parent_field: str, roots: QuerySet | list[int]) -> RawSQL:
    """SQL selecting the ids of every node below ``roots`` (roots excluded), any depth.

    ``roots`` is a list of ids or a ``values("pk")`` queryset; it is embedded as a
    subquery, so the whole question stays one statement. ``UNION`` (not ``UNION ALL``)
    also ends the recursion if the data ever held a loop.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(parent_field).column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    roots_sql, params = _roots_sql(roots)
    sql = (
        f"WITH RECURSIVE sub(id) AS ("
        f"SELECT {pk} FROM {table} WHERE {column} IN ({roots_sql}) "
        f"UNION SELECT t.{pk} FROM {table} t JOIN sub ON t.{column} = sub.id"
        f") SELECT id FROM sub"
    )
    return RawSQL(sql, params)


def subtree_sql(model: type[Model], parent_field: str, roots: QuerySet | list[int]) -> RawSQL:
    """Like :func:`descendants_sql`, with the roots themselves included."""
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(parent_field).column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    roots_sql, params = _roots_sql(roots)
    sql = (
        f"WITH RECURSIVE sub(id) AS ("
        f"SELECT {pk} FROM {table} WHERE {pk} IN ({roots_sql}) "
        f"UNION SELECT t.{pk} FROM {table} t JOIN sub ON t.{column} = sub.id"
        f") SELECT id FROM sub"
    )
    return RawSQL(sql, params)


def ancestor_ids(model: type[Model], parent_field: str, node_id: int) -> list[int]:
    """Ids of the chain above ``node_id``, nearest first, in one query."""
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(parent_field).column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    sql = (
        f"WITH RECURSIVE chain(id, up, depth) AS ("
        f"SELECT {pk}, {column}, 0 FROM {table} WHERE {pk} = %s "
        f"UNION ALL SELECT t.{pk}, t.{column}, c.depth + 1 FROM {table} t "
        f"JOIN chain c ON t.{pk} = c.up WHERE c.depth < %s"
        f") SELECT id FROM chain WHERE depth > 0 ORDER BY depth"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [node_id, MAX_DEPTH])
        return [row[0] for row in cursor.fetchall()]


def _roots_sql(roots: QuerySet | list[int]) -> tuple[str, list]:
    if isinstance(roots, QuerySet):
        sql, params = roots.query.sql_with_params()
        return sql, list(params)
    ids = [int(r) for r in roots] or [0]
    return ", ".join(["%s"] * len(ids)), ids

"""Numbers on the goal pages as people write them: ``{{ goal.target|plain }}`` shows 100
rather than 100.0000, and 12.5 rather than 12.5000 (grouped per the active locale)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template

from goals.display import plain_number

register = template.Library()


@register.filter
def plain(value) -> str:
    if value in (None, ""):
        return ""
    try:
        return plain_number(Decimal(value))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)

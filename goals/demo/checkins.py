"""Check-ins for the demo cascade: month-end progress on most personal goals, in one call
to ``goals.services.checkins_record_bulk``, which rolls progress up the tree."""

from __future__ import annotations

import calendar
import datetime
import random
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from perfcycle.models import Cycle, Employee

from .. import services
from ..models import CheckIn, Goal
from .catalogue import CHECKED_IN, COMMENTS, COMMENTS_ZH

L = Goal.Level
C = CheckIn.Confidence


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def record_checkins(cycle: Cycle, rng: random.Random, *, today: datetime.date) -> int:
    """Month-end check-ins (up to three) on most personal goals, and on the department
    goals no KPI serves, in one call; the service rolls progress up the tree.

    Each goal gets a score ``s`` on the KPI's own scale (0 at the threshold, 1 at the
    target, 2 at the stretch) from the person's form plus chance, so some people are
    behind everywhere, and a few goals land below the threshold or beyond the target.
    """
    dates = _month_ends(cycle, today)
    span = (cycle.period_end - cycle.period_start).days or 1
    chinese = {
        pk: _chinese(name)
        for pk, name in Employee.objects.values_list("pk", "department__name").order_by()
    }
    personal = Goal.objects.filter(cycle=cycle, level=L.PERSONAL, status__in=Goal.TRACKED)
    unserved = Goal.objects.filter(
        cycle=cycle, level=L.DEPARTMENT, status__in=Goal.TRACKED, children__isnull=True
    ).select_related("department")
    form: dict[tuple[str, int], float] = {}
    measured_kpis: set[int] = set()
    entries = []
    for goal in [*personal.order_by("pk"), *unserved.order_by("pk")]:
        if goal.level == L.PERSONAL:
            owner, is_chinese = ("employee", goal.employee_id), chinese[goal.employee_id]
            # Someone in each position has checked in, so every KPI shows progress.
            skip = rng.random() > CHECKED_IN
            if skip and (goal.source_id is None or goal.source_id in measured_kpis):
                continue
            measured_kpis.add(goal.source_id)
        else:
            owner, is_chinese = ("department", goal.department_id), _chinese(goal.department.name)
        if owner not in form:
            form[owner] = rng.gauss(0, 0.3)
        final = 0.72 + form[owner] + rng.gauss(0, 0.45)
        drift = rng.uniform(-0.1, 0.3)
        taken = dates[-rng.choices((1, 2, 3), weights=(2, 1, 1))[0] :]
        for i, day in enumerate(taken):
            score = final - drift * (len(taken) - 1 - i)
            confidence = _confidence(score, rng)
            comments = (COMMENTS_ZH if is_chinese else COMMENTS)[confidence]
            entry = {
                "goal": goal,
                "confidence": confidence,
                "comment": rng.choice(comments),
                "recorded_at": timezone.make_aware(
                    datetime.datetime.combine(day, datetime.time(17, 0))
                ),
            }
            if goal.is_measured:
                entry["actual"] = _actual(goal, score, rng)
            else:
                elapsed = (day - cycle.period_start).days / span
                percent = elapsed * (0.55 + 0.45 * score) * 100
                entry["percent_complete"] = Decimal(round(min(max(percent, 0), 100)))
            entries.append(entry)
    if not entries:
        return 0
    return services.checkins_record_bulk(actor=None, entries=entries)


def _month_ends(cycle: Cycle, today: datetime.date) -> list[datetime.date]:
    """The last three month ends of the period before ``today`` (or today, in January)."""
    ends = []
    year, month = cycle.period_start.year, cycle.period_start.month
    while True:
        end = datetime.date(year, month, calendar.monthrange(year, month)[1])
        if end >= today or end > cycle.period_end:
            break
        ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return ends[-3:] or [min(max(today, cycle.period_start), cycle.period_end)]


def _confidence(score: float, rng: random.Random) -> str:
    """How sure the owner is, which mostly follows the numbers."""
    roll = rng.random()
    if score < 0.1:
        return C.OFF_TRACK if roll < 0.75 else C.AT_RISK
    if score < 0.55:
        return C.AT_RISK if roll < 0.7 else C.ON_TRACK
    return C.AT_RISK if roll < 0.06 else C.ON_TRACK


def _actual(goal: Goal, score: float, rng: random.Random) -> Decimal:
    """The measured value that scores ``score`` on the goal's own scale."""
    score = min(max(score, -1.2), 2.2)
    if goal.direction == Goal.Direction.RANGE:
        low, high = goal.range_low, goal.range_high
        numbers = (low, high, goal.tolerance)
        tolerance = goal.tolerance or (high - low) / 4
        if score >= 0.5:
            value = low + (high - low) * _dec(rng.uniform(0.1, 0.9))
        else:
            off = tolerance * _dec(min((0.5 - score) * 2.4, 2.0))
            value = high + off if rng.random() < 0.5 else low - off
    else:
        threshold, target = goal.threshold, goal.target
        stretch = goal.stretch if goal.stretch is not None else target + (target - threshold) / 2
        numbers = (threshold, target, goal.stretch)
        if score <= 1:
            value = threshold + (target - threshold) * _dec(score)
        else:
            value = target + (stretch - target) * _dec(score - 1)
        if goal.unit.startswith("%") and max(threshold, target, stretch) <= 100:
            value = min(value, Decimal(100))
    return _round_like(max(value, Decimal(0)), numbers)


def _dec(x: float) -> Decimal:
    return Decimal(str(round(x, 4)))


def _round_like(value: Decimal, numbers) -> Decimal:
    """One decimal place more than the goal's own numbers use."""
    places = max((max(0, -n.normalize().as_tuple().exponent) for n in numbers if n), default=0)
    step = Decimal(1).scaleb(-min(places + 1, 4))
    return value.quantize(step, rounding=ROUND_HALF_UP)

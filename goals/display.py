"""How one goal is put into words and pictures on its page: the KPI definition as a
sentence, and the check-in history as a small chart of attainment over time.

The chart is plain SVG drawn by the template from the coordinates computed here (no
script, no inline style: the page's CSP forbids both); its table of check-ins is the
text alternative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from . import kpi
from .models import CheckIn, Goal


def plain_number(value: Decimal | None) -> str:
    """A stored number as people write it: 100 rather than 100.0000, grouped per locale."""
    if value is None:
        return ""
    value = Decimal(value)
    value = value.quantize(Decimal(1)) if value == value.to_integral() else value.normalize()
    return formats.number_format(value, use_l10n=True, force_grouping=True)


def kpi_summary(goal: Goal) -> str:
    """The KPI definition in words, e.g. "Higher is better · threshold 80 · target 100 ·
    stretch 120 k CNY"."""
    if not goal.is_measured:
        return str(Goal.Kind.MILESTONE.label)
    parts = []
    if goal.direction:
        parts.append(str(Goal.Direction(goal.direction).label))
    if goal.baseline is not None:
        parts.append(_("baseline %(n)s") % {"n": plain_number(goal.baseline)})
    if goal.direction == Goal.Direction.RANGE:
        if goal.range_low is not None and goal.range_high is not None:
            parts.append(
                _("%(low)s to %(high)s")
                % {"low": plain_number(goal.range_low), "high": plain_number(goal.range_high)}
            )
        if goal.tolerance is not None:
            parts.append(_("tolerance %(n)s") % {"n": plain_number(goal.tolerance)})
    else:
        for name, label in (
            ("threshold", _("threshold %(n)s")),
            ("target", _("target %(n)s")),
            ("stretch", _("stretch %(n)s")),
        ):
            value = getattr(goal, name)
            if value is not None:
                parts.append(label % {"n": plain_number(value)})
    text = " · ".join(parts)
    return f"{text} {goal.unit}".strip() if goal.unit else text


# --- the check-in chart ---------------------------------------------------------------

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 16, 44
Y_MAX = kpi.STRETCH_CAP  # attainment never goes above the stretch cap
Y_TICKS = (Decimal(0), kpi.PASSING_SCORE, kpi.FULL, kpi.STRETCH_CAP)


def _coord(value: float) -> str:
    # SVG coordinates are never localised (a decimal comma would break them).
    return f"{value:.1f}"


@dataclass(frozen=True)
class ChartPoint:
    x: str
    y: str
    attainment: Decimal
    recorded_at: object
    label: str


@dataclass(frozen=True)
class Tick:
    y: str
    label: str


@dataclass(frozen=True)
class XLabel:
    x: str
    label: str
    anchor: str


@dataclass
class Chart:
    points: list[ChartPoint]
    summary: str
    width: int = WIDTH
    height: int = HEIGHT
    ticks: list[Tick] = field(default_factory=list)
    x_labels: list[XLabel] = field(default_factory=list)
    target_y: str = ""
    left: str = _coord(LEFT)
    tick_x: str = _coord(LEFT - 8)
    right: str = _coord(WIDTH - RIGHT)
    top: str = _coord(TOP)
    bottom: str = _coord(HEIGHT - BOTTOM)
    x_axis_label_y: str = _coord(HEIGHT - BOTTOM + 20)

    @property
    def line(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)


def _y(attainment: Decimal) -> float:
    plot = HEIGHT - TOP - BOTTOM
    share = float(min(max(attainment, Decimal(0)), Y_MAX) / Y_MAX)
    return TOP + plot * (1 - share)


def checkin_attainments(goal: Goal, checkins: Iterable[CheckIn]) -> list[tuple[CheckIn, Decimal]]:
    """Each check-in with the attainment its reading scores against the goal's definition
    (check-ins without a comparable reading are left out)."""
    rows = []
    for checkin in checkins:
        value = kpi.attainment(goal, actual=checkin.actual, percent=checkin.percent_complete)
        if value is not None:
            rows.append((checkin, value))
    return rows


def progress_chart(goal: Goal, checkins: Iterable[CheckIn]) -> Chart | None:
    """Attainment at each check-in over time, oldest first, with the 100% line; None when
    nothing has been recorded."""
    rows = sorted(checkin_attainments(goal, checkins), key=lambda r: (r[0].recorded_at, r[0].pk))
    if not rows:
        return None
    first, last = rows[0][0].recorded_at, rows[-1][0].recorded_at
    span = (last - first).total_seconds()
    plot_width = WIDTH - LEFT - RIGHT
    points = []
    for checkin, value in rows:
        if span > 0:
            x = LEFT + plot_width * (checkin.recorded_at - first).total_seconds() / span
        else:
            x = LEFT + plot_width / 2
        when = formats.date_format(timezone.localtime(checkin.recorded_at), "DATE_FORMAT")
        points.append(
            ChartPoint(
                x=_coord(x),
                y=_coord(_y(value)),
                attainment=value,
                recorded_at=checkin.recorded_at,
                label=_("%(date)s: %(attainment)s%%")
                % {"date": when, "attainment": plain_number(value)},
            )
        )
    first_label = formats.date_format(timezone.localtime(first), "DATE_FORMAT")
    last_label = formats.date_format(timezone.localtime(last), "DATE_FORMAT")
    summary = ngettext(
        "Attainment at %(count)s check-in, on %(first)s: %(latest)s%%. 100%% means on target.",
        "Attainment at %(count)s check-ins from %(first)s to %(last)s: first %(start)s%%, "
        "latest %(latest)s%%. 100%% means on target.",
        len(points),
    ) % {
        "count": len(points),
        "first": first_label,
        "last": last_label,
        "start": plain_number(points[0].attainment),
        "latest": plain_number(points[-1].attainment),
    }
    x_labels = [XLabel(x=_coord(LEFT), label=first_label, anchor="start")]
    if span > 0:
        x_labels.append(XLabel(x=_coord(WIDTH - RIGHT), label=last_label, anchor="end"))
    else:
        x_labels = [XLabel(x=_coord(LEFT + plot_width / 2), label=first_label, anchor="middle")]
    return Chart(
        points=points,
        summary=summary,
        ticks=[Tick(y=_coord(_y(t)), label=f"{plain_number(t)}%") for t in Y_TICKS],
        x_labels=x_labels,
        target_y=_coord(_y(kpi.FULL)),
    )

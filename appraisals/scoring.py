"""The appraisal score, computed and never typed. The README gives worked examples.

Every number is on the attainment scale of ``goals.kpi``: 100 is the target met (up to
120 at the stretch); a rating on the cycle's scale is normalised onto 0-100 by where it
sits between the scale's lowest and highest value.

* Goal score: the goal's measured attainment, blended with the manager's score for that
  goal in the share the cycle sets (``manager_goal_share``). With nothing measured, the
  manager's score alone; with no manager score, the attainment alone.
* KPI section: the weighted mean of the goal scores over the goals that count (cancelled
  goals drop out and their weight is shared among the rest; goals all weighted 0 count
  equally). No goal with a score: no KPI section.
* Competency section: the weighted mean of the normalised competency ratings.
* Overall: the section weights applied. A section with nothing in it hands its weight to
  the other.
* Rating from the score: the highest level whose band (``RatingLevel.min_score``) the
  overall score reaches. The manager may propose one level up or down from it, with a
  written reason.

Numbers are kept exact (``Decimal``) and rounded half-up to 2 places once, at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def rounded(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Scale:
    """The values of a rating scale, lowest to highest, with each level's score band."""

    values: tuple[int, ...]
    bands: tuple[Decimal | None, ...] = ()

    @classmethod
    def of(cls, levels: Iterable) -> Scale:
        ordered = sorted(levels, key=lambda level: level.value)
        return cls(
            values=tuple(level.value for level in ordered),
            bands=tuple(level.min_score for level in ordered),
        )

    @property
    def lowest(self) -> int:
        return self.values[0]

    @property
    def highest(self) -> int:
        return self.values[-1]

    @property
    def has_bands(self) -> bool:
        return bool(self.bands) and all(band is not None for band in self.bands)

    def normalise(self, value: int) -> Decimal:
        """A rating as a score: the lowest value is 0, the highest 100."""
        if value not in self.values:
            raise ValueError(f"{value} is not on the scale {self.values}")
        return (Decimal(value - self.lowest) * HUNDRED) / Decimal(self.highest - self.lowest)

    def value_for(self, score: Decimal | None) -> int | None:
        """The level an overall score falls in, by the bands."""
        if score is None or not self.has_bands:
            return None
        chosen = self.values[0]
        for value, band in zip(self.values, self.bands, strict=True):
            if score >= band:
                chosen = value
        return chosen

    def steps_between(self, first: int, second: int) -> int:
        return abs(self.values.index(first) - self.values.index(second))


@dataclass(frozen=True)
class GoalLine:
    weight: Decimal
    attainment: Decimal | None  # measured, from goals.kpi; None when nothing was measured
    manager_score: int | None = None  # on the rating scale
    counts: bool = True  # False for a cancelled goal


def goal_score(line: GoalLine, scale: Scale, manager_share: int) -> Decimal | None:
    manager = None if line.manager_score is None else scale.normalise(line.manager_score)
    if line.attainment is None:
        return manager
    if manager is None or manager_share == 0:
        return Decimal(line.attainment)
    share = Decimal(manager_share) / HUNDRED
    return (1 - share) * Decimal(line.attainment) + share * manager


def weighted_mean(pairs: Sequence[tuple[Decimal, Decimal]]) -> Decimal | None:
    """Mean of ``(weight, value)`` pairs; all weights 0 means equal weights."""
    if not pairs:
        return None
    total = sum((Decimal(weight) for weight, _ in pairs), Decimal(0))
    if total == 0:
        return sum((value for _, value in pairs), Decimal(0)) / len(pairs)
    return sum((Decimal(weight) * value for weight, value in pairs), Decimal(0)) / total


def kpi_section(lines: Iterable[GoalLine], scale: Scale, manager_share: int) -> Decimal | None:
    pairs = []
    for line in lines:
        if not line.counts:
            continue
        score = goal_score(line, scale, manager_share)
        if score is not None:
            pairs.append((line.weight, score))
    return weighted_mean(pairs)


def competency_section(ratings: Iterable[tuple[int, int | None]], scale: Scale) -> Decimal | None:
    """``ratings`` are ``(weight, rating)``; unrated competencies are left out."""
    pairs = [(Decimal(w), scale.normalise(r)) for w, r in ratings if r is not None]
    return weighted_mean(pairs)


def overall(
    kpi: Decimal | None, competency: Decimal | None, *, kpi_weight: int, competency_weight: int
) -> Decimal | None:
    pairs = []
    if kpi is not None:
        pairs.append((Decimal(kpi_weight), kpi))
    if competency is not None:
        pairs.append((Decimal(competency_weight), competency))
    if len(pairs) == 2 and kpi_weight + competency_weight == 0:
        return None
    if len(pairs) == 1:
        return pairs[0][1]  # the empty section's weight goes to the other
    return weighted_mean(pairs)


@dataclass(frozen=True)
class Scores:
    kpi: Decimal | None
    competency: Decimal | None
    overall: Decimal | None
    level_value: int | None


def compute(
    *,
    goals: Iterable[GoalLine],
    competencies: Iterable[tuple[int, int | None]],
    scale: Scale,
    kpi_weight: int,
    competency_weight: int,
    manager_share: int,
) -> Scores:
    """The whole appraisal score, rounded once at the end."""
    kpi = kpi_section(goals, scale, manager_share) if kpi_weight else None
    competency = competency_section(competencies, scale) if competency_weight else None
    total = overall(kpi, competency, kpi_weight=kpi_weight, competency_weight=competency_weight)
    return Scores(
        kpi=rounded(kpi),
        competency=rounded(competency),
        overall=rounded(total),
        level_value=scale.value_for(rounded(total)),
    )

"""KPI definitions: the ordering rules and the attainment formula.

Attainment says how far a measured result meets a goal, in percent: 100 is on target.

* **Higher is better** (threshold < target < stretch). Below the threshold: 0. From the
  threshold to the target: linear from the passing score (``PASSING_SCORE``, 50) to 100.
  From the target to the stretch: linear from 100 to the cap (``STRETCH_CAP``, 120);
  beyond the stretch it stays at the cap. Without a stretch, anything at or above the
  target is 100.
* **Lower is better** (threshold > target > stretch): the same, mirrored.
* **Within a range** (lower bound < upper bound, optional tolerance): inside the range,
  100. Outside it, linear from 100 at the bound down to the passing score at
  ``tolerance`` beyond it; further out, 0. Without a tolerance, anything outside is 0.
* **Milestones** are measured in percent complete: attainment is that percentage (0-100).

Worked example (higher is better): threshold 80, target 100, stretch 120, actual 90:
50 + (100 - 50) x (90 - 80) / (100 - 80) = 75. Actual 110: 100 + (120 - 100) x
(110 - 100) / (120 - 100) = 110. Actual 130: capped at 120.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

PASSING_SCORE = Decimal(50)
STRETCH_CAP = Decimal(120)
FULL = Decimal(100)
ZERO = Decimal(0)
_CENT = Decimal("0.01")

KIND_KPI = "kpi"
KIND_MILESTONE = "milestone"
HIGHER, LOWER, RANGE = "higher", "lower", "range"

_NUMBERS = ("baseline", "threshold", "target", "stretch", "range_low", "range_high", "tolerance")
# The numbers each direction uses; the others are cleared so nothing misleading is kept.
_USES = {
    HIGHER: {"baseline", "threshold", "target", "stretch"},
    LOWER: {"baseline", "threshold", "target", "stretch"},
    RANGE: {"baseline", "range_low", "range_high", "tolerance"},
}


def _round(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def normalise(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition with the numbers its kind and direction do not use set to None."""
    clean = dict(definition)
    if clean.get("kind") != KIND_KPI:
        clean["direction"] = ""
        clean["unit"] = clean.get("unit") or ""
        for name in _NUMBERS:
            clean[name] = None
        return clean
    uses = _USES.get(clean.get("direction") or "", set(_NUMBERS))
    for name in _NUMBERS:
        if name not in uses:
            clean[name] = None
    return clean


def definition_errors(d: dict[str, Any]) -> dict[str, str]:
    """Field errors in a KPI definition: what is missing, and numbers out of order."""
    if d.get("kind") != KIND_KPI:
        return {}
    direction = d.get("direction")
    if direction not in (HIGHER, LOWER, RANGE):
        return {"direction": _("Say whether higher or lower is better, or a range is the aim.")}
    errors: dict[str, str] = {}
    if direction == RANGE:
        low, high, tolerance = d.get("range_low"), d.get("range_high"), d.get("tolerance")
        if low is None:
            errors["range_low"] = _("A range goal needs a lower bound.")
        if high is None:
            errors["range_high"] = _("A range goal needs an upper bound.")
        if low is not None and high is not None and low >= high:
            errors["range_high"] = _("The upper bound must be above the lower bound.")
        if tolerance is not None and tolerance <= 0:
            errors["tolerance"] = _("The tolerance must be above zero, or left empty.")
        return errors
    threshold, target, stretch = d.get("threshold"), d.get("target"), d.get("stretch")
    if threshold is None:
        errors["threshold"] = _("Enter the threshold: the lowest result that still counts.")
    if target is None:
        errors["target"] = _("Enter the target: the result that scores 100%.")
    if errors:
        return errors
    if direction == HIGHER:
        if threshold >= target:
            errors["threshold"] = _(
                "When higher is better, the threshold must be below the target."
            )
        if stretch is not None and stretch <= target:
            errors["stretch"] = _("When higher is better, the stretch must be above the target.")
    else:
        if threshold <= target:
            errors["threshold"] = _("When lower is better, the threshold must be above the target.")
        if stretch is not None and stretch >= target:
            errors["stretch"] = _("When lower is better, the stretch must be below the target.")
    return errors


def attainment(d: Any, *, actual: Decimal | None, percent: Decimal | None) -> Decimal | None:
    """Attainment in percent for a measured result, or None when nothing is measured.

    ``d`` is a goal (or anything with the definition's attributes).
    """
    if d.kind != KIND_KPI:
        if percent is None:
            return None
        return _round(min(max(Decimal(percent), ZERO), FULL))
    if actual is None:
        return None
    actual = Decimal(actual)
    if d.direction == RANGE:
        return _range(actual, d.range_low, d.range_high, d.tolerance)
    if d.threshold is None or d.target is None:
        return None
    sign = Decimal(1) if d.direction == HIGHER else Decimal(-1)
    # Mirror lower-is-better onto higher-is-better: negate every number.
    a, threshold, target = sign * actual, sign * d.threshold, sign * d.target
    stretch = sign * d.stretch if d.stretch is not None else None
    if a < threshold:
        return ZERO
    if a <= target:
        span = target - threshold
        return _round(PASSING_SCORE + (FULL - PASSING_SCORE) * (a - threshold) / span)
    if stretch is None:
        return FULL
    if a >= stretch:
        return STRETCH_CAP
    return _round(FULL + (STRETCH_CAP - FULL) * (a - target) / (stretch - target))


def _range(actual: Decimal, low, high, tolerance) -> Decimal | None:
    if low is None or high is None:
        return None
    if low <= actual <= high:
        return FULL
    distance = low - actual if actual < low else actual - high
    if not tolerance or distance > tolerance:
        return ZERO
    return _round(FULL - (FULL - PASSING_SCORE) * distance / tolerance)


def exceeds(new: Any, old: Any) -> bool | None:
    """Whether ``new``'s target goes beyond ``old``'s in the KPI's direction.

    None when the two cannot be compared (a milestone, a range, or a changed direction):
    the next-period rule then does not apply.
    """
    if new.kind != KIND_KPI or old.kind != KIND_KPI or new.direction != old.direction:
        return None
    if new.direction == RANGE or new.target is None or old.target is None:
        return None
    if new.direction == HIGHER:
        return new.target > old.target
    return new.target < old.target

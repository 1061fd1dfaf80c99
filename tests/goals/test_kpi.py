"""The attainment formula and the KPI ordering rules, against hand-computed cases."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from goals import kpi


def higher(threshold=80, target=100, stretch=120):
    return SimpleNamespace(
        kind="kpi",
        direction="higher",
        threshold=Decimal(threshold),
        target=Decimal(target),
        stretch=None if stretch is None else Decimal(stretch),
    )


def lower(threshold=10, target=5, stretch=2):
    return SimpleNamespace(
        kind="kpi",
        direction="lower",
        threshold=Decimal(threshold),
        target=Decimal(target),
        stretch=None if stretch is None else Decimal(stretch),
    )


def in_range(low=30, high=40, tolerance=5):
    return SimpleNamespace(
        kind="kpi",
        direction="range",
        range_low=Decimal(low),
        range_high=Decimal(high),
        tolerance=None if tolerance is None else Decimal(tolerance),
    )


def score(goal, actual):
    return kpi.attainment(goal, actual=Decimal(str(actual)), percent=None)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (50, "0"),  # below the threshold
        (79.99, "0"),
        (80, "50.00"),  # the threshold scores the passing score
        (90, "75.00"),  # 50 + 50 x 10/20 (the README's worked example)
        (100, "100.00"),  # on target
        (110, "110.00"),  # 100 + 20 x 10/20
        (120, "120"),  # the stretch earns the cap
        (500, "120"),  # and it stays there
    ],
)
def test_higher_is_better_is_linear_between_threshold_target_and_stretch(actual, expected):
    assert score(higher(), actual) == Decimal(expected)


def test_without_a_stretch_anything_above_target_scores_100():
    assert score(higher(stretch=None), 1000) == Decimal(100)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (12, "0"),  # worse than the threshold
        (10, "50.00"),
        (7.5, "75.00"),  # 50 + 50 x (10 - 7.5)/(10 - 5)
        (5, "100.00"),
        (3.5, "110.00"),  # 100 + 20 x (5 - 3.5)/(5 - 2)
        (2, "120"),
        (0, "120"),
    ],
)
def test_lower_is_better_mirrors_the_scale(actual, expected):
    assert score(lower(), actual) == Decimal(expected)


@pytest.mark.parametrize(
    ("actual", "expected"),
    [
        (30, "100"),
        (35, "100"),
        (40, "100"),
        (42, "80.00"),  # 100 - 50 x 2/5 above the upper bound
        (27.5, "75.00"),  # 2.5 below the lower bound
        (45, "50.00"),  # the edge of the tolerance scores the passing score
        (45.01, "0"),
        (10, "0"),
    ],
)
def test_range_scores_100_inside_and_falls_off_within_the_tolerance(actual, expected):
    assert score(in_range(), actual) == Decimal(expected)


def test_range_without_tolerance_scores_nothing_outside():
    assert score(in_range(tolerance=None), 40.5) == Decimal(0)
    assert score(in_range(tolerance=None), 31) == Decimal(100)


def test_milestones_score_their_percent_complete_capped_at_100():
    milestone = SimpleNamespace(kind="milestone")
    assert kpi.attainment(milestone, actual=None, percent=Decimal("62.5")) == Decimal("62.50")
    assert kpi.attainment(milestone, actual=None, percent=Decimal(130)) == Decimal(100)


def test_nothing_measured_means_no_attainment():
    assert kpi.attainment(higher(), actual=None, percent=None) is None
    assert kpi.attainment(SimpleNamespace(kind="milestone"), actual=None, percent=None) is None


def definition(**kwargs):
    base = {
        "kind": "kpi",
        "direction": "higher",
        "threshold": Decimal(80),
        "target": Decimal(100),
        "stretch": Decimal(120),
        "range_low": None,
        "range_high": None,
        "tolerance": None,
    }
    return {**base, **kwargs}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"threshold": Decimal(100)}, "threshold"),  # threshold must be below target
        ({"threshold": Decimal(120)}, "threshold"),
        ({"stretch": Decimal(100)}, "stretch"),  # stretch must be above target
        ({"stretch": Decimal(90)}, "stretch"),
        ({"target": None}, "target"),
        ({"threshold": None}, "threshold"),
        ({"direction": ""}, "direction"),
        ({"direction": "lower"}, "threshold"),  # 80 < 100 is the wrong order when lower wins
        (
            {"direction": "lower", "threshold": Decimal(10), "target": Decimal(5)},
            "stretch",
        ),  # stretch 120 is not below a lower-is-better target
        ({"direction": "range"}, "range_low"),
        (
            {"direction": "range", "range_low": Decimal(40), "range_high": Decimal(30)},
            "range_high",
        ),
        (
            {
                "direction": "range",
                "range_low": Decimal(1),
                "range_high": Decimal(2),
                "tolerance": Decimal(0),
            },
            "tolerance",
        ),
    ],
)
def test_it_refuses_numbers_out_of_order_for_the_direction(changes, field):
    assert field in kpi.definition_errors(definition(**changes))


def test_well_ordered_definitions_pass():
    assert kpi.definition_errors(definition()) == {}
    assert (
        kpi.definition_errors(
            definition(
                direction="lower", threshold=Decimal(10), target=Decimal(5), stretch=Decimal(2)
            )
        )
        == {}
    )
    assert (
        kpi.definition_errors(
            definition(direction="range", range_low=Decimal(1), range_high=Decimal(2))
        )
        == {}
    )
    assert kpi.definition_errors({"kind": "milestone"}) == {}


def test_normalising_clears_the_numbers_a_direction_does_not_use():
    clean = kpi.normalise(
        definition(direction="range", range_low=Decimal(1), range_high=Decimal(2))
    )
    assert clean["threshold"] is clean["target"] is clean["stretch"] is None
    assert clean["range_low"] == 1
    milestone = kpi.normalise({**definition(), "kind": "milestone", "unit": "k"})
    assert milestone["target"] is None and milestone["direction"] == ""


@pytest.mark.parametrize(
    ("new", "old", "expected"),
    [
        (higher(target=110), higher(target=100), True),
        (higher(target=100), higher(target=100), False),
        (higher(target=90), higher(target=100), False),
        (lower(target=4, stretch=None), lower(target=5, stretch=None), True),
        (lower(target=6, threshold=12, stretch=None), lower(target=5, stretch=None), False),
        (in_range(), in_range(), None),
        (lower(target=4), higher(target=100), None),
    ],
)
def test_next_period_targets_must_go_beyond_in_the_kpis_direction(new, old, expected):
    assert kpi.exceeds(new, old) is expected

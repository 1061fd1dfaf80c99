"""The appraisal score against hand-computed cases (``appraisals.scoring`` is pure).

Scales: 1-5 normalises 1, 2, 3, 4, 5 to 0, 25, 50, 75, 100; 0-3 (four levels) to 0,
33.33.., 66.66.., 100; 1-10 to (value - 1) x 100 / 9.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from appraisals import scoring
from appraisals.models import Review
from appraisals.services import reviews as review_services
from goals import services as goal_services
from goals.models import Goal
from perfcycle.models import Cycle, RatingLevel
from tests.goals.conftest import goal_data

from .conftest import at_phase, manager_review, record

D = Decimal
FIVE = scoring.Scale(values=(1, 2, 3, 4, 5), bands=(D(0), D(50), D(80), D(100), D(110)))
ZERO_TO_THREE = scoring.Scale(values=(0, 1, 2, 3))
ONE_TO_TEN = scoring.Scale(values=tuple(range(1, 11)))


def line(weight, attainment=None, manager_score=None, counts=True):
    return scoring.GoalLine(
        weight=D(weight),
        attainment=None if attainment is None else D(attainment),
        manager_score=manager_score,
        counts=counts,
    )


# --- KPI section --------------------------------------------------------------------


def test_it_takes_the_weighted_mean_of_the_goals():
    # (60 x 110 + 40 x 75) / 100 = 96
    assert scoring.kpi_section([line(60, 110), line(40, 75)], FIVE, 0) == D(96)


def test_a_goal_with_no_actual_is_scored_by_the_managers_score_alone():
    # the manager's 4 is 75 on 1-5: (50 x 75 + 50 x 100) / 100 = 87.5
    lines = [line(50, None, manager_score=4), line(50, 100)]
    assert scoring.kpi_section(lines, FIVE, 0) == D("87.5")
    assert scoring.goal_score(line(50, None, manager_score=4), FIVE, 30) == D(75)


def test_a_goal_with_no_actual_and_no_managers_score_drops_out():
    # only the weight-70 goal counts: 90
    assert scoring.kpi_section([line(30), line(70, 90)], FIVE, 0) == D(90)
    assert scoring.goal_score(line(30), FIVE, 30) is None


def test_a_cancelled_goals_weight_is_shared_among_the_rest():
    # the cancelled 50 drops out: (30 x 100 + 20 x 50) / 50 = 80
    lines = [line(50, 0, counts=False), line(30, 100), line(20, 50)]
    assert scoring.kpi_section(lines, FIVE, 0) == D(80)


def test_goals_all_weighted_zero_count_equally():
    # (100 + 50) / 2 = 75
    assert scoring.kpi_section([line(0, 100), line(0, 50)], FIVE, 0) == D(75)


def test_no_goal_with_a_score_means_no_kpi_section():
    assert scoring.kpi_section([], FIVE, 0) is None
    assert scoring.kpi_section([line(100), line(0, 90, counts=False)], FIVE, 0) is None


def test_a_manager_share_of_30_blends_the_managers_score_into_the_attainment():
    # 0.7 x 110 + 0.3 x 50 (a 3 on 1-5) = 92
    assert scoring.goal_score(line(100, 110, manager_score=3), FIVE, 30) == D(92)
    # share 0: the measured attainment alone, whatever the manager scored
    assert scoring.goal_score(line(100, 110, manager_score=3), FIVE, 0) == D(110)
    # share 30 and no manager score: the attainment alone
    assert scoring.goal_score(line(100, 110), FIVE, 30) == D(110)
    # two goals: (60 x 92 + 40 x 0.7 x 80 + 40 x 0.3 x 100) / 100 = (5520 + 3440) / 100
    lines = [line(60, 110, manager_score=3), line(40, 80, manager_score=5)]
    assert scoring.kpi_section(lines, FIVE, 30) == D("89.6")


# --- competencies -------------------------------------------------------------------


def test_it_normalises_ratings_on_a_one_to_five_scale():
    assert [FIVE.normalise(v) for v in FIVE.values] == [D(0), D(25), D(50), D(75), D(100)]
    # weights 2 and 1: (2 x 100 + 1 x 25) / 3 = 75; the unrated one is left out
    assert scoring.competency_section([(2, 5), (1, 2), (5, None)], FIVE) == D(75)


def test_it_normalises_ratings_on_a_zero_to_three_scale_of_four_levels():
    assert ZERO_TO_THREE.normalise(0) == 0
    assert ZERO_TO_THREE.normalise(3) == 100
    assert scoring.rounded(ZERO_TO_THREE.normalise(1)) == D("33.33")
    # (66.66.. + 100) / 2 = 83.33..
    section = scoring.competency_section([(1, 2), (1, 3)], ZERO_TO_THREE)
    assert scoring.rounded(section) == D("83.33")


def test_it_normalises_ratings_on_a_one_to_ten_scale():
    assert ONE_TO_TEN.normalise(1) == 0 and ONE_TO_TEN.normalise(10) == 100
    assert scoring.rounded(ONE_TO_TEN.normalise(7)) == D("66.67")  # 6 x 100 / 9
    # weights 1 and 2: (66.66.. + 2 x 100) / 3 = 88.88..
    section = scoring.competency_section([(1, 7), (2, 10)], ONE_TO_TEN)
    assert scoring.rounded(section) == D("88.89")


def test_a_rating_off_the_scale_is_refused():
    with pytest.raises(ValueError):
        FIVE.normalise(0)
    with pytest.raises(ValueError):
        ZERO_TO_THREE.normalise(4)


# --- overall ------------------------------------------------------------------------


def test_it_applies_the_section_weights():
    # 0.7 x 90 + 0.3 x 60 = 81
    assert scoring.overall(D(90), D(60), kpi_weight=70, competency_weight=30) == D(81)
    # 0.5 x 90 + 0.5 x 60 = 75
    assert scoring.overall(D(90), D(60), kpi_weight=50, competency_weight=50) == D(75)


def test_an_empty_section_hands_its_weight_to_the_other():
    assert scoring.overall(None, D(60), kpi_weight=70, competency_weight=30) == D(60)
    assert scoring.overall(D(90), None, kpi_weight=70, competency_weight=30) == D(90)
    assert scoring.overall(None, None, kpi_weight=70, competency_weight=30) is None


def test_the_whole_score_with_its_level():
    scores = scoring.compute(
        goals=[line(60, 110), line(40, None, manager_score=4)],
        competencies=[(1, 3), (1, 5)],
        scale=FIVE,
        kpi_weight=70,
        competency_weight=30,
        manager_share=0,
    )
    # KPI (60 x 110 + 40 x 75) / 100 = 96; competencies (50 + 100) / 2 = 75;
    # overall 0.7 x 96 + 0.3 x 75 = 89.7, in the band of 3 (80 to 100)
    assert scores == scoring.Scores(
        kpi=D("96.00"), competency=D("75.00"), overall=D("89.70"), level_value=3
    )


def test_a_section_weighted_zero_is_not_computed():
    scores = scoring.compute(
        goals=[line(100, 90)],
        competencies=[(1, 5)],
        scale=FIVE,
        kpi_weight=100,
        competency_weight=0,
        manager_share=0,
    )
    assert (scores.kpi, scores.competency, scores.overall) == (D("90.00"), None, D("90.00"))


def test_it_rounds_half_up_once_at_the_end():
    # competencies on 0-3 rated 0 and 1: (0 + 33.33..) / 2 = 16.66..; KPI 50; 50/50:
    # (50 + 16.66..) / 2 = 33.33..  ->  33.33. Rounding the sections first would give
    # (50 + 16.67) / 2 = 33.335  ->  33.34.
    scores = scoring.compute(
        goals=[line(100, 50)],
        competencies=[(1, 0), (1, 1)],
        scale=ZERO_TO_THREE,
        kpi_weight=50,
        competency_weight=50,
        manager_share=0,
    )
    assert scores.competency == D("16.67")
    assert scores.overall == D("33.33")
    # half-up, not to even: (10.00 + 10.01) / 2 = 10.005  ->  10.01
    halfway = scoring.compute(
        goals=[line(1, "10.00"), line(1, "10.01")],
        competencies=[],
        scale=FIVE,
        kpi_weight=100,
        competency_weight=0,
        manager_share=0,
    )
    assert halfway.kpi == D("10.01") and halfway.overall == D("10.01")
    assert scoring.rounded(D("2.675")) == D("2.68")
    assert scoring.rounded(D("2.665")) == D("2.67")


# --- bands --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "value"),
    [
        ("0", 1),
        ("49.99", 1),
        ("50", 2),  # the boundary belongs to the upper level
        ("79.99", 2),
        ("80.00", 3),
        ("99.99", 3),
        ("100", 4),
        ("110", 5),
        ("120", 5),
    ],
)
def test_a_score_falls_in_the_highest_band_it_reaches(score, value):
    assert FIVE.value_for(D(score)) == value


def test_a_score_below_the_lowest_band_gets_the_lowest_level():
    scale = scoring.Scale(values=(1, 2, 3), bands=(D(40), D(70), D(100)))
    assert scale.value_for(D(10)) == 1
    assert scale.value_for(D(40)) == 1
    assert scale.value_for(D(70)) == 2


def test_without_bands_or_a_score_there_is_no_level():
    assert FIVE.value_for(None) is None
    assert scoring.Scale(values=(1, 2, 3)).value_for(D(50)) is None
    assert scoring.Scale(values=(1, 2), bands=(D(0), None)).value_for(D(50)) is None


def test_the_scale_is_built_from_rating_levels_in_value_order():
    levels = [
        SimpleNamespace(value=3, min_score=D(80)),
        SimpleNamespace(value=1, min_score=D(0)),
        SimpleNamespace(value=2, min_score=D(50)),
    ]
    scale = scoring.Scale.of(levels)
    assert scale.values == (1, 2, 3) and scale.bands == (D(0), D(50), D(80))
    assert scale.has_bands and scale.value_for(D(60)) == 2


def test_steps_between_counts_levels_not_values():
    assert FIVE.steps_between(3, 3) == 0
    assert FIVE.steps_between(3, 4) == 1
    assert FIVE.steps_between(4, 2) == 2
    assert FIVE.steps_between(1, 5) == 4
    gapped = scoring.Scale(values=(0, 5, 10))
    assert gapped.steps_between(0, 10) == 2 and gapped.steps_between(10, 5) == 1


# --- compute_scores on the database ------------------------------------------------


def test_compute_scores_matches_a_hand_computation(
    org, hr_admin, manager, employee, appraisal, cascade, competencies
):
    """Emil has Bookings (weight 60, measured 110) and Mentoring (weight 40, nothing
    measured, the manager scores 4); the manager rates Teamwork 3 and Customer focus 5.

    KPI (60 x 110 + 40 x 75) / 100 = 96; competencies (50 + 100) / 2 = 75;
    overall 0.7 x 96 + 0.3 x 75 = 89.7 -> level 3 (80 to 100)."""
    bookings = cascade.employee_copy
    goal_services.goal_update(
        actor=hr_admin, goal=bookings, data={"weight": D(60)}, expected_version=None
    )
    mentoring = goal_services.goal_create(
        actor=hr_admin,
        cycle=appraisal.cycle,
        level=Goal.Level.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Mentoring", 40),
    )
    record(employee, bookings, 110)
    cycle = at_phase(appraisal.cycle, Cycle.Status.SELF_REVIEW)
    assert set(review_services.appraisal_goals(appraisal)) == {bookings, mentoring}
    review_services.review_save(
        actor=manager,
        review=manager_review(appraisal),
        data={
            "goals": {mentoring.pk: {"score": 4}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 3},
                competencies.customer.pk: {"rating": 5},
            },
        },
        expected_version=1,
    )
    appraisal.refresh_from_db()

    scores = review_services.compute_scores(appraisal)

    assert scores == scoring.Scores(
        kpi=D("96.00"), competency=D("75.00"), overall=D("89.70"), level_value=3
    )
    # the manager's draft rescored the appraisal with the same numbers
    assert (appraisal.kpi_score, appraisal.competency_score, appraisal.overall_score) == (
        D("96.00"),
        D("75.00"),
        D("89.70"),
    )
    assert appraisal.computed_level == RatingLevel.objects.get(scale=cycle.rating_scale, value=3)
    assert manager_review(appraisal).status == Review.Status.DRAFT


def test_compute_scores_leaves_a_cancelled_goal_out(
    org, hr_admin, manager, employee, appraisal, cascade, competencies
):
    """Mentoring is cancelled: Bookings alone carries the KPI section (110)."""
    bookings = cascade.employee_copy
    mentoring = goal_services.goal_create(
        actor=hr_admin,
        cycle=appraisal.cycle,
        level=Goal.Level.PERSONAL,
        owner=org.employee,
        parent=cascade.bookings,
        data=goal_data("Mentoring", 40),
    )
    record(employee, bookings, 110)
    record(employee, mentoring, 80)  # attainment 50, but it will not count
    goal_services.goal_cancel(actor=hr_admin, goal=mentoring, reason="Programme stopped")
    at_phase(appraisal.cycle, Cycle.Status.MANAGER_REVIEW)
    review_services.review_save(
        actor=manager,
        review=manager_review(appraisal),
        data={
            "competencies": {
                competencies.teamwork.pk: {"rating": 1},
                competencies.customer.pk: {"rating": 1},
            }
        },
        expected_version=1,
    )

    scores = review_services.compute_scores(appraisal)

    # 0.7 x 110 + 0.3 x 0 = 77
    assert (scores.kpi, scores.competency, scores.overall) == (D("110.00"), D("0.00"), D("77.00"))
    assert scores.level_value == 2

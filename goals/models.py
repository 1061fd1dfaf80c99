"""The cascade from strategy to personal goals, and the progress recorded against it.

A :class:`Goal` sits at one of four levels: a company objective (owned by the company),
a department goal, a position KPI, or a person's goal. Every goal below company level
serves a goal one level up in the same cycle (``parent``). Measurable goals carry a KPI
definition; milestone goals are measured in percent complete. :class:`CheckIn` rows
record progress; the latest one is copied onto the goal, with the attainment computed
from it (``goals.kpi``) and the progress rolled up from the goals below
(``goals.services``), so lists and the alignment tree read stored numbers.

Writes go through ``goals.services``; access is decided in ``perfcycle.access``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from perfcycle.models import Cycle, Department, Employee, Position

# Goal numbers: up to 12 digits before the point and 4 after (revenue in yuan, defect
# rates in percent, days in a cycle time all fit).
NUMBER = {"max_digits": 16, "decimal_places": 4}
PERCENT = {"max_digits": 7, "decimal_places": 2}


class Goal(models.Model):
    class Level(models.TextChoices):
        COMPANY = "company", _("Company objective")
        DEPARTMENT = "department", _("Department goal")
        POSITION = "position", _("Position KPI")
        PERSONAL = "personal", _("Personal goal")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PROPOSED = "proposed", _("Proposed")
        APPROVED = "approved", _("Approved")
        ACTIVE = "active", pgettext_lazy("goal status", "Active")
        ACHIEVED = "achieved", _("Achieved")
        MISSED = "missed", _("Missed")
        CANCELLED = "cancelled", _("Cancelled")

    class Kind(models.TextChoices):
        KPI = "kpi", _("Measured against a target (KPI)")
        MILESTONE = "milestone", _("Milestone (percent complete)")

    class Direction(models.TextChoices):
        HIGHER = "higher", _("Higher is better")
        LOWER = "lower", _("Lower is better")
        RANGE = "range", _("Within a range")

    # Statuses whose weights count towards the owner's 100.
    COUNTED = (Status.APPROVED, Status.ACTIVE, Status.ACHIEVED, Status.MISSED)
    # Statuses in which progress may be recorded.
    TRACKED = (Status.APPROVED, Status.ACTIVE)
    # The owner field each level uses (company objectives belong to the company).
    OWNER_FIELD = {
        Level.COMPANY: None,
        Level.DEPARTMENT: "department",
        Level.POSITION: "position",
        Level.PERSONAL: "employee",
    }
    PARENT_LEVEL = {
        Level.DEPARTMENT: Level.COMPANY,
        Level.POSITION: Level.DEPARTMENT,
        Level.PERSONAL: Level.POSITION,
    }
    # Fields a personal copy takes from its position KPI (and a push updates).
    COPIED_FIELDS = (
        "title",
        "description",
        "weight",
        "due_date",
        "kind",
        "unit",
        "direction",
        "baseline",
        "threshold",
        "target",
        "stretch",
        "range_low",
        "range_high",
        "tolerance",
    )
    KPI_FIELDS = (
        "kind",
        "unit",
        "direction",
        "baseline",
        "threshold",
        "target",
        "stretch",
        "range_low",
        "range_high",
        "tolerance",
    )

    cycle = models.ForeignKey(
        Cycle, verbose_name=_("cycle"), on_delete=models.PROTECT, related_name="goals"
    )
    level = models.CharField(_("level"), max_length=12, choices=Level.choices)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="goals",
    )
    position = models.ForeignKey(
        Position,
        verbose_name=_("position"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="goals",
    )
    employee = models.ForeignKey(
        Employee,
        verbose_name=_("employee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="goals",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("serves"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text=_("The goal one level up that this goal contributes to."),
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    # Company objectives are traced to the strategy or annual business plan.
    strategy_ref = models.CharField(
        _("strategy line"),
        max_length=300,
        blank=True,
        help_text=_("The line of the strategy or annual business plan this objective delivers."),
    )
    strategy_url = models.URLField(_("strategy link"), max_length=500, blank=True)
    weight = models.DecimalField(
        _("weight"),
        **PERCENT,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Share of the owner's goals, in percent; an owner's goals total 100."),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    previous = models.ForeignKey(
        "self",
        verbose_name=_("continues"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="continued_by",
        help_text=_("The same goal in the previous cycle, when this one continues it."),
    )
    target_reason = models.TextField(
        _("reason the target is not higher"),
        blank=True,
        help_text=_(
            "Needed when the target does not exceed last period's, for example after a "
            "change in the market."
        ),
    )
    # A personal copy of a position KPI keeps its source, so later changes can be pushed
    # to the copies nobody adjusted.
    source = models.ForeignKey(
        "self",
        verbose_name=_("copied from"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="copies",
    )
    adjusted = models.BooleanField(
        _("adjusted"), default=False, help_text=_("The copy was changed from its position KPI.")
    )

    # --- the KPI definition ---
    kind = models.CharField(_("measured as"), max_length=12, choices=Kind.choices)
    unit = models.CharField(_("unit"), max_length=40, blank=True)
    direction = models.CharField(
        _("direction"), max_length=8, choices=Direction.choices, blank=True
    )
    baseline = models.DecimalField(_("baseline"), **NUMBER, null=True, blank=True)
    threshold = models.DecimalField(
        _("threshold"),
        **NUMBER,
        null=True,
        blank=True,
        help_text=_("The lowest result that still counts: it scores the passing score."),
    )
    target = models.DecimalField(
        _("target"), **NUMBER, null=True, blank=True, help_text=_("The result that scores 100%.")
    )
    stretch = models.DecimalField(
        _("stretch"),
        **NUMBER,
        null=True,
        blank=True,
        help_text=_("The result that earns the cap; beyond it the score stays at the cap."),
    )
    range_low = models.DecimalField(_("lower bound"), **NUMBER, null=True, blank=True)
    range_high = models.DecimalField(_("upper bound"), **NUMBER, null=True, blank=True)
    tolerance = models.DecimalField(
        _("tolerance"),
        **NUMBER,
        null=True,
        blank=True,
        help_text=_(
            "How far outside the range a result may fall and still pass; at that distance "
            "it scores the passing score."
        ),
    )

    # --- the latest check-in and what follows from it (written by the services) ---
    last_actual = models.DecimalField(_("latest actual"), **NUMBER, null=True, blank=True)
    last_percent = models.DecimalField(
        _("latest percent complete"), **PERCENT, null=True, blank=True
    )
    last_confidence = models.CharField(_("latest confidence"), max_length=10, blank=True)
    last_checkin_at = models.DateTimeField(_("latest check-in"), null=True, blank=True)
    attainment = models.DecimalField(
        _("attainment"),
        **PERCENT,
        null=True,
        blank=True,
        help_text=_("Computed from the latest check-in: 100 means on target."),
    )
    progress = models.DecimalField(
        _("progress"),
        **PERCENT,
        null=True,
        blank=True,
        help_text=_("Own attainment, or the weighted progress of the goals that serve it."),
    )

    review_comment = models.TextField(_("manager's comment"), blank=True)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    reopened_reason = models.TextField(_("reason for reopening"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(
        excluded_fields=[
            "version",
            "last_actual",
            "last_percent",
            "last_confidence",
            "last_checkin_at",
            "attainment",
            "progress",
        ]
    )

    class Meta:
        verbose_name = _("goal")
        verbose_name_plural = _("goals")
        ordering = ["cycle", "level", "-weight", "title"]
        indexes = [
            # With the owner and the weight, the weight totals of a whole cycle (coverage,
            # goal setting's close) are read from the index alone, not the wide table.
            models.Index(
                fields=["cycle", "level", "status", "employee"],
                include=["weight"],
                name="goal_cycle_level_status",
            ),
            models.Index(fields=["cycle", "employee"], name="goal_cycle_employee"),
            # The company objectives, which everyone reads: a handful among every goal.
            models.Index(
                fields=["cycle"], condition=Q(level="company"), name="goal_company_objectives"
            ),
            # The proposals waiting for a decision: few among every goal.
            models.Index(fields=["cycle"], condition=Q(status="proposed"), name="goal_proposals"),
            models.Index(fields=["cycle", "position"], name="goal_cycle_position"),
            models.Index(fields=["cycle", "department"], name="goal_cycle_department"),
        ]
        constraints = [
            models.CheckConstraint(
                name="goal_owner_matches_level",
                condition=(
                    Q(
                        level="company",
                        department__isnull=True,
                        position__isnull=True,
                        employee__isnull=True,
                    )
                    | Q(
                        level="department",
                        department__isnull=False,
                        position__isnull=True,
                        employee__isnull=True,
                    )
                    | Q(
                        level="position",
                        department__isnull=True,
                        position__isnull=False,
                        employee__isnull=True,
                    )
                    | Q(
                        level="personal",
                        department__isnull=True,
                        position__isnull=True,
                        employee__isnull=False,
                    )
                ),
            ),
            models.CheckConstraint(
                name="goal_company_has_no_parent",
                condition=~Q(level="company") | Q(parent__isnull=True),
            ),
            models.CheckConstraint(name="goal_not_own_parent", condition=~Q(parent=models.F("pk"))),
            models.CheckConstraint(
                name="goal_weight_0_to_100", condition=Q(weight__gte=0, weight__lte=100)
            ),
            # One personal copy of a position KPI per person.
            models.UniqueConstraint(
                fields=["source", "employee"],
                condition=Q(source__isnull=False),
                name="goal_one_copy_per_person",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def owner(self):
        field = self.OWNER_FIELD[self.level]
        return getattr(self, field) if field else None

    @property
    def owner_name(self) -> str:
        if self.level == self.Level.COMPANY:
            return str(_("The company"))
        if self.level == self.Level.DEPARTMENT:
            return self.department.name
        if self.level == self.Level.POSITION:
            return self.position.title
        return self.employee.user.full_name

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def is_measured(self) -> bool:
        return self.kind == self.Kind.KPI


class CheckIn(models.Model):
    """Progress on a goal: the measured actual (or percent complete), and how sure the
    owner is that the goal will be met."""

    class Confidence(models.TextChoices):
        ON_TRACK = "on_track", _("On track")
        AT_RISK = "at_risk", _("At risk")
        OFF_TRACK = "off_track", _("Off track")

    AT_RISK = (Confidence.AT_RISK, Confidence.OFF_TRACK)

    goal = models.ForeignKey(
        Goal, verbose_name=_("goal"), on_delete=models.CASCADE, related_name="checkins"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)
    actual = models.DecimalField(_("actual"), **NUMBER, null=True, blank=True)
    percent_complete = models.DecimalField(
        _("percent complete"),
        **PERCENT,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    confidence = models.CharField(_("confidence"), max_length=10, choices=Confidence.choices)
    comment = models.TextField(_("comment"), blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("check-in")
        verbose_name_plural = _("check-ins")
        ordering = ["goal", "-recorded_at", "-pk"]
        indexes = [
            models.Index(fields=["goal", "-recorded_at"], name="checkin_goal_latest"),
        ]
        constraints = [
            models.CheckConstraint(
                name="checkin_measures_something",
                condition=Q(actual__isnull=False) | Q(percent_complete__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.goal}: {self.recorded_at:%Y-%m-%d}"

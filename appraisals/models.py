"""Appraisals: one per employee per cycle, its two reviews, the scores computed from
them, calibration and the employee's answer after release.

* :class:`CycleSettings` holds what HR decides for a cycle's appraisals (section
  weights, competencies, eligibility, the calibration guideline, second-level approval,
  the appeal window); a new cycle starts from a copy of an earlier one's.
* :class:`CycleLaunch` logs each launch (a Celery task) with its progress and the people
  it left out, and why.
* :class:`Appraisal` carries the stage, the reviewer, the computed scores, the ratings
  (computed proposal, the manager's, the calibrated, the final) and the release.
* :class:`Review` is the self-review or the manager review, with a line per goal
  (:class:`ReviewGoal`) and per competency (:class:`ReviewCompetency`).
* :class:`CalibrationSession` and :class:`CalibrationAdjustment` record who moved whom,
  from which level to which, and why. Panel members hold an object permission.
* :class:`Appeal` is the employee's appeal and HR's recorded outcome.

Scores are computed in ``appraisals.scoring``; writes go through ``appraisals.services``;
access is decided in ``perfcycle.access``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

from perfcycle.models import Cycle, Department, Employee, RatingLevel

SCORE = {"max_digits": 6, "decimal_places": 2, "null": True, "blank": True}
PERCENT_FIELD = [MinValueValidator(0), MaxValueValidator(100)]


class Competency(models.Model):
    """A behaviour rated in appraisals (e.g. "Customer focus"), from a shared library."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("competency")
        verbose_name_plural = _("competencies")
        ordering = ["name"]

    def __str__(self):
        return self.name


class CycleSettings(models.Model):
    """What a cycle's appraisals are made of; copied from an earlier cycle to start."""

    cycle = models.OneToOneField(
        Cycle, verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="appraisal_settings"
    )
    kpi_weight = models.PositiveSmallIntegerField(
        _("weight of KPI results"),
        default=70,
        validators=PERCENT_FIELD,
        help_text=_("Percent of the overall score; with the competencies' weight, 100."),
    )
    competency_weight = models.PositiveSmallIntegerField(
        _("weight of competencies"), default=30, validators=PERCENT_FIELD
    )
    manager_goal_share = models.PositiveSmallIntegerField(
        _("manager's share of each goal's score"),
        default=0,
        validators=PERCENT_FIELD,
        help_text=_(
            "0: goals are scored on measured attainment alone (the manager's score is used "
            "only where nothing was measured). 30: 70% measured, 30% the manager's score."
        ),
    )
    hired_before = models.DateField(
        _("hired on or before"),
        null=True,
        blank=True,
        help_text=_("People hired after this date are not appraised in this cycle."),
    )
    departments = models.ManyToManyField(
        Department,
        verbose_name=_("departments included"),
        blank=True,
        related_name="+",
        help_text=_("With their sub-departments. None chosen: the whole organisation."),
    )
    # {"<level value>": percent}; the percents total 100.
    guideline = models.JSONField(_("guideline distribution"), default=dict, blank=True)
    guideline_tolerance = models.PositiveSmallIntegerField(
        _("guideline tolerance"),
        default=5,
        validators=PERCENT_FIELD,
        help_text=_("Percentage points a level may be over or under its guideline share."),
    )
    second_level_approval = models.BooleanField(
        _("second-level approval"),
        default=False,
        help_text=_("The reviewer's manager approves each manager review before calibration."),
    )
    appeal_days = models.PositiveSmallIntegerField(
        _("days to appeal"),
        default=14,
        validators=[MaxValueValidator(365)],
        help_text=_("How long after release an employee may appeal their result."),
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("appraisal settings")
        verbose_name_plural = _("appraisal settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(kpi_weight=100 - models.F("competency_weight")),
                name="settings_section_weights_total_100",
            ),
        ]

    def __str__(self):
        return str(self.cycle)


class CycleCompetency(models.Model):
    """A competency rated in a cycle, with its weight among the cycle's competencies."""

    cycle = models.ForeignKey(
        Cycle, verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="competencies"
    )
    competency = models.ForeignKey(
        Competency, verbose_name=_("competency"), on_delete=models.PROTECT, related_name="+"
    )
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("cycle competency")
        verbose_name_plural = _("cycle competencies")
        ordering = ["cycle", "order", "competency__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "competency"], name="competency_once_per_cycle"
            ),
        ]

    def __str__(self):
        return f"{self.competency} ×{self.weight}"


class CycleLaunch(models.Model):
    """One launch of a cycle: creating the appraisals, in the background."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    cycle = models.ForeignKey(
        Cycle, verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="launches"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("launched by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("launched at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(
        _("progress"), default=0, validators=[MaxValueValidator(100)]
    )
    eligible = models.PositiveIntegerField(_("eligible"), default=0)
    created = models.PositiveIntegerField(_("appraisals created"), default=0)
    existing = models.PositiveIntegerField(_("already had one"), default=0)
    # [{"employee": id, "name": ..., "number": ..., "reason": ...}] for people in scope
    # left out (hired after the cut-off, no position...), and counts for whole groups.
    excluded = models.JSONField(_("excluded"), default=list, blank=True)
    excluded_counts = models.JSONField(_("excluded, counted"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("cycle launch")
        verbose_name_plural = _("cycle launches")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.cycle} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class PacketBatch(models.Model):
    """PDF review packets of a department (with its subtree) or a whole cycle, rendered
    in the background, in chunks, into one ZIP for the person who asked
    (``appraisals.services.packets``).

    ``file`` is set only once the ZIP is complete: a worker that dies half-way leaves
    nothing offered for download, and the batch is finished when the task is redelivered.
    The ZIP lies under MEDIA_ROOT, which is never served: it is downloaded through a view
    that checks access."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        # Done, and its ZIP deleted after PACKET_RETENTION_DAYS.
        EXPIRED = "expired", _("Expired")

    cycle = models.ForeignKey(
        Cycle, verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="packet_batches"
    )
    # None: the whole cycle.
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(
        _("progress"), default=0, validators=[MaxValueValidator(100)]
    )
    total = models.PositiveIntegerField(_("packets"), default=0)
    rendered = models.PositiveIntegerField(_("packets rendered"), default=0)
    # [{"appraisal": id, "name": ..., "error": ...}] for packets that could not be made.
    failed = models.JSONField(_("failed packets"), default=list, blank=True)
    error = models.TextField(_("error"), blank=True)
    file = models.FileField(_("ZIP file"), upload_to="packets/", blank=True)
    # Rendered in chunks (``PacketChunk``) by any number of workers; the chunk that
    # brings ``chunks_done`` up to ``chunk_count`` queues the ZIP, built once
    # (``zip_started_at`` claims it).
    chunk_count = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    zip_started_at = models.DateTimeField(_("ZIP started at"), null=True, blank=True)

    class Meta:
        verbose_name = _("packet batch")
        verbose_name_plural = _("packet batches")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.cycle} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.EXPIRED)


class PacketChunk(models.Model):
    """Some of a batch's packets (at most ``PACKET_CHUNK_SIZE``), rendered by one task
    into the batch's working directory; what it made is listed in ``files`` for the ZIP.

    The appraisals are fixed when the batch is planned, so the chunks cover each packet
    once whatever changes meanwhile. A chunk is claimed by a conditional update; one whose
    worker died is claimed again by its redelivered task and rendered again (its files
    are overwritten, never added twice)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")

    batch = models.ForeignKey(
        PacketBatch, verbose_name=_("batch"), on_delete=models.CASCADE, related_name="chunks"
    )
    index = models.PositiveIntegerField(_("index"))
    appraisals = models.JSONField(_("appraisals"), default=list)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    processed = models.PositiveIntegerField(_("packets processed"), default=0)
    rendered = models.PositiveIntegerField(_("packets rendered"), default=0)
    failed = models.JSONField(_("failed packets"), default=list, blank=True)
    # [[appraisal id, name in the ZIP], ...] in the batch's order.
    files = models.JSONField(_("files"), default=list, blank=True)

    class Meta:
        verbose_name = _("packet chunk")
        verbose_name_plural = _("packet chunks")
        ordering = ["batch", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="packet_chunk_unique_index")
        ]

    def __str__(self):
        return f"{self.batch_id}/{self.index}"


class CalibrationSession(models.Model):
    """A panel calibrating the ratings of a set of departments."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    cycle = models.ForeignKey(
        Cycle,
        verbose_name=_("cycle"),
        on_delete=models.PROTECT,
        related_name="calibration_sessions",
    )
    name = models.CharField(_("name"), max_length=120)
    departments = models.ManyToManyField(
        Department,
        verbose_name=_("departments"),
        related_name="+",
        help_text=_("With their sub-departments."),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.OPEN
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("opened at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("calibration session")
        verbose_name_plural = _("calibration sessions")
        ordering = ["-created_at"]
        permissions = [
            ("calibrate_session", _("Takes part in the calibration session")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "name"], name="calibration_session_name_unique"
            ),
        ]

    def __str__(self):
        return self.name


class CalibrationSessionUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(CalibrationSession, on_delete=models.CASCADE)


class CalibrationSessionGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(CalibrationSession, on_delete=models.CASCADE)


class Appraisal(models.Model):
    """One employee's appraisal in one cycle."""

    class Stage(models.TextChoices):
        SELF_REVIEW = "self_review", _("Self-review")
        MANAGER_REVIEW = "manager_review", _("Manager review")
        APPROVAL = "approval", _("Second-level approval")
        READY = "ready", _("Ready for calibration")
        FINAL = "final", _("Final")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    cycle = models.ForeignKey(
        Cycle, verbose_name=_("cycle"), on_delete=models.PROTECT, related_name="appraisals"
    )
    employee = models.ForeignKey(
        Employee, verbose_name=_("employee"), on_delete=models.PROTECT, related_name="appraisals"
    )
    # Where the person sat at launch: results are reported by it even after a move.
    department = models.ForeignKey(
        Department, verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        Employee,
        verbose_name=_("reviewer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appraisals_to_review",
    )
    # Set when HR assigns the reviewer: then the reviewer need not be in the reporting
    # line (the reporting line decides only the reviewer taken at launch).
    reviewer_assigned = models.BooleanField(_("reviewer assigned by HR"), default=False)
    stage = models.CharField(
        _("stage"), max_length=16, choices=Stage.choices, default=Stage.SELF_REVIEW
    )
    session = models.ForeignKey(
        CalibrationSession,
        verbose_name=_("calibration session"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="appraisals",
    )
    # Computed (appraisals.scoring), never typed.
    kpi_score = models.DecimalField(_("KPI score"), **SCORE)
    competency_score = models.DecimalField(_("competency score"), **SCORE)
    overall_score = models.DecimalField(_("overall score"), **SCORE)
    computed_level = models.ForeignKey(
        RatingLevel,
        verbose_name=_("rating from the score"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    manager_level = models.ForeignKey(
        RatingLevel,
        verbose_name=_("manager's proposed rating"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    calibrated_level = models.ForeignKey(
        RatingLevel,
        verbose_name=_("calibrated rating"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    final_level = models.ForeignKey(
        RatingLevel,
        verbose_name=_("final rating"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    finalised_at = models.DateTimeField(_("finalised at"), null=True, blank=True)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    employee_comment = models.TextField(_("employee's comment"), blank=True)
    withdrawn_reason = models.TextField(_("reason withdrawn"), blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("appraisal")
        verbose_name_plural = _("appraisals")
        ordering = ["cycle", "employee__employee_number"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "employee"], name="one_appraisal_per_cycle"),
        ]
        indexes = [
            models.Index(fields=["cycle", "stage"], name="appraisal_cycle_stage"),
            models.Index(fields=["cycle", "department"], name="appraisal_cycle_department"),
            models.Index(fields=["cycle", "reviewer"], name="appraisal_cycle_reviewer"),
        ]

    def __str__(self):
        return f"{self.cycle}: {self.employee}"

    @property
    def current_level(self) -> RatingLevel | None:
        """The rating as it stands: final, else calibrated, else the manager's proposal."""
        return self.final_level or self.calibrated_level or self.manager_level


class Review(models.Model):
    """The self-review or the manager review of an appraisal."""

    class Kind(models.TextChoices):
        SELF = "self", _("Self-review")
        MANAGER = "manager", _("Manager review")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        RETURNED = "returned", _("Returned")

    appraisal = models.ForeignKey(
        Appraisal, verbose_name=_("appraisal"), on_delete=models.CASCADE, related_name="reviews"
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    overall_comment = models.TextField(_("overall comments"), blank=True)
    strengths = models.TextField(_("strengths"), blank=True)
    improvements = models.TextField(_("areas to improve"), blank=True)
    proposed_level = models.ForeignKey(
        RatingLevel,
        verbose_name=_("proposed rating"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    deviation_reason = models.TextField(
        _("reason for a rating other than the score's"),
        blank=True,
        help_text=_("Needed when the proposed rating is not the one the score gives."),
    )
    return_comment = models.TextField(_("returned with the comment"), blank=True)
    last_edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("last edited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField(_("last saved"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["appraisal", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["appraisal", "kind"], name="one_review_per_kind"),
        ]
        indexes = [
            # The cycle dashboard counts and lists appraisals by whether their review of a
            # kind is submitted: those reviews are read from here, not from a scan.
            models.Index(fields=["kind", "status", "appraisal"], name="review_kind_status"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.appraisal.employee}"

    @property
    def editable_status(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.RETURNED)


class ReviewGoal(models.Model):
    """A review's line for one goal: the result, a score on the rating scale, a comment."""

    review = models.ForeignKey(
        Review, verbose_name=_("review"), on_delete=models.CASCADE, related_name="goal_lines"
    )
    goal = models.ForeignKey(
        "goals.Goal", verbose_name=_("goal"), on_delete=models.PROTECT, related_name="+"
    )
    result = models.TextField(_("result achieved"), blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("review of a goal")
        verbose_name_plural = _("reviews of goals")
        ordering = ["review", "goal"]
        constraints = [
            models.UniqueConstraint(fields=["review", "goal"], name="one_line_per_goal"),
        ]

    def __str__(self):
        return f"{self.review}: {self.goal_id}"


class ReviewCompetency(models.Model):
    """A review's rating of one competency, on the cycle's rating scale."""

    review = models.ForeignKey(
        Review,
        verbose_name=_("review"),
        on_delete=models.CASCADE,
        related_name="competency_lines",
    )
    competency = models.ForeignKey(
        Competency, verbose_name=_("competency"), on_delete=models.PROTECT, related_name="+"
    )
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("competency rating")
        verbose_name_plural = _("competency ratings")
        ordering = ["review", "competency"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "competency"], name="one_line_per_competency"
            ),
        ]

    def __str__(self):
        return f"{self.review}: {self.competency}"


class CalibrationAdjustment(models.Model):
    """A move of one person's rating in a calibration session: who, from, to, why."""

    session = models.ForeignKey(
        CalibrationSession,
        verbose_name=_("session"),
        on_delete=models.CASCADE,
        related_name="adjustments",
    )
    appraisal = models.ForeignKey(
        Appraisal,
        verbose_name=_("appraisal"),
        on_delete=models.CASCADE,
        related_name="adjustments",
    )
    from_level = models.ForeignKey(
        RatingLevel,
        verbose_name=_("from"),
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_level = models.ForeignKey(
        RatingLevel, verbose_name=_("to"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("reason"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moved by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("moved at"), default=timezone.now)

    class Meta:
        verbose_name = _("calibration adjustment")
        verbose_name_plural = _("calibration adjustments")
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.appraisal}: {self.from_level} → {self.to_level}"


class Appeal(models.Model):
    """An employee's appeal against a released result, and HR's outcome."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld: rating changed")
        DISMISSED = "dismissed", _("Dismissed: rating stands")

    appraisal = models.ForeignKey(
        Appraisal, verbose_name=_("appraisal"), on_delete=models.CASCADE, related_name="appeals"
    )
    reason = models.TextField(_("grounds for the appeal"))
    filed_at = models.DateTimeField(_("filed at"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    outcome = models.TextField(_("outcome"), blank=True)
    new_level = models.ForeignKey(
        RatingLevel,
        verbose_name=_("new rating"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-filed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["appraisal"],
                condition=Q(status="open"),
                name="one_open_appeal_per_appraisal",
            ),
        ]

    def __str__(self):
        return f"{self.appraisal}: {self.get_status_display()}"

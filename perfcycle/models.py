"""The core every app stands on: users, the organisation, cycles and rating scales.

Models hold data and invariants that the database can enforce. Every write goes through
a service in ``perfcycle.services``; who may see or change what is decided in
``perfcycle.access`` only.
"""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from simple_history.models import HistoricalRecords

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    _("Use letters, digits, dot, dash or underscore, starting with a letter or digit."),
)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def normalize_email(self, email):
        # E-mail is the login: compare it case-insensitively everywhere.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username):
        return self.get(email__iexact=(username or "").strip())

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in, with their e-mail address."""

    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Leave empty to follow your browser's language."),
    )
    # Daily digests only: deadline notices are sent whatever this says.
    digests = models.BooleanField(_("Send me daily digests"), default=True)
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("May log into the Django admin."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()
    # Name, e-mail, language and activation changes are audited; secrets are not copied.
    history = HistoricalRecords(excluded_fields=["password", "last_login"])

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["full_name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]
        # Lists of people are ordered by name: the first page is read off this index.
        indexes = [models.Index(fields=["full_name", "id"], name="user_full_name")]

    def __str__(self):
        return self.full_name or self.email

    def get_full_name(self):
        return self.full_name

    def get_short_name(self):
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Department(models.Model):
    """A node of the organisation tree."""

    code = models.CharField(_("code"), max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    head = models.ForeignKey(
        "Employee",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["name"]
        permissions = [
            ("partner_department", _("Acts as HR business partner for the department")),
        ]
        # Reports list people by department name: the first rows are read off this index.
        indexes = [models.Index(fields=["name", "id"], name="department_name")]

    def __str__(self):
        return f"{self.name} ({self.code})"


class DepartmentUserObjectPermission(UserObjectPermissionBase):
    """Explicit per-user grants on a department (direct foreign key, not generic)."""

    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)


class DepartmentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)


class Position(models.Model):
    """A job in a department; the key performance indicators attach here."""

    title = models.CharField(_("title"), max_length=200)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="positions",
    )
    grade = models.CharField(_("grade"), max_length=20, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["department__name", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "title"], name="position_title_unique_in_department"
            ),
        ]

    def __str__(self):
        return self.title


class Employee(models.Model):
    """A person's place in the organisation; ``manager`` is the reporting line."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="employee",
    )
    employee_number = models.CharField(
        _("employee number"), max_length=32, unique=True, validators=[code_validator]
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        on_delete=models.PROTECT,
        related_name="employees",
    )
    position = models.ForeignKey(
        Position,
        verbose_name=_("position"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="holders",
    )
    manager = models.ForeignKey(
        "self",
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
    )
    hire_date = models.DateField(_("hire date"))
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("employee")
        verbose_name_plural = _("employees")
        ordering = ["employee_number"]
        indexes = [
            models.Index(fields=["department", "is_active"], name="employee_dept_active"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(manager=models.F("pk")), name="employee_not_own_manager"
            ),
        ]

    def __str__(self):
        return f"{self.user.full_name} ({self.employee_number})"

    @property
    def name(self) -> str:
        return self.user.full_name


class RatingScale(models.Model):
    """The levels a rating may take, e.g. 1 to 5 with a label and description each."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("rating scale")
        verbose_name_plural = _("rating scales")
        ordering = ["name"]

    def __str__(self):
        return self.name


class RatingLevel(models.Model):
    scale = models.ForeignKey(
        RatingScale, verbose_name=_("scale"), on_delete=models.CASCADE, related_name="levels"
    )
    value = models.PositiveSmallIntegerField(_("value"))
    label = models.CharField(_("label"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    # The score band: an overall score at or above this (and below the next level's)
    # proposes this level. The lowest level's band starts at 0.
    min_score = models.DecimalField(
        _("lowest score for this level"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Overall scores from this value up to the next level's propose this level."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("rating level")
        verbose_name_plural = _("rating levels")
        ordering = ["scale", "value"]
        constraints = [
            models.UniqueConstraint(fields=["scale", "value"], name="rating_level_value_unique"),
            models.UniqueConstraint(fields=["scale", "label"], name="rating_level_label_unique"),
        ]

    def __str__(self):
        return f"{self.value} – {self.label}"


class Cycle(models.Model):
    """One performance period, moving through the phases in order."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        GOAL_SETTING = "goal_setting", _("Goal setting")
        IN_PROGRESS = "in_progress", _("In progress (coaching)")
        SELF_REVIEW = "self_review", _("Self-review")
        MANAGER_REVIEW = "manager_review", _("Manager review")
        CALIBRATION = "calibration", _("Calibration")
        FEEDBACK = "feedback", _("Feedback")
        CLOSED = "closed", _("Closed")

    name = models.CharField(_("name"), max_length=100, unique=True)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    rating_scale = models.ForeignKey(
        RatingScale, verbose_name=_("rating scale"), on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    history = HistoricalRecords(excluded_fields=["version"])

    class Meta:
        verbose_name = _("cycle")
        verbose_name_plural = _("cycles")
        ordering = ["-period_start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="cycle_period_ends_after_start",
            ),
        ]

    def __str__(self):
        return self.name


# The phases that carry a deadline: every status between draft and closed.
DEADLINE_PHASES = [s for s in Cycle.Status if s not in (Cycle.Status.DRAFT, Cycle.Status.CLOSED)]


class CycleDeadline(models.Model):
    cycle = models.ForeignKey(
        Cycle, verbose_name=_("cycle"), on_delete=models.CASCADE, related_name="deadlines"
    )
    phase = models.CharField(
        _("phase"), max_length=20, choices=[(p.value, p.label) for p in DEADLINE_PHASES]
    )
    due_on = models.DateField(_("due on"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("phase deadline")
        verbose_name_plural = _("phase deadlines")
        ordering = ["cycle", "due_on"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "phase"], name="one_deadline_per_phase"),
        ]

    def __str__(self):
        return f"{self.cycle}: {self.get_phase_display()} {self.due_on}"


class OrgImport(models.Model):
    """One upload of the organisation CSV: who, when, which file, and what it did."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Rejected")

    FINISHED = (Status.APPLIED, Status.REJECTED)

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("imported at"), default=timezone.now)
    filename = models.CharField(_("file name"), max_length=255)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    deactivated = models.PositiveIntegerField(_("deactivated"), default=0)
    departments_created = models.PositiveIntegerField(_("departments created"), default=0)
    departments_updated = models.PositiveIntegerField(_("departments updated"), default=0)
    positions_created = models.PositiveIntegerField(_("positions created"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    progress = models.PositiveSmallIntegerField(
        _("progress"), default=0, validators=[MaxValueValidator(100)]
    )
    deactivate_missing = models.BooleanField(
        _("deactivate people missing from the file"), default=False
    )
    # The uploaded CSV text while the import waits to run; emptied once it has run, so
    # personal data is not kept longer than needed.
    source = models.TextField(_("file contents"), blank=True, default="")

    class Meta:
        verbose_name = _("organisation import")
        verbose_name_plural = _("organisation imports")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.filename} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED


class Notification(models.Model):
    """One notice to one person: shown in their inbox and sent to them by e-mail.

    ``key`` is the idempotency ledger: one row per event, object, recipient and day (or
    ``once``), so a retried or repeated call writes (and sends) nothing twice. ``batch``
    marks the rows one ``notify()`` call inserted; ``claim``/``claimed_at`` mark the rows
    one send is working on. A row with ``emailed_at`` empty is in the outbox.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    event = models.CharField(_("event"), max_length=64)
    key = models.CharField(_("key"), max_length=255, unique=True)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    # Why the e-mail was never delivered (an address the mail server refuses); the notice
    # stays in the inbox and leaves the outbox.
    email_error = models.CharField(_("e-mail error"), max_length=300, blank=True)
    batch = models.CharField(max_length=32, blank=True, editable=False)
    claim = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            models.Index(fields=["batch"], name="notification_batch"),
            # The outbox: only rows not yet e-mailed, oldest first.
            models.Index(
                fields=["created_at"],
                condition=models.Q(emailed_at__isnull=True),
                name="notification_outbox",
            ),
        ]

    def __str__(self):
        return f"{self.recipient}: {self.title}"

    @property
    def unread(self) -> bool:
        return self.read_at is None

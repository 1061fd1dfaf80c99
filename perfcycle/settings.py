"""Settings for perfcycle, driven by environment variables.

With nothing set the app runs as a self-contained demo: a SQLite file, Celery tasks run
inline, e-mail printed to the console and DEBUG on. Production sets at least
``DEBUG=0``, ``SECRET_KEY``, ``ALLOWED_HOSTS``, ``DATABASE_URL`` and ``REDIS_URL``; the
security settings below then switch on and ``manage.py check --deploy`` passes.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str(
        "SECRET_KEY", default="django-insecure-demo-only-key-never-use-in-production"
    )
else:
    # No default: production must not start with a guessable key.
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "guardian",
    "simple_history",
    "axes",
    "django_htmx",
    "template_partials",
    "perfcycle",
    "goals",
    "appraisals",
    "feedback",
    "talent",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "perfcycle.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Axes must be last: it turns a lockout raised by the backend into its response.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Production serves collected static files itself; the demo uses runserver's finder.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "perfcycle.urls"
WSGI_APPLICATION = "perfcycle.wsgi.application"
ASGI_APPLICATION = "perfcycle.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "perfcycle.context_processors.shell",
            ],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No JIT compilation: PostgreSQL compiles a query whose estimated cost is high, and for
    # the grouped queries of a page that takes longer than running them (the cycle
    # dashboard at 50,000 people: 1.7 s with JIT, 0.8 s without; see bench/).
    # Reports group and sort every appraisal or goal of a cycle: with the default 4 MB
    # of working memory, at 50,000 people those spill to disk (the coverage page's
    # weight totals, the dashboard's sorts). PG_WORK_MEM overrides it.
    work_mem = env.str("PG_WORK_MEM", default="32MB")
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off -c work_mem={work_mem}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "perfcycle.User"
AUTHENTICATION_BACKENDS = [
    # Axes first so a locked-out attempt never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-guardian holds only explicit grants (HR business partners, extra reviewers,
# calibration panels); the reporting line is derived by query in perfcycle.access.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# Login throttling: lock out a username *from one address*, so a shared office address
# is not locked out by one person mistyping, and one account is not locked everywhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "perfcycle" / "locale"]
USE_I18N = True
USE_TZ = True
# Stored in UTC, shown in the company's time zone.
TIME_ZONE = env.str("COMPANY_TIME_ZONE", default="UTC")
COMPANY_NAME = env.str("COMPANY_NAME", default="Example Corporation")
# Where people reach the app: links in e-mails (sent from workers, outside any request).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"
# How long a batch of PDF review packets stays downloadable (they hold personal data).
PACKET_RETENTION_DAYS = env.int("PACKET_RETENTION_DAYS", default=7)
# A batch is rendered in chunks of this many packets, one task each, by as many workers
# as consume "pdf": ~200 x 0.3 s is about a minute a task (far below its time limit even
# on a loaded worker, and little work lost when a worker dies), and 50,000 packets make
# 250 tasks.
PACKET_CHUNK_SIZE = env.int("PACKET_CHUNK_SIZE", default=200)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: the org import is the largest file we take (50,000 rows fit in ~8 MB).
ORG_IMPORT_MAX_BYTES = env.int("ORG_IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Cache and Celery: Redis when configured, otherwise in-process and inline.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://"
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Reliability: a task is acknowledged only once it has run, and handed to another worker
# if its worker dies (tasks are idempotent: they claim their work by a conditional
# update). Workers take one task at a time and are recycled to keep memory bounded.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = 200
# No task runs longer than this; Redis redelivers an unacknowledged task only after the
# visibility timeout, which must stay above it (the broker and the result backend read
# the same value). It is lowered only to see a redelivery happen within seconds (the
# killed-worker test); with DEBUG off a value at or below the time limit is refused.
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=60 * 60)
if not DEBUG and CELERY_VISIBILITY_TIMEOUT <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT ({CELERY_VISIBILITY_TIMEOUT} s) must be above the task "
        f"time limit ({CELERY_TASK_TIME_LIMIT} s), or Redis hands running tasks to a second "
        "worker."
    )
# PDF work has its own queue, so a long batch never holds up e-mails and launches:
# workers consume both (`celery -A perfcycle worker -Q celery,pdf`), or run a separate
# pool for "pdf".
CELERY_TASK_ROUTES = {
    "appraisals.render_packet_batch": {"queue": "pdf"},
    "appraisals.render_packet_chunk": {"queue": "pdf"},
    "appraisals.zip_packet_batch": {"queue": "pdf"},
}
# A save queues its task after committing, and must not wait long on a Redis that is
# down: a stopped one refuses at once, but one that hangs (frozen, or a host gone without
# a reset) would hold the request for ever without socket timeouts (kombu's Redis
# transport ignores broker_connection_timeout). One retry still gets past a connection
# that a Redis restart left stale; the notification outbox and the "start it again"
# messages cover the rest (perfcycle/broker.py).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": 3,
    "socket_timeout": 3,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
# The periodic work, run by exactly one beat process. A run not started within its
# period is dropped (expires): the next one does the same work.
CELERY_BEAT_SCHEDULE = {
    "drain-notification-outbox": {
        "task": "perfcycle.tasks.drain_notification_outbox",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Deadline reminders, overdue digests and HR's cycle summaries, each morning in the
    # company's time zone.
    "appraisal-reminders": {
        "task": "appraisals.tasks.send_reminders",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 12 * 60 * 60},
    },
    # Packet ZIPs older than PACKET_RETENTION_DAYS are deleted each night.
    "expire-packet-batches": {
        "task": "appraisals.tasks.expire_packet_batches",
        "schedule": crontab(hour=3, minute=0),
        "options": {"expires": 12 * 60 * 60},
    },
}

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "perfcycle",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="perfcycle <noreply@perfcycle.local>")

REST_FRAMEWORK = {
    # Token first: a request without credentials then gets a 401 with
    # "WWW-Authenticate: Token" (the first class names the scheme), not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: DRF's browsable API renders inline styles our CSP forbids; people explore
    # the API in the Swagger UI at /api/docs/, which is CSP-clean.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "perfcycle.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "perfcycle.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": "20/min"},
    # Throttles identify clients by address. With 0, X-Forwarded-For is ignored (a client
    # could otherwise send any address and dodge the throttle); set it to the number of
    # proxies in front of the app when there are any.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "perfcycle API",
    "DESCRIPTION": (
        "Performance-management cycle: the organisation, cycles, rating scales, goals from "
        "company objectives to personal goals, and their check-ins."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a status (and two a kind): name their enums explicitly so they
    # stay stable.
    "ENUM_NAME_OVERRIDES": {
        "CycleStatusEnum": "perfcycle.models.Cycle.Status",
        "GoalStatusEnum": "goals.models.Goal.Status",
        "GoalKindEnum": "goals.models.Goal.Kind",
        "CycleLaunchStatusEnum": "appraisals.models.CycleLaunch.Status",
        "AppraisalStageEnum": "appraisals.models.Appraisal.Stage",
        "ReviewKindEnum": "appraisals.models.Review.Kind",
        "ReviewStatusEnum": "appraisals.models.Review.Status",
        "CalibrationSessionStatusEnum": "appraisals.models.CalibrationSession.Status",
        "AppealStatusEnum": "appraisals.models.Appeal.Status",
    },
}

# Reasons are part of the audit trail: kept whole (a manager's comment can be long).
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# No inline script anywhere: every script is a file under static/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs each rendering step at INFO: nine lines per packet in a batch.
    "loggers": {"axes": {"level": "WARNING"}, "weasyprint.progress": {"level": "WARNING"}},
}

# Demo seeding: one password for every demo login, printed by seed_demo.
# Without DEBUG there is no default: a production database must never get an HR login
# with a password printed in the README.
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="perfcycle-demo" if DEBUG else "")

"""The app's settings, with the benchmark's URLs (the app's, plus the trivial baseline
page of the load run). Used only by the gunicorn the load run starts."""

from perfcycle.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

"""perfcycle: the project package and the core app."""

from .celery import app as celery_app

__all__ = ["celery_app"]

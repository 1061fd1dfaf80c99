"""Settings, health and security basics that every deployment relies on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **env) -> str:
    """Run code in a fresh interpreter with exactly the given environment."""
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_it_runs_as_a_self_contained_demo_with_nothing_configured():
    out = _python(
        "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE']='perfcycle.settings';"
        "django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER,"
        " s.EMAIL_BACKEND, s.DEBUG, s.CACHES['default']['BACKEND']]))"
    )
    engine, eager, email, debug, cache = json.loads(out)
    assert engine == "django.db.backends.sqlite3"
    assert eager is True
    assert email == "django.core.mail.backends.console.EmailBackend"
    assert debug is True
    assert cache.endswith("LocMemCache")


def test_it_switches_to_postgresql_and_redis_from_the_environment():
    out = _python(
        "import django, json, os; os.environ['DJANGO_SETTINGS_MODULE']='perfcycle.settings';"
        "django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER,"
        " s.CELERY_BROKER_URL, s.CACHES['default']['BACKEND']]))",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/perfcycle",
        REDIS_URL="redis://127.0.0.1:6379/3",
    )
    engine, eager, broker, cache = json.loads(out)
    assert engine == "django.db.backends.postgresql"
    assert eager is False
    assert broker == "redis://127.0.0.1:6379/3"
    assert cache.endswith("RedisCache")


def test_it_refuses_to_start_in_production_without_a_secret_key():
    with pytest.raises(subprocess.CalledProcessError) as error:
        _python(
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='perfcycle.settings';"
            "django.setup()",
            DEBUG="0",
        )
    assert "SECRET_KEY" in error.value.stderr


def test_it_passes_the_deployment_checks_with_production_settings():
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "0",
        "SECRET_KEY": "x" * 20 + "-a-long-random-looking-secret-for-the-deploy-check-0123456789",
        "ALLOWED_HOSTS": "perfcycle.example.com",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_reports_database_and_broker_health(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": connection.vendor}
    assert body["broker"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_refuses_to_change_anything_through_health(client, db):
    assert client.post("/healthz").status_code == 405


def test_it_reports_a_broker_it_cannot_reach_as_degraded(client, db, settings):
    from perfcycle.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        body = client.get("/healthz").json()
    finally:
        app.conf.broker_url = original
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False


def test_it_sends_a_content_security_policy_without_inline_script(client, db):
    response = client.get("/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"

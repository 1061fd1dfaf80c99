"""docker-compose.yml read as data: no Docker engine runs here, so the file is checked."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
SHARED_VARIABLES = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "COMPANY_TIME_ZONE",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def command(service: dict) -> str:
    value = service.get("command", "")
    return " ".join(value) if isinstance(value, list) else value


def test_it_declares_exactly_the_five_services(services):
    assert set(services) == {"web", "worker", "beat", "postgres", "redis"}


def test_it_serves_the_wsgi_app_with_gunicorn_after_migrate_and_collectstatic(services):
    cmd = command(services["web"])
    assert "gunicorn perfcycle.wsgi" in cmd
    migrate = cmd.index("manage.py migrate")
    collectstatic = cmd.index("manage.py collectstatic")
    assert migrate < cmd.index("gunicorn")
    assert collectstatic < cmd.index("gunicorn")
    assert "--noinput" in cmd
    assert "0.0.0.0:8000" in cmd


def test_it_runs_a_celery_worker_and_a_celery_beat(services):
    assert command(services["worker"]).startswith("celery -A perfcycle worker")
    assert command(services["beat"]).startswith("celery -A perfcycle beat")
    assert "beat" not in command(services["worker"]), "the worker must not embed a beat (-B)"
    assert " -B" not in command(services["worker"])


def test_it_never_runs_more_than_one_beat(services):
    beat = services["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "Exactly ONE beat" in text, "the file says why beat must stay single"


def test_it_builds_one_image_for_the_app_processes_from_an_inline_dockerfile(services):
    builds = [services[name]["build"] for name in APP_SERVICES]
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1
    for build in builds:
        assert build["context"] == "."
        dockerfile = build["dockerfile_inline"]
        assert dockerfile.startswith("FROM python:3.11-slim")
        for package in (
            "libpango-1.0-0",
            "libpangoft2-1.0-0",
            "libharfbuzz-subset0",
            "fonts-noto-cjk",
            "gettext",
        ):
            assert package in dockerfile
        assert "pip install --no-cache-dir ." in dockerfile
        assert "manage.py compilemessages" in dockerfile
    assert not (ROOT / "Dockerfile").exists(), "the top-level layout has no Dockerfile"


def test_it_copies_every_top_level_app_directory_into_the_image(services):
    dockerfile = services["web"]["build"]["dockerfile_inline"]
    for directory in ("perfcycle", "goals", "appraisals", "feedback", "talent", "templates"):
        assert (ROOT / directory).is_dir()
        assert f"COPY {directory} " in dockerfile
    assert "COPY . " not in dockerfile, "copying everything would ship .venv and db.sqlite3"


def test_it_gives_web_worker_and_beat_the_same_environment(services):
    environments = [services[name]["environment"] for name in APP_SERVICES]
    assert environments[0] == environments[1] == environments[2]
    env = environments[0]
    assert set(env) >= SHARED_VARIABLES
    assert str(env["DEBUG"]) == "0"
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), "production must not get a default key"


def test_it_uses_postgres_15_and_redis_7_with_a_volume_for_the_database(compose, services):
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    volume = services["postgres"]["volumes"][0]
    name, target = volume.split(":", 1)
    assert target == "/var/lib/postgresql/data"
    assert name in compose["volumes"]
    database_url = services["web"]["environment"]["DATABASE_URL"]
    postgres_env = services["postgres"]["environment"]
    assert database_url.endswith("/" + postgres_env["POSTGRES_DB"])
    assert f"//{postgres_env['POSTGRES_USER']}:" in database_url


def test_it_checks_the_health_of_every_service(services):
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_it_checks_web_health_at_healthz(services):
    test = command({"command": services["web"]["healthcheck"]["test"]})
    assert "/healthz" in test
    assert ":8000/healthz" in test


def test_it_starts_the_app_after_its_backing_services_are_healthy(services):
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["redis"]["condition"] == "service_healthy"
    # The worker and beat need the schema that web migrates.
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy"

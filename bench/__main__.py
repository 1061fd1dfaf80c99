"""``python -m bench``: run the benchmark (``make bench``).

Seeds its own PostgreSQL database (``DATABASE_URL``, by default
postgres://postgres@127.0.0.1:5432/perfcycle_bench, created if absent; a database whose
name does not say "bench" is refused, so the development database is never emptied) at
each size, measures, prints a table and writes ``bench/results.json``. Packet batches
are rendered by Celery workers on Redis (``REDIS_URL``, by default database 14 of the
local server).

The app runs as in production (``DEBUG=0``, collected static files), with e-mail
discarded, Celery tasks run in this process unless a figure starts workers, and the
uploaded and generated files in a temporary ``MEDIA_ROOT``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/perfcycle_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.json"


def arguments(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,50000",
        help="Employees in the seeded demo, comma-separated (default 10000,50000).",
    )
    parser.add_argument("--runs", type=int, default=5, help="Timed runs per figure (default 5).")
    parser.add_argument(
        "--heavy-runs",
        type=int,
        default=1,
        help="Runs of the figures that take minutes: seeding and packet batches (default 1).",
    )
    parser.add_argument(
        "--only",
        default="",
        help="Only these measurements or pages, comma-separated (e.g. pages,launch or team_goals).",
    )
    parser.add_argument(
        "--pool",
        choices=["celery", "inline"],
        default="celery",
        help="Who renders packet batches: Celery worker processes on Redis (default), or "
        "this process.",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="The JSON file.")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    except ValueError:
        parser.error("--sizes takes numbers, e.g. 10000,50000")
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    if args.runs < 1 or args.heavy_runs < 1:
        parser.error("--runs and --heavy-runs must be at least 1")
    return args


def configure(media_root: str) -> str:
    """Set the environment the settings read; the database URL."""
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS_URL)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="perfcycle.settings",
        DEBUG="0",
        SECRET_KEY=f"bench-{secrets.token_urlsafe(40)}",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        DEMO_PASSWORD="perfcycle-demo",
        EMAIL_URL="dummymail://",
        CELERY_TASK_ALWAYS_EAGER="1",
        LOG_LEVEL="WARNING",
        MEDIA_ROOT=media_root,
    )
    return os.environ["DATABASE_URL"]


def database_name(url: str) -> str:
    import environ

    return str(environ.Env.db_url_config(url)["NAME"])


def create_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` if the server has none of that name."""
    import environ
    import psycopg2
    from psycopg2 import sql

    config = environ.Env.db_url_config(url)
    if not config["ENGINE"].endswith("postgresql"):
        return
    server = psycopg2.connect(
        dbname="postgres",
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
    )
    server.autocommit = True
    try:
        with server.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
    finally:
        server.close()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = arguments(argv)
    # Stopped from outside: unwind, so that the Celery workers started here are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    media_root = tempfile.mkdtemp(prefix="perfcycle-bench-media-")
    try:
        url = configure(media_root)
        name = database_name(url)
        if "bench" not in Path(name).name:
            log(f"Refusing to run on the database {name!r}: its name must say 'bench'.")
            return 2
        create_database(url)
        import django

        django.setup()
        return _run(args)
    finally:
        shutil.rmtree(media_root, ignore_errors=True)


def _run(args) -> int:
    from django.core.management import call_command

    from .run import report, run_bench, table, write_report

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.monotonic()

    def save(figures, *, complete=False):
        data = report(figures, sizes=args.sizes, runs=args.runs, heavy_runs=args.heavy_runs)
        data["complete"] = complete
        data["wall_seconds"] = round(time.monotonic() - started, 1)
        write_report(data, args.output)
        return data

    figures = run_bench(
        sizes=args.sizes,
        runs=args.runs,
        heavy_runs=args.heavy_runs,
        only=args.only,
        pool=args.pool,
        log=log,
        taken=save,
    )
    data = save(figures, complete=True)
    print(table(figures))
    print(f"\n{len(figures)} figures in {data['wall_seconds']:.0f} s; written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

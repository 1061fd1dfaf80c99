"""Liveness and dependency status for load balancers and operators."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from perfcycle.celery import app as celery_app


def _database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; say which
        return {"ok": False, "vendor": connection.vendor, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def _broker_status() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "mode": "inline"}
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # broker unreachable or refusing
        return {"ok": False, "mode": "broker", "error": exc.__class__.__name__}
    return {"ok": True, "mode": "broker", "transport": str(transport)}


@never_cache
@require_GET
def healthz(request):
    database = _database_status()
    broker = _broker_status()
    # Without the database nothing works (503); without the broker pages still save and
    # background work waits, so the service is up but degraded (200).
    if not database["ok"]:
        state, code = "down", 503
    else:
        state, code = ("ok" if broker["ok"] else "degraded"), 200
    return JsonResponse({"status": state, "database": database, "broker": broker}, status=code)

"""Batches of PDF review packets: the packets page of a cycle (ask for a batch, follow
its progress, download its ZIP), the progress of one batch (polled by HTMX) and the
download.

HR and department heads open the page (``access.can_use_packet_batches``); the service
decides what each may ask for. A batch and its ZIP are read by whoever asked for it and
by HR (``access.packet_batches_visible_to``); anyone else gets a 404. The ZIPs are kept
under MEDIA_ROOT, which is never served: the download view is the only way to them.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_cache_control
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from perfcycle import access
from perfcycle.models import Cycle

from .. import services
from ..models import PacketBatch
from ..packet_forms import PacketBatchForm

S = PacketBatch.Status
BATCHES_SHOWN = 10
FAILED_SHOWN = 50
BADGES = {
    S.QUEUED: "badge-info",
    S.RUNNING: "badge-warning",
    S.DONE: "badge-success",
    S.FAILED: "badge-danger",
    S.EXPIRED: "badge-neutral",
}


def _cycle(user, pk) -> Cycle:
    access.require(access.can_use_packet_batches(user))
    return access.get_visible_or_404(access.cycles_visible_to(user), pk=pk)


def _page_url(cycle_id: int) -> str:
    return reverse("appraisals:packets", args=[cycle_id]) + "#batches"


def _decorate(batch: PacketBatch) -> PacketBatch:
    batch.badge = BADGES.get(batch.status, "badge-neutral")
    batch.failed_shown = batch.failed[:FAILED_SHOWN]
    batch.retention_days = settings.PACKET_RETENTION_DAYS
    return batch


@login_required
@require_http_methods(["GET", "POST"])
def packet_batches(request, pk):
    user = request.user
    cycle = _cycle(user, pk)
    form = PacketBatchForm(
        request.POST if request.method == "POST" else None,
        departments=access.packet_departments(user),
        whole_cycle=access.can_request_packets(user),
    )
    if form.is_bound and form.is_valid():
        try:
            batch = services.packet_batch_request(
                actor=user, cycle=cycle, department=form.cleaned_data["department"]
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            batch.refresh_from_db()  # without a broker the batch has run by now
            if batch.status == S.DONE:
                messages.success(request, _("The packets are ready to download."))
            elif not batch.finished:
                messages.info(request, _("The packets are being made; the progress shows below."))
            return redirect(_page_url(cycle.pk))
    batches = [
        _decorate(batch)
        for batch in access.packet_batches_visible_to(user)
        .filter(cycle=cycle)
        .select_related("department", "requested_by")
        .order_by("-created_at", "-pk")[:BATCHES_SHOWN]
    ]
    context = {"cycle": cycle, "form": form, "batches": batches}
    status = 400 if form.is_bound else 200
    return render(request, "appraisals/packet_batches.html", context, status=status)


def _batch(request, batch_pk) -> PacketBatch:
    return access.get_visible_or_404(
        access.packet_batches_visible_to(request.user).select_related(
            "cycle", "department", "requested_by"
        ),
        pk=batch_pk,
    )


@login_required
@require_GET
def packet_batch_progress(request, batch_pk):
    """One batch alone: the packets page polls it every second until it has finished;
    the finished batch carries no trigger, so the polling stops."""
    batch = _batch(request, batch_pk)
    if not request.htmx:
        return redirect(_page_url(batch.cycle_id))
    context = {"cycle": batch.cycle, "batch": _decorate(batch)}
    return render(request, "appraisals/packet_batches.html#batch", context)


@login_required
@require_GET
def packet_batch_download(request, batch_pk):
    batch = _batch(request, batch_pk)
    if batch.status != S.DONE or not batch.file:
        raise Http404
    try:
        handle = batch.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    scope = batch.department.code if batch.department else "all"
    name = f"packets-{slugify(batch.cycle.name) or batch.cycle_id}-{slugify(scope)}-{batch.pk}.zip"
    response = FileResponse(
        handle, as_attachment=True, filename=name, content_type="application/zip"
    )
    # Personal data: never kept by a shared cache.
    patch_cache_control(response, private=True, no_store=True)
    return response


urlpatterns = [
    path("cycles/<int:pk>/packets/", packet_batches, name="packets"),
    path("packets/<int:batch_pk>/", packet_batch_progress, name="packet_batch_progress"),
    path("packets/<int:batch_pk>/download/", packet_batch_download, name="packet_batch_download"),
]

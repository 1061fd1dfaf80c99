"""The PDF review packet of one appraisal, for anyone who may open the appraisal.

What the packet holds for the person asking is decided section by section in
``appraisals.packet`` through ``perfcycle.access`` (an employee's own packet before
release has nothing of the manager's review); ids outside the user's scope are a 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from perfcycle import access

from .. import packet


@login_required
@require_GET
def packet_pdf(request, pk):
    appraisal = access.get_visible_or_404(
        packet.with_related(access.appraisals_visible_to(request.user)), pk=pk
    )
    pdf = packet.render_packet(appraisal, request.user)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=packet.packet_filename(appraisal)
    )
    # Personal data, different for each viewer: never kept by a shared cache.
    patch_cache_control(response, private=True, no_store=True)
    return response


urlpatterns = [
    path("<int:pk>/packet.pdf", packet_pdf, name="packet"),
]

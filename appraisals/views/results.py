"""After release: the employee acknowledges their result (which is not agreeing with it),
comments and appeals, on the appraisal page; HR lists the appeals and resolves them.

The appraisal is fetched through ``perfcycle.access`` as on the review pages; an appeal
through the appraisals the user administers (``access.appraisals_administrable_by``), so
an appeal outside an HR partner's departments is a 404. Refused changes come back to the
page they were made on with the reason (400); a resolution someone else made first is a
conflict (409).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from perfcycle import access
from perfcycle.services import StaleEdit

from .. import services
from ..models import Appeal
from ..review_forms import AcknowledgeForm, AppealForm, AppealResolveForm
from .reviews import get_appraisal, refused, render_appraisal

PAGE_SIZE = 25
S = Appeal.Status


# --- the employee: acknowledge, comment, appeal -------------------------------------------


@login_required
@require_POST
def acknowledge(request, pk):
    user = request.user
    appraisal = get_appraisal(user, pk)
    form = AcknowledgeForm(request.POST)
    if form.is_valid():
        first = appraisal.acknowledged_at is None
        try:
            services.appraisal_acknowledge(
                actor=user, appraisal=appraisal, comment=form.cleaned_data["comment"]
            )
        except ValidationError as exc:
            return refused(request, appraisal, exc, form, "acknowledge")
        else:
            messages.success(
                request,
                _("You acknowledged your result.") if first else _("Your comment was saved."),
            )
            return redirect(reverse("appraisals:appraisal", args=[appraisal.pk]) + "#acknowledge")
    return render_appraisal(request, appraisal, status=400, forms={"acknowledge": form})


@login_required
@require_POST
def appeal(request, pk):
    user = request.user
    appraisal = get_appraisal(user, pk)
    form = AppealForm(request.POST)
    if form.is_valid():
        try:
            services.appeal_file(
                actor=user, appraisal=appraisal, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            return refused(request, appraisal, exc, form, "appeal")
        else:
            messages.success(
                request, _("Your appeal was sent to HR. You will see the outcome on this page.")
            )
            return redirect(reverse("appraisals:appraisal", args=[appraisal.pk]) + "#appeal")
    return render_appraisal(request, appraisal, status=400, forms={"appeal": form})


# --- HR: the appeals and their outcome ------------------------------------------------------


def _appeals(user):
    return Appeal.objects.filter(
        appraisal__in=access.appraisals_administrable_by(user).values("pk")
    ).select_related(
        "appraisal__cycle",
        "appraisal__employee__user",
        "appraisal__department",
        "appraisal__reviewer__user",
        "appraisal__computed_level",
        "appraisal__manager_level",
        "appraisal__calibrated_level",
        "appraisal__final_level",
        "new_level",
        "resolved_by",
    )


@login_required
@require_GET
def appeals_list(request):
    user = request.user
    access.require(access.can_administer_appraisals(user))
    status = request.GET.get("status", "")
    if status not in S.values:
        status = ""
    appeals = _appeals(user)
    open_count = appeals.filter(status=S.OPEN).count()
    if status:
        appeals = appeals.filter(status=status)
    appeals = appeals.annotate(
        open_first=Case(
            When(status=S.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    ).order_by("open_first", "-filed_at", "-pk")
    page = Paginator(appeals, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page_obj": page,
        "status": status,
        "statuses": S.choices,
        "open_count": open_count,
    }
    return render(request, "appraisals/appeal_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def appeal_resolve(request, pk):
    user = request.user
    found = access.get_visible_or_404(_appeals(user), pk=pk)
    appraisal = found.appraisal
    form = AppealResolveForm(request.POST if request.method == "POST" else None, appeal=found)
    status, stale = 200, False
    if form.is_bound:
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.appeal_resolve(
                    actor=user,
                    appeal=found,
                    status=data["status"],
                    outcome=data["outcome"],
                    new_level=data["new_level"] if data["status"] == S.UPHELD else None,
                    expected_version=data["version"],
                )
            except StaleEdit:
                # Someone resolved it first (or changed it): show what stands now; the
                # input stays, carrying the version now stored.
                status, stale = 409, True
                found.refresh_from_db()
                data = request.POST.copy()
                data["version"] = str(found.version)
                form = AppealResolveForm(data, appeal=found)
                form.is_valid()
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("The appeal of %(name)s was resolved; they can read the outcome now.")
                    % {"name": found.appraisal.employee.name},
                )
                return redirect("appraisals:appeals")
    context = {
        "appeal": found,
        "appraisal": appraisal,
        "form": form,
        "stale": stale,
        "others": list(
            appraisal.appeals.exclude(pk=found.pk).select_related("new_level", "resolved_by")
        ),
    }
    return render(request, "appraisals/appeal_resolve.html", context, status=status)


urlpatterns = [
    path("<int:pk>/acknowledge/", acknowledge, name="acknowledge"),
    path("<int:pk>/appeal/", appeal, name="appeal"),
    path("appeals/", appeals_list, name="appeals"),
    path("appeals/<int:pk>/", appeal_resolve, name="appeal_resolve"),
]

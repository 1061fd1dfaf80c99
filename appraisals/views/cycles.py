"""The HR administrator's cycle pages: the cycles, a new cycle, a cycle's appraisal
settings, and the cycle page (phases, launch with its progress, advancing). The cycle's
appraisals and the changes HR makes to one are in ``cycle_appraisals``; its URLs are
listed here too, so ``appraisals.urls`` takes every cycle page from this module.

Every cycle is fetched through ``perfcycle.access`` (ids outside the user's scope are a
404); every change goes through ``appraisals.services``, whose ValidationError is shown
on the page with a 400 and whose StaleEdit is shown as a conflict (409), nothing lost.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from perfcycle import access
from perfcycle.csv_export import csv_response
from perfcycle.models import Cycle
from perfcycle.services import StaleEdit

from .. import selectors, services, states
from ..cycle_forms import AdvanceForm, CycleSettingsForm, NewCycleForm
from ..models import Appraisal, Competency, CycleLaunch
from . import cycle_appraisals

P = Cycle.Status
A = Appraisal.Stage
CYCLES_PER_PAGE = 25
# The finished launch lists this many of the people it left out (the CSV has them all).
EXCLUDED_SHOWN = 100

# Status is a badge with its word; the colour repeats the word. (Stages use the
# ``stage_badge`` filter of ``appraisals.templatetags.appraisals``.)
LAUNCH_BADGES = {
    CycleLaunch.Status.QUEUED: "badge-info",
    CycleLaunch.Status.RUNNING: "badge-warning",
    CycleLaunch.Status.DONE: "badge-success",
    CycleLaunch.Status.FAILED: "badge-danger",
}


def _hr_cycle(user, pk) -> Cycle:
    """A cycle for the HR administrator's pages: 403 for anyone else, 404 for no cycle."""
    access.require(access.can_run_cycle(user))
    return access.get_visible_or_404(
        access.cycles_visible_to(user).select_related("rating_scale"), pk=pk
    )


def _cycle_url(cycle: Cycle, anchor: str = "") -> str:
    return reverse("appraisals:cycle", args=[cycle.pk]) + (f"#{anchor}" if anchor else "")


# --- the cycles ---------------------------------------------------------------------------


@login_required
@require_GET
def cycle_list(request):
    user = request.user
    access.require(access.can_run_cycle(user))
    cycles = (
        access.cycles_visible_to(user)
        .select_related("rating_scale")
        .annotate(appraisal_count=Count("appraisals", filter=~Q(appraisals__stage=A.WITHDRAWN)))
        .order_by("-period_start", "name")
    )
    page = Paginator(cycles, CYCLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "appraisals/cycle_list.html", {"page_obj": page})


@login_required
@require_http_methods(["GET", "POST"])
def cycle_new(request):
    user = request.user
    access.require(access.can_run_cycle(user))
    form = NewCycleForm(
        request.POST if request.method == "POST" else None,
        cycles=access.cycles_visible_to(user),
        scales=access.rating_scales_visible_to(user),
    )
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            cycle = services.cycle_create_from(
                actor=user,
                name=data["name"],
                period_start=data["period_start"],
                period_end=data["period_end"],
                template=data["template"],
                rating_scale=data["rating_scale"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if data["template"] is not None:
                text = _("%(cycle)s was created from %(template)s. Check its settings.") % {
                    "cycle": cycle.name,
                    "template": data["template"].name,
                }
            else:
                text = _("%(cycle)s was created. Set it up below.") % {"cycle": cycle.name}
            messages.success(request, text)
            return redirect("appraisals:cycle_settings", pk=cycle.pk)
    status = 400 if form.is_bound else 200
    return render(request, "appraisals/cycle_new.html", {"form": form}, status=status)


# --- the cycle's appraisal settings -------------------------------------------------------


def _settings_form(cycle: Cycle, data=None) -> CycleSettingsForm:
    current = services.settings_for(cycle)
    rows = list(cycle.competencies.select_related("competency"))
    chosen = {row.competency_id: row.weight for row in rows}
    others = Competency.objects.filter(is_active=True).exclude(pk__in=chosen).order_by("name")
    return CycleSettingsForm(
        data,
        settings=current,
        levels=list(cycle.rating_scale.levels.order_by("value")),
        competencies=[row.competency for row in rows] + list(others),
        chosen=chosen,
        late=cycle.status not in states.SETTINGS_OPEN,
        closed=cycle.status == P.CLOSED,
    )


@login_required
@require_http_methods(["GET", "POST"])
def cycle_settings(request, pk):
    user = request.user
    cycle = _hr_cycle(user, pk)
    form = _settings_form(cycle, request.POST if request.method == "POST" else None)
    status, stale = 200, False
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                services.cycle_settings_update(
                    actor=user,
                    cycle=cycle,
                    data=form.settings_data(),
                    expected_version=form.cleaned_data["version"],
                    competencies=form.chosen_competencies(),
                    departments=form.chosen_departments(),
                    reason=form.cleaned_data["change_reason"],
                )
            except StaleEdit:
                status, stale = 409, True
                form.add_error(
                    None,
                    _(
                        "Someone else changed these settings while you were editing them. "
                        "Your changes are kept below but not saved: open the latest "
                        "settings, then make them again."
                    ),
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("The settings were saved."))
                return redirect("appraisals:cycle", pk=cycle.pk)
    context = {"cycle": cycle, "form": form, "stale": stale}
    return render(request, "appraisals/cycle_settings.html", context, status=status)


# --- the cycle page -----------------------------------------------------------------------


@login_required
@require_GET
def cycle_detail(request, pk):
    cycle = _hr_cycle(request.user, pk)
    return _render_cycle(request, cycle)


def _phases(cycle: Cycle, deadlines: dict) -> list[dict]:
    """The stepper: every phase, done, current or to come, with its deadline."""
    current = states.PHASES.index(cycle.status)
    return [
        {
            "value": phase,
            "label": states.phase_label(phase),
            "state": "done" if i < current else "current" if i == current else "todo",
            "deadline": deadlines.get(phase),
        }
        for i, phase in enumerate(states.PHASES)
    ]


def _latest_launch(cycle: Cycle) -> CycleLaunch | None:
    launch = cycle.launches.select_related("actor").order_by("-created_at", "-pk").first()
    if launch is not None:
        _decorate_launch(launch)
    return launch


def _decorate_launch(launch: CycleLaunch) -> None:
    launch.badge = LAUNCH_BADGES.get(launch.status, "badge-neutral")
    launch.excluded_shown = launch.excluded[:EXCLUDED_SHOWN]
    counts = launch.excluded_counts or {}
    launch.counted = [
        (label, counts[key])
        for key, label in (
            ("inactive", _("No longer active")),
            ("outside_departments", _("Outside the departments included")),
        )
        if counts.get(key)
    ]


def _render_cycle(
    request,
    cycle: Cycle,
    *,
    status: int = 200,
    launch_errors: list[str] | None = None,
    advance_form: AdvanceForm | None = None,
):
    settings = services.settings_for(cycle)
    deadlines = {d.phase: d.due_on for d in cycle.deadlines.all()}
    launch = _latest_launch(cycle)
    running = launch is not None and not launch.finished
    blockers = selectors.advance_blockers(cycle)
    stages = dict(
        Appraisal.objects.filter(cycle=cycle)
        .values_list("stage")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counted = sum(n for stage, n in stages.items() if stage != A.WITHDRAWN)
    if advance_form is None:
        advance_form = AdvanceForm(initial={"phase": cycle.status})
    guideline = settings.guideline or {}
    levels = list(cycle.rating_scale.levels.order_by("value"))
    context = {
        "cycle": cycle,
        "settings": settings,
        "phases": _phases(cycle, deadlines),
        "deadline": deadlines.get(cycle.status),
        "competencies": list(cycle.competencies.select_related("competency")),
        "departments": list(settings.departments.order_by("name")),
        "guideline": [(level, guideline.get(str(level.value))) for level in levels],
        "launch": launch,
        "launch_errors": launch_errors or [],
        "can_launch": cycle.status in states.LAUNCHABLE and not running,
        "settings_open": cycle.status in states.SETTINGS_OPEN,
        "appraisal_count": counted,
        "stage_counts": [(stage, A(stage).label, stages[stage]) for stage in A if stage in stages],
        "hard_blockers": [b for b in blockers if b.hard],
        "soft_blockers": [b for b in blockers if not b.hard],
        "next_phase": (
            states.phase_label(states.next_phase(cycle)) if cycle.status != P.CLOSED else ""
        ),
        "advance_form": advance_form,
    }
    return render(request, "appraisals/cycle_detail.html", context, status=status)


# --- launch -------------------------------------------------------------------------------


@login_required
@require_POST
def cycle_launch(request, pk):
    user = request.user
    cycle = _hr_cycle(user, pk)
    try:
        launch = services.cycle_launch_request(actor=user, cycle=cycle)
    except ValidationError as exc:
        return _render_cycle(request, cycle, status=400, launch_errors=exc.messages)
    launch.refresh_from_db()  # without a broker the launch has run by now
    if launch.status == CycleLaunch.Status.DONE:
        messages.success(
            request,
            ngettext(
                "The launch finished: %(count)s appraisal was created.",
                "The launch finished: %(count)s appraisals were created.",
                launch.created,
            )
            % {"count": launch.created},
        )
    elif not launch.finished:
        messages.info(request, _("The launch has started; its progress shows below."))
    return redirect(_cycle_url(cycle, "launch"))


def _launch_of(request, pk, launch_pk) -> tuple[Cycle, CycleLaunch]:
    cycle = _hr_cycle(request.user, pk)
    launch = access.get_visible_or_404(
        CycleLaunch.objects.filter(cycle=cycle).select_related("actor"), pk=launch_pk
    )
    return cycle, launch


@login_required
@require_GET
def cycle_launch_progress(request, pk, launch_pk):
    """The launch panel alone: the cycle page polls it every second until the launch is
    finished; the finished panel carries no trigger, so the polling stops. When it has
    finished, the page reloads instead (HX-Refresh): the rest of it (the appraisal
    counts, what blocks the next phase) changed with the launch."""
    cycle, launch = _launch_of(request, pk, launch_pk)
    if not request.htmx:
        return redirect(_cycle_url(cycle, "launch"))
    _decorate_launch(launch)
    context = {
        "cycle": cycle,
        "launch": launch,
        "can_launch": cycle.status in states.LAUNCHABLE and launch.finished,
    }
    response = render(request, "appraisals/cycle_detail.html#launch", context)
    if launch.finished:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_GET
def cycle_launch_excluded(request, pk, launch_pk):
    """Everyone the launch left out, and why, as CSV."""
    cycle, launch = _launch_of(request, pk, launch_pk)
    rows = [[_("Employee number"), _("Name"), _("Reason")]] + [
        [row.get("number", ""), row.get("name", ""), row.get("reason", "")]
        for row in launch.excluded
    ]
    return csv_response(rows, f"launch-{cycle.pk}-{launch.pk}-excluded.csv")


# --- advance ------------------------------------------------------------------------------


@login_required
@require_POST
def cycle_advance(request, pk):
    user = request.user
    cycle = _hr_cycle(user, pk)
    form = AdvanceForm(request.POST)
    if not form.is_valid():
        return _render_cycle(request, cycle, status=400, advance_form=form)
    if form.cleaned_data["phase"] != cycle.status:
        # Someone advanced it meanwhile: this click was meant for another phase. The
        # form comes back for the phase the cycle is in now, with what was typed.
        data = request.POST.copy()
        data["phase"] = cycle.status
        form = AdvanceForm(data)
        form.is_valid()
        form.add_error(
            None,
            _(
                "The cycle moved on to %(phase)s while you had the page open. Check what "
                "blocks the next phase, then advance again if you still mean to."
            )
            % {"phase": cycle.get_status_display()},
        )
        return _render_cycle(request, cycle, status=409, advance_form=form)
    try:
        cycle = services.cycle_advance(
            actor=user,
            cycle=cycle,
            force=form.cleaned_data["force"],
            reason=form.cleaned_data["reason"].strip(),
        )
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _render_cycle(request, cycle, status=400, advance_form=form)
    messages.success(
        request, _("The cycle is now in %(phase)s.") % {"phase": cycle.get_status_display()}
    )
    return redirect(_cycle_url(cycle, "advance"))


urlpatterns = [
    path("cycles/", cycle_list, name="cycles"),
    path("cycles/new/", cycle_new, name="cycle_new"),
    path("cycles/<int:pk>/", cycle_detail, name="cycle"),
    path("cycles/<int:pk>/settings/", cycle_settings, name="cycle_settings"),
    path("cycles/<int:pk>/launch/", cycle_launch, name="cycle_launch"),
    path(
        "cycles/<int:pk>/launch/<int:launch_pk>/",
        cycle_launch_progress,
        name="cycle_launch_progress",
    ),
    path(
        "cycles/<int:pk>/launch/<int:launch_pk>/excluded.csv",
        cycle_launch_excluded,
        name="cycle_launch_excluded",
    ),
    path("cycles/<int:pk>/advance/", cycle_advance, name="cycle_advance"),
    *cycle_appraisals.urlpatterns,
]

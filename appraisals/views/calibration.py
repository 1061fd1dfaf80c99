"""Calibration and release pages.

* ``calibration``: a cycle's sessions; HR opens one for a set of departments with a panel.
* ``session``: the grid of everyone in a session (filters and search in the URL, 50 a
  page), the distribution against the guideline, a move form per row, the adjustments
  log; HR changes the panel and closes the session (the ratings become final).

The panel is chosen with a picker (on the session and in the form opening one): the
panel as checkboxes and a search (``panel_q``) for the others, never a list of every
manager. An HTMX search targets ``#panel-matches`` and gets only the matches back.
* ``release``: HR releases the final results, all at once or by department.

Sessions are fetched through ``perfcycle.access`` (a session the user does not sit on is
a 404); every change goes through ``appraisals.services``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from perfcycle import access
from perfcycle.models import Cycle
from perfcycle.paging import page_of
from perfcycle.services import StaleEdit

from .. import calibration_grid as grid
from .. import reports, services
from ..calibration_forms import (
    GridFilterForm,
    MoveForm,
    PanelSearchForm,
    ParticipantsForm,
    ReleaseForm,
    SessionOpenForm,
)
from ..models import CalibrationSession

PAGE_SIZE = 50
LOG_PAGE_SIZE = 20
# The panel picker's matches; an HTMX search targets them and gets only them back.
PANEL_MATCHES = "panel-matches"
PANEL_MATCHES_TEMPLATE = "appraisals/calibration_panel_picker.html#matches"
# A closing message names at most this many people still waiting for their review.
NAMES_SHOWN = 20
P = Cycle.Status


def _page(request, items, param: str, size: int):
    return page_of(request, items, size=size, param=param)


def _panel_search(request) -> bool:
    """Whether this is the panel picker's HTMX search (the matches only)."""
    return (
        request.method == "GET"
        and bool(request.htmx)
        and request.htmx.target == PANEL_MATCHES
        and not request.htmx.history_restore_request
    )


# --- a cycle's sessions ------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def calibration(request, pk):
    user = request.user
    cycle = access.get_visible_or_404(access.cycles_visible_to(user), pk=pk)
    may_open = access.can_run_cycle(user, cycle)
    sessions = grid.sessions_of_cycle(user=user, cycle=cycle)
    # Anyone else sees the page only for the sessions they sit on.
    access.require(may_open or sessions.exists())
    form = panel_search = None
    if may_open:
        panel_search = PanelSearchForm(request.GET)
        if request.method == "POST":
            form = SessionOpenForm(request.POST)
        else:
            form = SessionOpenForm(search=panel_search)
    if _panel_search(request):
        access.require(may_open)
        return render(request, PANEL_MATCHES_TEMPLATE, {"form": form})
    if request.method == "POST":
        access.require(may_open)
        if form.is_valid():
            try:
                session = services.calibration_session_open(
                    actor=user,
                    cycle=cycle,
                    name=form.cleaned_data["name"],
                    departments=list(form.cleaned_data["departments"]),
                    participants=list(form.cleaned_data["participants"]),
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                size = session.appraisals.count()
                messages.success(
                    request,
                    ngettext(
                        "Session %(name)s opened with %(count)s appraisal.",
                        "Session %(name)s opened with %(count)s appraisals.",
                        size,
                    )
                    % {"name": session.name, "count": size},
                )
                return redirect("appraisals:session", pk=session.pk)
    context = {
        "cycle": cycle,
        "page_obj": _page(request, sessions, "page", PAGE_SIZE),
        "form": form,
        "panel_search": panel_search,
        "may_open": may_open,
        "open_phase": cycle.status in (P.MANAGER_REVIEW, P.CALIBRATION),
        "ready_outside": grid.ready_outside_sessions(cycle) if may_open else None,
    }
    status = 400 if form is not None and form.is_bound else 200
    return render(request, "appraisals/calibration_sessions.html", context, status=status)


# --- one session -------------------------------------------------------------------------


def _get_session(user, pk) -> CalibrationSession:
    visible = access.calibration_sessions_visible_to(user).select_related(
        "cycle__rating_scale", "created_by"
    )
    return access.get_visible_or_404(visible, pk=pk)


def _appraisals(user, session: CalibrationSession):
    """The session's appraisals the user reads in the grid (not their own before release)."""
    return access.without_own_assessment(user, grid.session_appraisals(session))


def _grid(request, session: CalibrationSession) -> dict:
    """The filtered grid, its page and the distribution (of the people the filters
    select; of everyone in the session without filters)."""
    cycle = session.cycle
    levels = list(cycle.rating_scale.levels.order_by("value"))
    form = GridFilterForm(
        request.GET,
        departments=grid.grid_departments(session),
        levels=levels,
    )
    filters = form.filters()
    shown = grid.filter_grid(_appraisals(request.user, session), filters)
    page = _page(request, shown.values_list("pk", flat=True), "page", PAGE_SIZE)
    page.object_list = grid.page_rows(shown, list(page.object_list))
    guideline, tolerance = reports.guideline_of(cycle)
    may_move = (
        session.status == CalibrationSession.Status.OPEN
        and cycle.status == P.CALIBRATION
        and access.can_calibrate(request.user, session)
    )
    return {
        "session": session,
        "cycle": cycle,
        "levels": levels,
        "filter_form": form,
        "filtered": filters.active,
        "page_obj": page,
        "distribution": grid.rating_distribution(
            shown,
            levels=levels,
            guideline=guideline,
            tolerance=tolerance,
        ),
        "may_move": may_move,
        "grid_query": request.GET.urlencode(),
    }


def _log(request, session) -> dict:
    moves = grid.adjustments_log(session, of=_appraisals(request.user, session))
    return {"log_page": _page(request, moves, "log_page", LOG_PAGE_SIZE)}


def _render_session(
    request,
    session: CalibrationSession,
    *,
    status: int = 200,
    move: dict | None = None,
    participants_form: ParticipantsForm | None = None,
    errors: list[str] | None = None,
):
    user = request.user
    may_run = access.can_run_cycle(user, session.cycle)
    panel = grid.panel_of(session)
    is_open = session.status == CalibrationSession.Status.OPEN
    panel_search = PanelSearchForm(request.GET) if may_run and is_open else None
    if panel_search is not None and participants_form is None:
        participants_form = ParticipantsForm(panel=panel, search=panel_search)
    context = {
        **_grid(request, session),
        **_log(request, session),
        "panel": panel,
        "may_run": may_run,
        "is_open": is_open,
        "participants_form": participants_form if panel_search is not None else None,
        "panel_search": panel_search,
        "own_hidden": grid.holds_own_unreleased(session, access.roles(user).employee),
        "move": move or {},
        "errors": errors or [],
    }
    template = "appraisals/calibration_session.html"
    if request.htmx and not request.htmx.history_restore_request and request.method == "GET":
        template += "#results"
    return render(request, template, context, status=status)


@login_required
@require_GET
def session_detail(request, pk):
    session = _get_session(request.user, pk)
    if _panel_search(request):
        return _panel_matches(request, session)
    return _render_session(request, session)


def _panel_matches(request, session: CalibrationSession):
    """The panel picker's matches for an HTMX search: only for who may change the panel."""
    access.require(
        access.can_run_cycle(request.user, session.cycle)
        and session.status == CalibrationSession.Status.OPEN
    )
    form = ParticipantsForm(panel=grid.panel_of(session), search=PanelSearchForm(request.GET))
    return render(request, PANEL_MATCHES_TEMPLATE, {"form": form})


def _back(session, query: str, anchor: str = "") -> str:
    url = reverse("appraisals:session", args=[session.pk])
    return url + (f"?{query}" if query else "") + anchor


@login_required
@require_POST
def session_move(request, pk, appraisal_pk):
    user = request.user
    session = _get_session(user, pk)
    appraisal = access.get_visible_or_404(_appraisals(user, session), pk=appraisal_pk)
    levels = list(session.cycle.rating_scale.levels.order_by("value"))
    form = MoveForm(request.POST, levels=levels)
    status, stale = 400, False
    if form.is_valid():
        try:
            services.calibration_move(
                actor=user,
                session=session,
                appraisal=appraisal,
                to_level=form.level,
                reason=form.cleaned_data["reason"],
                expected_version=form.cleaned_data["version"],
            )
        except StaleEdit:
            status, stale = 409, True
            form.add_error(
                None,
                _(
                    "Someone else changed %(name)s's rating while you were looking. The row "
                    "now shows the rating as it stands; move it again if you still need to."
                )
                % {"name": appraisal.employee.name},
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            moved = _("%(name)s moved to %(level)s.") % {
                "name": appraisal.employee.name,
                "level": form.level,
            }
            if request.htmx:
                return _move_response(request, session, appraisal_pk, notice=moved)
            messages.success(request, moved)
            return redirect(_back(session, request.GET.urlencode(), f"#row-{appraisal_pk}"))
    move = {"pk": appraisal_pk, "form": form, "stale": stale, "name": appraisal.employee.name}
    if request.htmx:
        # HTMX swaps only successful responses: the row comes back with its error.
        return _move_response(request, session, appraisal_pk, move=move)
    return _render_session(request, session, status=status, move=move)


def _move_response(request, session, appraisal_pk, *, notice: str = "", move=None):
    """The row (fresh from the database), with the distribution and the log swapped in
    out of band."""
    row = _appraisals(request.user, session).get(pk=appraisal_pk)
    context = {
        **_grid(request, session),
        **_log(request, session),
        "appraisal": row,
        "notice": notice,
        "move": move or {},
        "oob": True,
    }
    return render(request, "appraisals/calibration_move_response.html", context)


@login_required
@require_POST
def session_participants(request, pk):
    user = request.user
    session = _get_session(user, pk)
    access.require(access.can_run_cycle(user, session.cycle))
    form = ParticipantsForm(request.POST, panel=grid.panel_of(session))
    if form.is_valid():
        try:
            services.calibration_session_set_participants(
                actor=user, session=session, participants=list(form.cleaned_data["participants"])
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The panel was saved."))
            return redirect(_back(session, "", "#panel"))
    return _render_session(request, session, status=400, participants_form=form)


@login_required
@require_POST
def session_close(request, pk):
    user = request.user
    session = _get_session(user, pk)
    access.require(access.can_run_cycle(user, session.cycle))
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = None
    try:
        result = services.calibration_session_close(
            actor=user, session=session, expected_version=version
        )
    except StaleEdit:
        message = _(
            "The session changed while you were looking (the panel, or another close). "
            "Check it again, then close it."
        )
        return _render_session(request, session, status=409, errors=[message])
    except ValidationError as exc:
        return _render_session(request, session, status=400, errors=exc.messages)
    messages.success(
        request,
        ngettext(
            "The session is closed: %(count)s rating is final.",
            "The session is closed: %(count)s ratings are final.",
            result.finalised,
        )
        % {"count": result.finalised},
    )
    if result.not_ready:
        names = ", ".join(result.not_ready[:NAMES_SHOWN])
        more = len(result.not_ready) - NAMES_SHOWN
        if more > 0:
            names += " " + ngettext("and %(count)s more", "and %(count)s more", more) % {
                "count": more
            }
        messages.warning(
            request,
            ngettext(
                "%(count)s person's manager review was not in, so their appraisal stays "
                "open: %(names)s.",
                "%(count)s people's manager reviews were not in, so their appraisals stay "
                "open: %(names)s.",
                len(result.not_ready),
            )
            % {"count": len(result.not_ready), "names": names},
        )
    return redirect("appraisals:session", pk=session.pk)


@login_required
@require_GET
def session_export(request, pk):
    from perfcycle.csv_export import csv_response, number_cell

    session = _get_session(request.user, pk)
    levels = list(session.cycle.rating_scale.levels.order_by("value"))
    form = GridFilterForm(
        request.GET,
        departments=grid.grid_departments(session),
        levels=levels,
    )
    shown = grid.filter_grid(_appraisals(request.user, session), form.filters())

    def rows():
        yield [
            _("Person"),
            _("Employee number"),
            _("Department"),
            _("Manager"),
            _("Overall score"),
            _("Rating from the score"),
            _("Manager's proposed rating"),
            _("Calibrated rating"),
            _("Final rating"),
            _("Stage"),
        ]
        for a in shown.iterator(chunk_size=2000):
            yield [
                a.employee.name,
                a.employee.employee_number,
                a.department.name,
                a.reviewer.name if a.reviewer else "",
                number_cell(a.overall_score),
                str(a.computed_level or ""),
                str(a.manager_level or ""),
                str(a.calibrated_level or ""),
                str(a.final_level or ""),
                a.get_stage_display(),
            ]

    return csv_response(rows(), f"calibration-{session.pk}.csv")


# --- release -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def release(request, pk):
    user = request.user
    cycle = access.get_visible_or_404(access.cycles_visible_to(user), pk=pk)
    access.require(access.can_run_cycle(user, cycle))
    rows = grid.release_counts(cycle)
    form = ReleaseForm(
        request.POST if request.method == "POST" else None,
        departments=[row.department for row in rows],
    )
    errors: list[str] = []
    if form.is_bound and form.is_valid():
        try:
            released = services.results_release(actor=user, cycle=cycle, departments=form.chosen())
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(
                request,
                ngettext(
                    "%(count)s result was released to the employee.",
                    "%(count)s results were released to the employees.",
                    released,
                )
                % {"count": released},
            )
            return redirect("appraisals:release", pk=cycle.pk)
    chosen = set(form["departments"].value() or []) if form.is_bound else set()
    context = {
        "cycle": cycle,
        "rows": rows,
        "form": form,
        "errors": errors,
        "chosen": {str(value) for value in chosen},
        "totals": _totals(rows),
        "release_phase": cycle.status in (P.FEEDBACK, P.CLOSED),
    }
    status = 400 if form.is_bound else 200
    return render(request, "appraisals/release.html", context, status=status)


def _totals(rows: list[grid.DepartmentRelease]) -> dict:
    top = [row for row in rows if row.depth == 0]
    return {
        "released": sum(r.released for r in top),
        "waiting": sum(r.waiting for r in top),
        "not_final": sum(r.not_final for r in top),
    }


urlpatterns = [
    path("cycles/<int:pk>/calibration/", calibration, name="calibration"),
    path("calibration/<int:pk>/", session_detail, name="session"),
    path("calibration/<int:pk>/move/<int:appraisal_pk>/", session_move, name="session_move"),
    path(
        "calibration/<int:pk>/participants/",
        session_participants,
        name="session_participants",
    ),
    path("calibration/<int:pk>/close/", session_close, name="session_close"),
    path("calibration/<int:pk>/export.csv", session_export, name="session_export"),
    path("cycles/<int:pk>/release/", release, name="release"),
]

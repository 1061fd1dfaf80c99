"""The review pages: my appraisal, the appraisal page, the self-review and the manager
review forms, the reviews a manager has to write or approve, approving and returning.

Every appraisal is fetched through ``perfcycle.access`` (ids outside the user's scope
are a 404). What the employee reads of their own appraisal before HR releases the
results is their self-review only (``access.sees_assessment``): the page leaves out
the manager's review, the scores and the ratings, not just hides them. Every change goes
through ``appraisals.services``: a ValidationError is shown next to its field (400), a
StaleEdit as a conflict listing what the other person saved (409), nothing typed lost.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from goals import selectors as goal_selectors
from perfcycle import access
from perfcycle.models import Cycle, RatingLevel
from perfcycle.paging import page_of
from perfcycle.selectors import current_cycle
from perfcycle.services import StaleEdit

from .. import packet, selectors, services, states
from ..models import Appeal, Appraisal, CycleCompetency, Review
from ..review_forms import (
    AcknowledgeForm,
    AppealForm,
    ApproveForm,
    ReturnForm,
    ReviewForm,
)
from ..services import reviews as review_services
from ..services.results import appeal_deadline

A, K, P = Appraisal.Stage, Review.Kind, Cycle.Status
PAGE_SIZE = 25


# --- fetching, through the policy ---------------------------------------------------------


def get_appraisal(user, pk) -> Appraisal:
    visible = packet.with_related(access.appraisals_visible_to(user))
    return access.get_visible_or_404(visible, pk=pk)


def _review(appraisal: Appraisal, kind: str) -> Review:
    review = selectors.review_of(appraisal, kind)
    review.appraisal = appraisal
    prefetch_related_objects([review], "goal_lines", "competency_lines")
    return review


def _levels(cycle: Cycle) -> list[RatingLevel]:
    return list(RatingLevel.objects.filter(scale_id=cycle.rating_scale_id).order_by("value"))


def _competencies(cycle: Cycle) -> list[CycleCompetency]:
    return list(
        cycle.competencies.select_related("competency").order_by("order", "competency__name")
    )


def _problem(user, review: Review, appraisal: Appraisal) -> str:
    """Why ``user`` cannot write ``review`` now ("" when they can), asked before the form
    is offered so the page says so instead of offering a dead form."""
    return review_services.review_write_problem(actor=user, review=review, appraisal=appraisal)


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- my appraisal ------------------------------------------------------------------------


@login_required
@require_GET
def mine(request):
    """The user's appraisal in the running cycle, else their latest one."""
    me = access.roles(request.user).employee
    appraisal = None
    if me is not None:
        own = access.appraisals_visible_to(request.user).filter(employee=me)
        running = current_cycle()
        if running is not None:
            appraisal = own.filter(cycle=running).first()
        if appraisal is None:
            appraisal = own.order_by("-cycle__period_start", "-pk").first()
    if appraisal is not None:
        return redirect("appraisals:appraisal", pk=appraisal.pk)
    return render(request, "appraisals/appraisal_mine_empty.html", {"me": me})


# --- the appraisal page ------------------------------------------------------------------


@login_required
@require_GET
def appraisal_detail(request, pk):
    return render_appraisal(request, get_appraisal(request.user, pk))


def render_appraisal(
    request,
    appraisal: Appraisal,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    forms: dict[str, Any] | None = None,
):
    """The appraisal page; after a refused change, with the bound form (``forms`` maps
    ``return_self``, ``return_manager``, ``approve``, ``acknowledge``, ``appeal`` to it)
    and its errors."""
    user = request.user
    forms = forms or {}
    cycle = appraisal.cycle
    employee_view = access.is_appraisee(user, appraisal)
    sees = access.sees_assessment(user, appraisal)
    administers = access.can_administer_appraisal(user, appraisal)
    self_review = _review(appraisal, K.SELF)
    # The employee's draft is theirs until they submit it.
    self_shown = employee_view or self_review.status == Review.Status.SUBMITTED
    manager_review = _review(appraisal, K.MANAGER) if sees else None
    goals = list(review_services.appraisal_goals(appraisal))
    competencies = _competencies(cycle)

    self_form, self_problem = None, ""
    if employee_view:
        self_problem = _problem(user, self_review, appraisal)
        if not self_problem:
            self_form = ReviewForm(
                review=self_review, goals=goals, competencies=competencies, levels=_levels(cycle)
            )

    context: dict[str, Any] = {
        "appraisal": appraisal,
        "cycle": cycle,
        "employee_view": employee_view,
        "sees": sees,
        "self_review": self_review,
        "self_shown": self_shown,
        "self_form": self_form,
        "self_problem": self_problem,
        "manager_review": manager_review,
        "goal_rows": _side_by_side_goals(
            goals, self_review if self_shown else None, manager_review
        ),
        "competency_rows": _side_by_side_competencies(
            competencies, self_review if self_shown else None, manager_review
        ),
        "errors": errors or [],
        "may": {},
    }
    if not sees:
        # Before release the employee reads their self-review and nothing else.
        return render(request, "appraisals/appraisal_detail.html", context, status=status)

    open_stage = appraisal.stage in states.OPEN_STAGES
    approves = appraisal.stage == A.APPROVAL and access.can_approve_review(user, appraisal)
    may = {
        "manager_review": access.can_open_manager_review(user, appraisal)
        and appraisal.stage != A.WITHDRAWN,
        "approve": approves,
        "return_self": administers and open_stage and self_review.status == Review.Status.SUBMITTED,
        "return_manager": (administers or approves)
        and open_stage
        and manager_review.status == Review.Status.SUBMITTED,
        "acknowledge": access.can_acknowledge(user, appraisal),
    }
    appeals = []
    if employee_view or administers:
        appeals = list(appraisal.appeals.select_related("new_level", "resolved_by"))
    deadline = appeal_deadline(appraisal)
    appeal_open = (
        may["acknowledge"]
        and deadline is not None
        and timezone.now() <= deadline
        and not any(appeal.status == Appeal.Status.OPEN for appeal in appeals)
    )
    context.update(
        may=may,
        administers=administers,
        appeals=appeals,
        appeal_deadline=deadline,
        appeal_open=appeal_open,
        return_self_form=forms.get("return_self") or ReturnForm(kind=K.SELF),
        return_manager_form=forms.get("return_manager") or ReturnForm(kind=K.MANAGER),
        approve_form=forms.get("approve") or ApproveForm(),
        acknowledge_form=forms.get("acknowledge")
        or AcknowledgeForm(initial={"comment": appraisal.employee_comment}),
        appeal_form=forms.get("appeal") or AppealForm(),
        adjustments=list(
            access.calibration_adjustments_visible_to(user)
            .filter(appraisal=appraisal)
            .select_related("from_level", "to_level", "actor")
        ),
    )
    return render(request, "appraisals/appraisal_detail.html", context, status=status)


def _side_by_side_goals(goals, self_review: Review | None, manager_review: Review | None):
    mine = {line.goal_id: line for line in self_review.goal_lines.all()} if self_review else {}
    theirs = (
        {line.goal_id: line for line in manager_review.goal_lines.all()} if manager_review else {}
    )
    return [
        SimpleNamespace(goal=goal, self=mine.get(goal.pk), manager=theirs.get(goal.pk))
        for goal in goals
    ]


def _side_by_side_competencies(rows, self_review: Review | None, manager_review: Review | None):
    mine = (
        {line.competency_id: line for line in self_review.competency_lines.all()}
        if self_review
        else {}
    )
    theirs = (
        {line.competency_id: line for line in manager_review.competency_lines.all()}
        if manager_review
        else {}
    )
    return [
        SimpleNamespace(
            row=row, self=mine.get(row.competency_id), manager=theirs.get(row.competency_id)
        )
        for row in rows
    ]


# --- writing a review: the self-review and the manager review ----------------------------


@dataclass
class Conflict:
    """What the other person saved while this user was editing, and who and when."""

    changed: dict[str, Any]
    by: str
    at: datetime.datetime | None


def _form(data, appraisal: Appraisal, review: Review, other: Review | None = None) -> ReviewForm:
    return ReviewForm(
        data,
        review=review,
        goals=list(review_services.appraisal_goals(appraisal)),
        competencies=_competencies(appraisal.cycle),
        levels=_levels(appraisal.cycle),
        other=other,
    )


def _save(request, appraisal: Appraisal, review: Review, form: ReviewForm, *, other=None):
    """Save or submit ``review`` from ``form``. Returns ``(form, status, conflict)``: on
    success ``status`` is 0; on a conflict the form is rebuilt from the same input
    carrying the version now stored, so saving again goes through."""
    if not form.is_valid():
        return form, 400, None
    submit = request.POST.get("action") == "submit"
    try:
        services.review_save(
            actor=request.user,
            review=review,
            data=form.review_data(),
            expected_version=form.cleaned_data["version"],
            submit=submit,
        )
    except StaleEdit as exc:
        fresh = _review(appraisal, review.kind)
        data = request.POST.copy()
        data["version"] = str(fresh.version)
        form = _form(data, appraisal, fresh, other)
        form.is_valid()
        editor = fresh.last_edited_by
        conflict = Conflict(
            changed=exc.changed,
            by=(editor.full_name or editor.email) if editor else _("someone else"),
            at=fresh.updated_at,
        )
        return form, 409, conflict
    except ValidationError as exc:
        form.add_service_errors(exc)
        return form, 400, None
    return form, 0, None


@login_required
@require_http_methods(["GET", "POST"])
def write_self_review(request, pk):
    user = request.user
    appraisal = get_appraisal(user, pk)
    access.require(access.can_write_self_review(user, appraisal))
    review = _review(appraisal, K.SELF)
    form, status, conflict, problem = _write(request, appraisal, review)
    if status == 0:
        if request.POST.get("action") == "submit":
            messages.success(
                request, _("Your self-review was submitted. Your manager can read it now.")
            )
            return redirect("appraisals:appraisal", pk=appraisal.pk)
        messages.success(request, _("Your self-review was saved as a draft."))
        return redirect("appraisals:self_review", pk=appraisal.pk)
    context = {
        "appraisal": appraisal,
        "review": review,
        "form": form,
        "problem": problem,
        "conflict": conflict,
        "goal_rows": _side_by_side_goals(review_services.appraisal_goals(appraisal), review, None),
        "competency_rows": _side_by_side_competencies(_competencies(appraisal.cycle), review, None),
    }
    return render(request, "appraisals/review_self.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def write_manager_review(request, pk):
    user = request.user
    appraisal = get_appraisal(user, pk)
    access.require(access.can_open_manager_review(user, appraisal))
    review = _review(appraisal, K.MANAGER)
    own = _review(appraisal, K.SELF)
    other = own if own.status == Review.Status.SUBMITTED else None
    form, status, conflict, problem = _write(request, appraisal, review, other=other)
    if status == 0:
        if request.POST.get("action") == "submit":
            messages.success(request, _submitted_message(appraisal))
            return redirect("appraisals:appraisal", pk=appraisal.pk)
        messages.success(request, _("Your review was saved as a draft."))
        return redirect("appraisals:manager_review", pk=appraisal.pk)
    context = {
        "appraisal": appraisal,
        "review": review,
        "self_review": own,
        "self_submitted": other is not None,
        "form": form,
        "problem": problem,
        "conflict": conflict,
        "score": _score_panel(appraisal, form),
        "live": form is not None and not problem,
        "goal_rows": _side_by_side_goals(review_services.appraisal_goals(appraisal), other, review),
        "competency_rows": _side_by_side_competencies(
            _competencies(appraisal.cycle), other, review
        ),
    }
    return render(request, "appraisals/review_manager.html", context, status=status)


def _write(request, appraisal: Appraisal, review: Review, *, other: Review | None = None):
    """The form of a review page and what became of a POST: ``(form, status, conflict,
    problem)``, ``status`` 0 when the review was saved.

    When the review cannot be written (``problem``), a GET shows it read-only and a POST
    is refused with the reason (400), the input shown back but not saved."""
    problem = _problem(request.user, review, appraisal)
    if request.method != "POST":
        form = None if problem else _form(None, appraisal, review, other)
        return form, 200, None, problem
    form = _form(request.POST, appraisal, review, other)
    if problem:
        form.is_valid()
        return form, 400, None, problem
    form, status, conflict = _save(request, appraisal, review, form, other=other)
    return form, status, conflict, ""


def _submitted_message(appraisal: Appraisal) -> str:
    appraisal.refresh_from_db(fields=["stage"])
    if appraisal.stage == A.APPROVAL:
        return _("Your review was submitted; it now waits for second-level approval.")
    return _("Your review was submitted; the appraisal is ready for calibration.")


@login_required
@require_GET
def score_preview(request, pk):
    """The "score so far" panel for the scores typed in the manager's form (HTMX)."""
    user = request.user
    appraisal = get_appraisal(user, pk)
    access.require(access.can_open_manager_review(user, appraisal))
    review = _review(appraisal, K.MANAGER)
    form = _form(request.GET, appraisal, review)
    context = {"appraisal": appraisal, "score": _score_panel(appraisal, form), "live": True}
    return render(request, "appraisals/review_manager.html#score", context)


class _Lines:
    def __init__(self, items):
        self._items = items

    def all(self):
        return self._items


def _score_panel(appraisal: Appraisal, form: ReviewForm | None) -> dict[str, Any]:
    """The scores the manager's lines give as typed (unsaved ones too; without a form, as
    saved), computed by the same function the service stores them with."""
    if form is None:
        scores = review_services.compute_scores(appraisal)
        proposed_id = _review(appraisal, K.MANAGER).proposed_level_id
    else:
        scores = review_services.compute_scores(appraisal, review=_typed(form))
        proposed_id = form.proposed_level_id()
    levels = {level.value: level for level in _levels(appraisal.cycle)}
    values = sorted(levels)
    level = levels.get(scores.level_value)
    allowed = []
    if level is not None:
        at = values.index(level.value)
        allowed = [levels[v] for v in values[max(at - 1, 0) : at + 2]]
    proposed = next((lv for lv in levels.values() if lv.pk == proposed_id), None)
    return {
        "scores": scores,
        "level": level,
        "allowed": allowed,
        "proposed": proposed,
        "deviates": proposed is not None and level is not None and proposed.pk != level.pk,
        "too_far": proposed is not None and level is not None and proposed not in allowed,
    }


def _typed(form: ReviewForm):
    """The manager's lines as typed, in the shape ``compute_scores`` reads."""
    return SimpleNamespace(
        goal_lines=_Lines(
            [SimpleNamespace(goal_id=k, score=v) for k, v in form.goal_scores().items()]
        ),
        competency_lines=_Lines(
            [
                SimpleNamespace(competency_id=k, rating=v)
                for k, v in form.competency_ratings().items()
            ]
        ),
    )


# --- reviews to write and to approve -------------------------------------------------------


def _page(request, items, param: str):
    return page_of(request, items, size=PAGE_SIZE, param=param)


@login_required
@require_GET
def reviews_list(request):
    user = request.user
    cycle = goal_selectors.cycle_for(user, request.GET.get("cycle"))
    context: dict[str, Any] = {"cycle": cycle, "to_write": None, "to_approve": None}
    if cycle is not None:
        to_write = selectors.reviews_to_write(user=user, cycle=cycle).prefetch_related("reviews")
        to_approve = selectors.approvals_waiting(user=user, cycle=cycle).prefetch_related("reviews")
        context.update(
            to_write=_page(request, to_write, "page"),
            to_approve=_page(request, to_approve, "approvals_page"),
            writing_open=cycle.status in states.REVIEW_PHASES[K.MANAGER],
            cycles=access.cycles_visible_to(user).order_by("-period_start"),
        )
        for page in (context["to_write"], context["to_approve"]):
            for appraisal in page:
                by_kind = {review.kind: review for review in appraisal.reviews.all()}
                appraisal.self_rev = by_kind.get(K.SELF)
                appraisal.manager_rev = by_kind.get(K.MANAGER)
    return render(request, "appraisals/review_list.html", context)


def refused(request, appraisal: Appraisal, exc: ValidationError, form, key: str):
    """Back to the appraisal page after a service refused a change made there: a field's
    error beside the field of the bound form, anything else at the top of the page (the
    form itself may not be offered any more, e.g. an approval no longer waiting)."""
    errors = []
    if hasattr(exc, "error_dict"):
        form.add_service_errors(exc)
    else:
        errors = exc.messages
    return render_appraisal(request, appraisal, status=400, errors=errors, forms={key: form})


@login_required
@require_POST
def approve(request, pk):
    user = request.user
    appraisal = get_appraisal(user, pk)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return render_appraisal(request, appraisal, status=400, forms={"approve": form})
    try:
        services.review_approve(
            actor=user, appraisal=appraisal, comment=form.cleaned_data["comment"]
        )
    except ValidationError as exc:
        return refused(request, appraisal, exc, form, "approve")
    messages.success(
        request,
        _("You approved the review of %(name)s; it is ready for calibration.")
        % {"name": appraisal.employee.name},
    )
    return redirect(_safe_next(request, reverse("appraisals:reviews")))


@login_required
@require_POST
def return_review(request, pk, kind):
    if kind not in K.values:
        raise Http404
    user = request.user
    appraisal = get_appraisal(user, pk)
    review = _review(appraisal, kind)
    form = ReturnForm(request.POST, kind=kind)
    key = f"return_{kind}"
    if not form.is_valid():
        return render_appraisal(request, appraisal, status=400, forms={key: form})
    try:
        services.review_return(actor=user, review=review, comment=form.cleaned_data["comment"])
    except ValidationError as exc:
        return refused(request, appraisal, exc, form, key)
    if kind == K.SELF:
        author = appraisal.employee.name
    else:
        author = appraisal.reviewer.name if appraisal.reviewer else _("the reviewer")
    messages.success(
        request,
        _("The %(review)s went back to %(author)s with your comment.")
        % {"review": review.get_kind_display().lower(), "author": author},
    )
    return redirect(_safe_next(request, reverse("appraisals:appraisal", args=[appraisal.pk])))


urlpatterns = [
    path("mine/", mine, name="mine"),
    path("reviews/", reviews_list, name="reviews"),
    path("<int:pk>/", appraisal_detail, name="appraisal"),
    path("<int:pk>/self-review/", write_self_review, name="self_review"),
    path("<int:pk>/manager-review/", write_manager_review, name="manager_review"),
    path("<int:pk>/manager-review/score/", score_preview, name="score_preview"),
    path("<int:pk>/approve/", approve, name="approve"),
    path("<int:pk>/return/<slug:kind>/", return_review, name="return"),
]

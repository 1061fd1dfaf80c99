"""One goal's pages: the goal itself (its chain, what serves it, check-ins with a chart, its
history and the actions the user may take), the create and edit form, decomposing a
company objective into department goals, and closing goal setting for a cycle.

Every goal is fetched through ``perfcycle.access`` (ids outside the user's scope are a
404); every change goes through ``goals.services``, whose ValidationError is shown on the
page with a 400 and whose StaleEdit is shown as a conflict (409), nothing lost.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from perfcycle import access
from perfcycle.hierarchy import ancestor_ids
from perfcycle.models import Cycle, Position
from perfcycle.services import StaleEdit

from .. import display, selectors, services, states
from ..forms import ActionForm, CheckInForm, DecomposeForm, GoalForm, owner_display
from ..models import Goal

L, S = Goal.Level, Goal.Status
PAGE_SIZE = 25
# The check-in table and chart show this many of the latest check-ins.
CHECKINS_SHOWN = 100
CHILD_LEVEL = {L.COMPANY: L.DEPARTMENT, L.DEPARTMENT: L.POSITION, L.POSITION: L.PERSONAL}
ACTIONS = (
    "submit",
    "approve",
    "return",
    "reject",
    "cancel",
    "achieve",
    "miss",
    "reopen",
    "lock",
    "cascade",
    "push",
    "delete",
)


# The actions offered in the page's "What you can do" card.
CARD_ACTIONS = {*ACTIONS, "close_goal_setting"} - {"cascade", "push"}


def _get_goal(user, pk) -> Goal:
    visible = access.goals_visible_to(user).select_related(
        "cycle", "department", "position__department", "employee__user", "employee__department"
    )
    return access.get_visible_or_404(visible, pk=pk)


# --- the goal page ------------------------------------------------------------------------


@login_required
@require_GET
def goal_detail(request, pk):
    return _render_detail(request, _get_goal(request.user, pk))


def _render_detail(
    request,
    goal: Goal,
    *,
    status: int = 200,
    checkin_form: CheckInForm | None = None,
    action: str = "",
    action_form: ActionForm | None = None,
    errors: list[str] | None = None,
    stale: bool = False,
):
    """The goal page; after a refused change, with the error where it belongs."""
    user = request.user
    visible = access.goals_visible_to(user)
    chain = ancestor_ids(Goal, "parent", goal.pk)
    related = visible.select_related(
        "cycle", "department", "position__department", "employee__user"
    ).in_bulk([*chain, goal.source_id, goal.previous_id])
    children = Paginator(
        visible.filter(parent=goal)
        .select_related("department", "position__department", "employee__user")
        .order_by("level", "-weight", "title", "pk"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    checkins = list(
        goal.checkins.select_related("author").order_by("-recorded_at", "-pk")[: CHECKINS_SHOWN + 1]
    )
    more_checkins = len(checkins) > CHECKINS_SHOWN
    checkins = checkins[:CHECKINS_SHOWN]
    for checkin in checkins:
        checkin.deletable = access.can_delete_checkin(request.user, checkin)
    attainments = {c.pk: value for c, value in display.checkin_attainments(goal, checkins)}
    may = _permissions(user, goal)
    available = _available_actions(
        goal, may, has_children=children.paginator.count > 0, has_checkins=bool(checkins)
    )
    if checkin_form is None and may["checkin"] and goal.status in Goal.TRACKED:
        checkin_form = CheckInForm(goal=goal)
    context = {
        "goal": goal,
        "breadcrumb": [related[i] for i in reversed(chain) if i in related],
        "source": related.get(goal.source_id),
        "previous": related.get(goal.previous_id),
        "owner_url": _owner_url(goal),
        "kpi_summary": display.kpi_summary(goal),
        "children": children,
        "checkins": [(c, attainments.get(c.pk)) for c in checkins],
        "more_checkins": more_checkins,
        "checkins_shown": CHECKINS_SHOWN,
        "chart": display.progress_chart(goal, checkins),
        "history": selectors.goal_history(goal, visible=visible),
        "may": may,
        "actions": available,
        "card_actions": available & CARD_ACTIONS,
        # A refused check-in keeps its form (and the reason) even where none is offered.
        "checkin_form": checkin_form
        if checkin_form is not None and (checkin_form.is_bound or "checkin" in available)
        else None,
        "action": action,
        "action_form": action_form,
        "errors": errors or [],
        "stale": stale,
        "copies": selectors.position_kpi_copies(goal) if goal.level == L.POSITION else None,
        "child_level": _child_level_label(goal),
        "cycle_open": goal.cycle.status != Cycle.Status.CLOSED,
    }
    return render(request, "goals/goal_detail.html", context, status=status)


def _permissions(user, goal: Goal) -> dict:
    """What the policy lets the user do with this goal (each answer asked once)."""
    r = access.roles(user)
    add_child = access.can_add_goal_under(user, goal)
    return {
        "change": access.can_change_goal(user, goal),
        "decide": access.can_decide_goal(user, goal),
        "checkin": access.can_record_checkin(user, goal),
        "reopen": access.can_reopen_goal(user, goal),
        "close_goal_setting": access.can_close_goal_setting(user, goal.cycle),
        "me": r.employee.pk if r.employee is not None else None,
        "add_child": add_child,
        "decompose": goal.level == L.COMPANY and add_child,
    }


def _available_actions(goal: Goal, may, *, has_children: bool, has_checkins: bool) -> set[str]:
    """What the page offers: the policy allows it and the goal's status permits it (the
    services check both again)."""
    if goal.cycle.status == Cycle.Status.CLOSED:
        return set()
    status, locked = goal.status, goal.is_locked
    setting_open = goal.cycle.status in services.GOAL_SETTING_OPEN
    finished = status in (S.CANCELLED, S.ACHIEVED, S.MISSED)
    offered = set()
    if may["checkin"] and status in Goal.TRACKED:
        offered.add("checkin")
    if may["change"] and not locked and not finished:
        offered.add("edit")
    if may["change"] and status == S.DRAFT and goal.employee_id == may["me"]:
        offered.add("submit")
    if may["decide"]:
        if status in states.TRANSITIONS["approve"][0]:
            offered.add("approve")
        if status == S.PROPOSED:
            offered.update(("return", "reject"))
        if status in states.TRANSITIONS["achieve"][0]:
            offered.update(("achieve", "miss"))
    if may["change"] and status in states.TRANSITIONS["cancel"][0] and not locked:
        offered.add("cancel")
    if may["change"] and status in (S.DRAFT, S.PROPOSED) and not has_children and not has_checkins:
        offered.add("delete")
    if may["reopen"] and locked:
        offered.add("reopen")
    if may["reopen"] and not locked and not setting_open and status != S.CANCELLED:
        offered.add("lock")
    if goal.level == L.POSITION and may["change"] and status != S.CANCELLED:
        offered.add("cascade")
        if not locked and not finished:
            offered.add("push")
    if may["decompose"] and status != S.CANCELLED:
        offered.add("decompose")
    if may["add_child"] and status != S.CANCELLED:
        offered.add("add_child")
    if may["close_goal_setting"] and goal.cycle.status == Cycle.Status.GOAL_SETTING:
        offered.add("close_goal_setting")
    return offered


def _owner_url(goal: Goal) -> str:
    if goal.level == L.DEPARTMENT:
        return reverse("department_detail", args=[goal.department_id])
    if goal.level == L.POSITION:
        return reverse("department_detail", args=[goal.position.department_id])
    if goal.level == L.PERSONAL:
        return reverse("employee_profile", args=[goal.employee_id])
    return ""


def _child_level_label(goal: Goal) -> str:
    level = CHILD_LEVEL.get(L(goal.level))
    return str(L(level).label) if level else ""


# --- check-ins ----------------------------------------------------------------------------


@login_required
@require_POST
def checkin_create(request, pk):
    goal = _get_goal(request.user, pk)
    access.require(access.can_record_checkin(request.user, goal))
    form = CheckInForm(request.POST, goal=goal)
    if form.is_valid():
        try:
            services.checkin_record(actor=request.user, goal=goal, **form.cleaned_data)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Progress recorded."))
            return redirect(reverse("goals:detail", args=[goal.pk]) + "#checkins")
    return _render_detail(request, goal, status=400, checkin_form=form)


@login_required
@require_POST
def checkin_delete(request, pk):
    user = request.user
    checkin = access.get_visible_or_404(access.checkins_visible_to(user), pk=pk)
    goal = _get_goal(user, checkin.goal_id)
    try:
        services.checkin_delete(actor=user, checkin=checkin)
    except ValidationError as exc:
        return _render_detail(request, goal, status=400, errors=exc.messages)
    messages.success(request, _("The check-in was deleted."))
    return redirect(reverse("goals:detail", args=[goal.pk]) + "#checkins")


# --- workflow actions ---------------------------------------------------------------------


@login_required
@require_POST
def goal_action(request, pk, action):
    if action not in ACTIONS:
        raise Http404
    user = request.user
    goal = _get_goal(user, pk)
    form = ActionForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, goal, status=400, action=action, action_form=form)
    comment, version = form.cleaned_data["comment"], form.cleaned_data["version"]
    try:
        message = _perform(action, user=user, goal=goal, comment=comment, version=version)
    except StaleEdit:
        return _render_detail(request, goal, status=409, stale=True)
    except ValidationError as exc:
        form.add_service_errors(exc)
        return _render_detail(request, goal, status=400, action=action, action_form=form)
    messages.success(request, message)
    if action == "delete":
        if goal.parent_id:
            return redirect("goals:detail", pk=goal.parent_id)
        return redirect("home")
    return redirect("goals:detail", pk=goal.pk)


def _perform(action: str, *, user, goal: Goal, comment: str, version: int | None) -> str:
    """Call the service for ``action``; the message to show when it worked."""
    common = {"actor": user, "goal": goal}
    if action == "submit":
        services.goal_submit(**common, expected_version=version)
        return _("The goal was sent for approval.")
    if action == "approve":
        services.goal_approve(**common, comment=comment, expected_version=version)
        return _("The goal was approved.")
    if action == "return":
        services.goal_return(**common, comment=comment, expected_version=version)
        return _("The goal was returned to its owner with your comment.")
    if action == "reject":
        services.goal_reject(**common, comment=comment, expected_version=version)
        return _("The goal was rejected.")
    if action == "cancel":
        services.goal_cancel(**common, reason=comment, expected_version=version)
        return _("The goal was cancelled; its weight no longer counts.")
    if action in ("achieve", "miss"):
        achieved = action == "achieve"
        services.goal_finish(**common, achieved=achieved, comment=comment, expected_version=version)
        return _("The goal was marked achieved.") if achieved else _("The goal was marked missed.")
    if action == "reopen":
        services.goal_reopen(**common, reason=comment, expected_version=version)
        return _("The goal was reopened; it can be changed until it is locked again.")
    if action == "lock":
        services.goal_lock(**common, expected_version=version)
        return _("The goal was locked again.")
    if action == "cascade":
        created = services.position_kpi_cascade(**common)
        if not created:
            return _("Every holder of the position already has a copy.")
        return ngettext(
            "Copied to %(count)s new holder.", "Copied to %(count)s new holders.", created
        ) % {"count": created}
    if action == "push":
        result = services.position_kpi_push(**common)
        return (
            ngettext("Updated %(count)s copy.", "Updated %(count)s copies.", result.updated)
            % {"count": result.updated}
            + " "
            + ngettext(
                "%(count)s adjusted copy was left alone.",
                "%(count)s adjusted copies were left alone.",
                result.adjusted,
            )
            % {"count": result.adjusted}
        )
    services.goal_delete(**common)
    return _("The goal was deleted.")


# --- create and edit ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def goal_create(request):
    user = request.user
    visible = access.goals_visible_to(user)
    parent = _goal_from_query(visible, request.GET.get("parent"))
    cycle = selectors.cycle_for(
        user, request.GET.get("cycle") or (parent.cycle_id if parent else None)
    )
    if cycle is None:
        raise Http404
    if parent is not None and parent.cycle_id != cycle.pk:
        parent = None
    level = request.GET.get("level") or (CHILD_LEVEL.get(L(parent.level)) if parent else None)
    if level not in L.values:
        return render(request, "goals/goal_level.html", _level_choices(user, cycle, parent))
    owner = _owner_from_query(user, level, request.GET.get("owner"))
    me = access.roles(user).employee
    if (
        owner is None
        and level == L.PERSONAL
        and me is not None
        and not access.personal_goal_owners_for(user).exclude(pk=me.pk).exists()
    ):
        owner = me  # nobody else to choose
    choices = None
    if owner is not None or level == L.COMPANY:
        access.require(access.can_create_goal(user, level=level, owner=owner))
    else:
        choices = _owner_choices(user, level)
        access.require(choices.exists())
    initial = {"parent": parent.pk if parent else None}
    if owner is None and level == L.PERSONAL and me is not None:
        initial["owner"] = me.pk
    form = GoalForm(
        request.POST if request.method == "POST" else None,
        level=level,
        cycle=cycle,
        visible=visible,
        owner=owner,
        owner_choices=choices,
        initial=initial,
    )
    _weight_help(form, cycle=cycle, level=level, owner=owner)
    if form.is_bound and form.is_valid():
        chosen = form.cleaned_data.get("owner")
        submit = request.POST.get("save") != "draft"
        try:
            goal = services.goal_create(
                actor=user,
                cycle=cycle,
                level=level,
                owner=chosen,
                parent=form.cleaned_data.get("parent"),
                data=form.goal_data(with_parent=False),
                submit=submit,
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _created_message(goal))
            return redirect("goals:detail", pk=goal.pk)
    # An employee's own goal is a proposal (or a draft) for their manager; the service
    # decides, the page only offers the matching buttons.
    proposing = access.proposes_own_goal(user, level=level, owner=owner)
    context = _form_context(form, cycle=cycle, level=level, owner=owner, proposing=proposing)
    return render(request, "goals/goal_form.html", context, status=400 if form.is_bound else 200)


@login_required
@require_http_methods(["GET", "POST"])
def goal_edit(request, pk):
    user = request.user
    goal = _get_goal(user, pk)
    access.require(access.can_change_goal(user, goal))
    form = GoalForm(
        request.POST if request.method == "POST" else None,
        level=goal.level,
        cycle=goal.cycle,
        visible=access.goals_visible_to(user),
        goal=goal,
    )
    _weight_help(form, cycle=goal.cycle, level=goal.level, owner=goal.owner, goal=goal)
    status, stale = 200, False
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                services.goal_update(
                    actor=user,
                    goal=goal,
                    data=form.goal_data(with_parent=True),
                    expected_version=form.cleaned_data["version"],
                    reason=form.cleaned_data["change_reason"],
                )
            except StaleEdit:
                status, stale = 409, True
                form.add_error(
                    None,
                    _(
                        "Someone else changed this goal while you were editing it. Your "
                        "changes are kept below but not saved: open the latest version, "
                        "then make them again."
                    ),
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("The goal was saved."))
                return redirect("goals:detail", pk=goal.pk)
    context = _form_context(
        form, cycle=goal.cycle, level=goal.level, owner=goal.owner, goal=goal, stale=stale
    )
    return render(request, "goals/goal_form.html", context, status=status)


def _goal_from_query(visible, value) -> Goal | None:
    """A goal named in the query string, if it is one the user may see."""
    try:
        pk = int(value)
    except (TypeError, ValueError):
        return None
    return visible.select_related("cycle").filter(pk=pk).first()


def _owner_from_query(user, level: str, value):
    """The owner named in the query string, through the policy (404 outside scope)."""
    if level == L.COMPANY or value in (None, ""):
        return None
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise Http404 from None
    if level == L.DEPARTMENT:
        return access.get_visible_or_404(access.departments_visible_to(user), pk=pk)
    if level == L.POSITION:
        scope = access.positions_visible_to(user).select_related("department")
        return access.get_visible_or_404(scope, pk=pk)
    scope = access.employees_visible_to(user).select_related("user", "department")
    return access.get_visible_or_404(scope, pk=pk)


def _owner_choices(user, level: str):
    """Whom the user may pick as owner when the page did not fix one."""
    settable = access.departments_goal_settable_by(user)
    if level == L.DEPARTMENT:
        return settable.order_by("name", "pk")
    if level == L.POSITION:
        return (
            Position.objects.filter(department__in=settable.values("pk"))
            .select_related("department")
            .order_by("title", "department__name", "pk")
        )
    return (
        access.personal_goal_owners_for(user)
        .select_related("user", "department")
        .order_by("user__full_name", "pk")
    )


def _weight_help(form: GoalForm, *, cycle, level, owner, goal: Goal | None = None) -> None:
    """ "Weights must total 100; they are at 85 without this goal" (the live goals)."""
    field = form.fields["weight"]
    if level != L.COMPANY and owner is None:
        field.help_text = _("Weights of one owner's goals in a cycle must total 100.")
        return
    total = selectors.weights_total(cycle=cycle, level=level, owner=owner)
    if goal is not None and goal.status in Goal.COUNTED:
        total -= goal.weight
    values = {"total": display.plain_number(total)}
    if level == L.COMPANY:
        text = _(
            "Weights of the company objectives must total 100; they are at %(total)s "
            "without this one."
        )
    else:
        text = _(
            "Weights of this owner's goals must total 100; they are at %(total)s without this goal."
        )
    field.help_text = text % values


def _form_context(form, *, cycle, level, owner, goal=None, stale=False, proposing=False):
    errors = form.errors if form.is_bound else {}
    return {
        "form": form,
        "goal": goal,
        "cycle": cycle,
        "level": level,
        "level_label": L(level).label,
        "owner_name": owner_display(owner) if owner is not None else "",
        "needs_reason": "target_reason" in errors,
        # Nothing to continue (no earlier goal of this owner): the question is left out.
        "show_previous": bool(form["target_reason"].value())
        or form.fields["previous"].queryset.exists(),
        "stale": stale,
        "proposing": proposing,
    }


def _created_message(goal: Goal) -> str:
    if goal.status == S.PROPOSED:
        return _("Your goal was sent to your manager for approval.")
    if goal.status == S.DRAFT:
        return _("Your goal was saved as a draft; submit it for approval when it is ready.")
    if goal.level == L.POSITION:
        copies = Goal.objects.filter(source=goal).count()
        return ngettext(
            "The KPI was created and copied to %(count)s person holding the position.",
            "The KPI was created and copied to %(count)s people holding the position.",
            copies,
        ) % {"count": copies}
    return _("The goal was created.")


def _level_choices(user, cycle: Cycle, parent: Goal | None) -> dict:
    """The levels the user may start a goal at, for the page that asks which."""
    settable = access.departments_goal_settable_by(user).exists()
    options = []
    if access.can_create_goal(user, level=L.COMPANY):
        options.append((L.COMPANY, _("A line of the strategy or business plan, for the company.")))
    if settable:
        options.append((L.DEPARTMENT, _("A department's share of a company objective.")))
        options.append((L.POSITION, _("A KPI for a position, copied to everyone holding it.")))
    if access.can_set_personal_goals(user):
        options.append((L.PERSONAL, _("A goal of one person, serving a position KPI.")))
    return {
        "cycle": cycle,
        "options": [(level, L(level).label, text) for level, text in options],
        "parent": parent,
    }


# --- decompose a company objective --------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def goal_decompose(request, pk):
    user = request.user
    objective = _get_goal(user, pk)
    if objective.level != L.COMPANY:
        raise Http404
    settable = access.departments_goal_settable_by(user)
    departments = selectors.departments_for_decomposition(settable, objective=objective)
    access.require(bool(departments))
    form = DecomposeForm(
        request.POST if request.method == "POST" else None,
        departments=settable,
        objective=objective,
    )
    if form.is_bound and form.is_valid():
        try:
            created = services.company_objective_decompose(
                actor=user,
                objective=objective,
                departments=list(form.cleaned_data["departments"]),
                weight=form.cleaned_data["weight"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(
                request,
                ngettext(
                    "Created %(count)s department goal.",
                    "Created %(count)s department goals.",
                    len(created),
                )
                % {"count": len(created)},
            )
            return redirect("goals:detail", pk=objective.pk)
    chosen = set(request.POST.getlist("departments")) if form.is_bound else set()
    context = {
        "objective": objective,
        "form": form,
        "departments": departments,
        "chosen": chosen,
        "waiting": sum(1 for d in departments if not d.has_goal),
    }
    return render(
        request, "goals/goal_decompose.html", context, status=400 if form.is_bound else 200
    )


# --- close goal setting ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def close_goal_setting(request, pk):
    user = request.user
    cycle = access.get_visible_or_404(access.cycles_visible_to(user), pk=pk)
    access.require(access.can_close_goal_setting(user, cycle))
    errors: list[str] = []
    if request.method == "POST":
        try:
            result = services.goal_setting_close(actor=user, cycle=cycle)
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(
                request,
                _(
                    "Goal setting for %(cycle)s is closed: %(activated)s goals became active "
                    "and %(locked)s goals are locked."
                )
                % {"cycle": cycle.name, "activated": result.activated, "locked": result.locked},
            )
            return redirect("goals:close_goal_setting", pk=cycle.pk)
    problems = selectors.weight_problems(cycle=cycle)
    context = {
        "cycle": cycle,
        "errors": errors,
        "page_obj": Paginator(problems, PAGE_SIZE).get_page(request.GET.get("page")),
        "problem_count": len(problems),
        "pending": selectors.proposals_waiting(cycle=cycle),
        "open": cycle.status == Cycle.Status.GOAL_SETTING,
    }
    return render(
        request, "goals/goal_close_goal_setting.html", context, status=400 if errors else 200
    )


urlpatterns = [
    path("new/", goal_create, name="create"),
    path("<int:pk>/", goal_detail, name="detail"),
    path("<int:pk>/edit/", goal_edit, name="edit"),
    path("<int:pk>/check-ins/", checkin_create, name="checkin"),
    path("check-ins/<int:pk>/delete/", checkin_delete, name="checkin_delete"),
    path("<int:pk>/actions/<slug:action>/", goal_action, name="action"),
    path("<int:pk>/decompose/", goal_decompose, name="decompose"),
    path("cycles/<int:pk>/close-goal-setting/", close_goal_setting, name="close_goal_setting"),
]

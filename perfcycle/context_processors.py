"""What the page shell (header and side navigation) needs on every page."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from . import access, notifications
from .selectors import current_cycle


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"company_name": settings.COMPANY_NAME}
    return {
        "company_name": settings.COMPANY_NAME,
        "current_cycle": SimpleLazyObject(current_cycle),
        "nav": SimpleLazyObject(lambda: _navigation(user)),
        # One count query, and only on a page that shows it.
        "inbox": SimpleLazyObject(lambda: {"unread": notifications.unread_count(user)}),
    }


def _navigation(user) -> dict:
    """Which sections of the side navigation this person may use."""
    r = access.roles(user)
    return {
        "my_work": r.employee is not None,
        "my_team": r.is_manager,
        "organisation": r.sees_everyone or r.is_partner,
        "cycles": r.hr_admin,
        "reports": r.sees_everyone or r.is_partner or r.is_manager,
        "goal_coverage": access.can_view_goal_coverage(user),
        "cycle_dashboard": access.can_view_cycle_dashboard(user),
        "department_results": access.can_view_department_results(user),
        "appeals": access.can_administer_appraisals(user),
        "import": access.can_import_org(user),
        "admin": access.can_use_hr_admin(user),
        "roles": r,
    }

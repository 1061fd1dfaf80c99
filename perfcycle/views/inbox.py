"""The inbox: a person's notifications, newest first, and marking them read.

Only the person's own notices are reachable (``access.notifications_visible_to``): an id
of someone else's is a 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from perfcycle import access, notifications

PAGE_SIZE = 25


@login_required
@require_safe
def inbox(request):
    page = Paginator(notifications.inbox_for(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "perfcycle/inbox.html", {"page_obj": page})


@login_required
@require_POST
def mark_read(request, pk):
    found = access.get_visible_or_404(access.notifications_visible_to(request.user), pk=pk)
    notifications.notification_mark_read(user=request.user, notification=found)
    return redirect(_back(request))


@login_required
@require_POST
def mark_all_read(request):
    count = notifications.notifications_mark_all_read(user=request.user)
    if count:
        messages.success(
            request,
            ngettext(
                "%(count)d notification marked as read.",
                "%(count)d notifications marked as read.",
                count,
            )
            % {"count": count},
        )
    else:
        messages.info(request, _("Nothing was unread."))
    return redirect(_back(request))


def _back(request) -> str:
    """Back to the inbox page the form was on."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("inbox")

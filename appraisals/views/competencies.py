"""The competency library HR rates people on: the list, and adding one.

A cycle picks its competencies (with weights) on its settings page; this page is where
new ones are written. Competencies are not deleted: past appraisals rated them.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from goals.forms import ServiceErrorsMixin
from perfcycle import access

from .. import services
from ..models import Competency


class CompetencyForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What the behaviour looks like when it is done well."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""


@login_required
@require_http_methods(["GET", "POST"])
def competency_list(request):
    user = request.user
    access.require(access.can_run_cycle(user))
    form = CompetencyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                competency = services.competency_create(
                    actor=user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(
                    request,
                    _("%(name)s was added; choose it on a cycle's settings page.")
                    % {"name": competency.name},
                )
                return redirect("appraisals:competencies")
        status = 400
    return render(
        request,
        "appraisals/competency_list.html",
        {"competencies": Competency.objects.order_by("name"), "form": form},
        status=status,
    )


urlpatterns = [path("competencies/", competency_list, name="competencies")]

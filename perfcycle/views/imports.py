"""The organisation import pages: upload a CSV, see what it did or why it was refused."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from perfcycle import access
from perfcycle import org_import as service
from perfcycle.csv_export import csv_response
from perfcycle.models import OrgImport
from perfcycle.tasks import run_org_import

IMPORTS_PER_PAGE = 20
ERRORS_PER_PAGE = 100
# A validate-only run has no record to page through; the page shows this many errors.
DRY_RUN_ERRORS_SHOWN = 500

TEMPLATE_ROWS = [
    ["E1001", "Ada Lovelace", "ada@example.com", "HQ", "Headquarters", "", "Chief executive",
     "EX", "", "2015-03-02", "yes"],
    ["E1002", "Ben Okafor", "ben@example.com", "SALES", "Sales", "HQ", "Sales director", "M2",
     "E1001", "2018-09-17", "yes"],
    ["E1003", "陈静", "chen.jing@example.com", "SALES", "Sales", "HQ", "Account executive", "P3",
     "E1002", "2023-01-09", "no"],
]  # fmt: skip


class OrgImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "A CSV file in UTF-8 with a header row; see the columns and the template."
        ),
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )
    deactivate_missing = forms.BooleanField(
        label=gettext_lazy("Deactivate people missing from the file"),
        help_text=gettext_lazy(
            "Active employees who are not in the file are marked as having left. "
            "Use this only with a complete export."
        ),
        required=False,
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Validate only"),
        help_text=gettext_lazy("Check the file and count what would change; nothing is saved."),
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""

    def clean_file(self):
        upload = self.cleaned_data["file"]
        problems = service.check_upload(upload, upload.name)
        if problems:
            raise forms.ValidationError([p.message for p in problems])
        return upload


@login_required
@require_http_methods(["GET", "POST"])
def org_import(request):
    access.require(access.can_import_org(request.user))
    if request.method == "GET" and request.GET.get("download") == "template":
        return csv_response([service.CSV_COLUMNS, *TEMPLATE_ROWS], "organisation-template.csv")
    if request.method == "POST":
        form = OrgImportForm(request.POST, request.FILES)
    else:
        form = OrgImportForm()
    outcome = None
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        if not form.cleaned_data["dry_run"]:
            record = _queue(request, upload, form.cleaned_data["deactivate_missing"])
            messages.info(
                request, _("The file was received; this page shows the import's progress.")
            )
            return redirect("org_import_detail", pk=record.pk)
        # Validate only: quick enough to answer at once, and it writes nothing.
        outcome = service.import_org_file(
            actor=request.user,
            file=upload,
            filename=upload.name,
            deactivate_missing=form.cleaned_data["deactivate_missing"],
            dry_run=True,
        )
    imports = (
        access.org_imports_visible_to(request.user)
        .select_related("actor")
        .defer("errors")
        .order_by("-created_at")
    )
    context = {
        "form": form,
        "outcome": outcome,
        "shown_errors": outcome.errors[:DRY_RUN_ERRORS_SHOWN] if outcome else [],
        "page_obj": Paginator(imports, IMPORTS_PER_PAGE).get_page(request.GET.get("page")),
        "columns": _column_help(),
        "max_size": filesizeformat(settings.ORG_IMPORT_MAX_BYTES),
    }
    return render(request, "perfcycle/org_import.html", context)


@login_required
@require_safe
def org_import_detail(request, pk):
    access.require(access.can_import_org(request.user))
    record = access.get_visible_or_404(
        access.org_imports_visible_to(request.user).select_related("actor"), pk=pk
    )
    if request.GET.get("download") == "errors":
        rows = [[e["line"], e["field"], e["message"]] for e in record.errors]
        name = f"import-{record.pk}-errors.csv"
        return csv_response([[_("line"), _("column"), _("problem")], *rows], name)
    page = Paginator(record.errors, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"record": record, "counts": record, "errors": page, "page_obj": page}
    template = "perfcycle/org_import_detail.html"
    if request.htmx and not request.htmx.history_restore_request:
        # The page polls this while the import runs: only its status part is sent.
        template += "#import-status"
    return render(request, template, context)


def _queue(request, upload, deactivate_missing: bool) -> OrgImport:
    """Keep the checked file with a queued record, and have a worker import it."""
    access.require(access.can_import_org(request.user))
    text, _problems = service.read_upload(upload, upload.name)  # checked by the form
    record = OrgImport.objects.create(
        actor=request.user,
        filename=upload.name[:255],
        status=OrgImport.Status.QUEUED,
        deactivate_missing=deactivate_missing,
        source=text,
    )
    language = get_language()
    transaction.on_commit(lambda: run_org_import.delay(record.pk, language))
    return record


def _column_help() -> list[tuple[str, bool, str]]:
    required = set(service.REQUIRED_VALUES)
    return [(name, name in required, str(_COLUMN_HELP[name])) for name in service.CSV_COLUMNS]


_COLUMN_HELP = {
    "employee_number": gettext_lazy("The person's number in the HR system; it identifies them."),
    "full_name": gettext_lazy("Name as it should appear everywhere."),
    "email": gettext_lazy("Work e-mail address; it is the login."),
    "department_code": gettext_lazy("Code of the person's department."),
    "department_name": gettext_lazy("Name of that department (the same on every row)."),
    "parent_department_code": gettext_lazy("Code of the department above; empty at the top."),
    "position": gettext_lazy("Job title; a position is created in the department if needed."),
    "grade": gettext_lazy("Optional column: the position's grade."),
    "manager_employee_number": gettext_lazy(
        "Employee number of the manager, in the file or already on record; empty at the top."
    ),
    "hire_date": gettext_lazy("Date as YYYY-MM-DD, for example 2024-03-31."),
    "department_head": gettext_lazy(
        "Optional column: “yes” makes the person head of their department, “no” heads none."
    ),
}

"""The form asking for a batch of PDF review packets: which department (with its
sub-departments), or, for HR, the whole cycle. Who may ask for what is decided by
``perfcycle.access`` in ``appraisals.services.packet_batch_request``."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from goals.forms import ServiceErrorsMixin
from perfcycle.models import Department


class PacketBatchForm(ServiceErrorsMixin, forms.Form):
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        help_text=_("Includes its sub-departments."),
    )

    def __init__(self, data=None, *, departments: QuerySet[Department], whole_cycle: bool):
        super().__init__(data)
        self.label_suffix = ""
        field = self.fields["department"]
        field.queryset = departments.order_by("name", "pk")
        field.required = not whole_cycle
        field.empty_label = _("The whole cycle") if whole_cycle else _("Choose a department")
        if whole_cycle:
            field.help_text = _("Includes its sub-departments. Leave it blank for every appraisal.")

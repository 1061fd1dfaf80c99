from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PerfcycleConfig(AppConfig):
    name = "perfcycle"
    verbose_name = _("Organisation")

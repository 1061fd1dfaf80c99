from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class PerfcycleConfig(AppConfig):
    name = "perfcycle"
    verbose_name = _("Organisation")

    def ready(self):
        # Each app declares its notification events in its own ``notifications`` module.
        autodiscover_modules("notifications")

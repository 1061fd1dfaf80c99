"""Fill an empty database with the deterministic demo company and print its logins."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from perfcycle import demo
from perfcycle.models import Employee


class Command(BaseCommand):
    help = _(
        "Create a realistic demo company (deterministic for a seed) through the organisation "
        "import and the services, and print the demo logins."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--employees",
            type=int,
            default=demo.DEFAULT_EMPLOYEES,
            help=_("How many employees, from %(min)s to %(max)s (default %(default)s).")
            % {
                "min": demo.MIN_EMPLOYEES,
                "max": demo.MAX_EMPLOYEES,
                "default": demo.DEFAULT_EMPLOYEES,
            },
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=_("The same seed and size give the same company (default %(seed)s).")
            % {"seed": demo.DEFAULT_SEED},
        )
        parser.add_argument(
            "--no-goals",
            action="store_false",
            dest="goals",
            help=_(
                "Seed the organisation and the cycle only, without the goals cascade and its "
                "check-ins."
            ),
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=_("Do nothing if the database already holds employees."),
        )

    def handle(self, *args, employees, seed, if_empty, goals=True, **options):
        if not demo.MIN_EMPLOYEES <= employees <= demo.MAX_EMPLOYEES:
            raise CommandError(
                _("--employees must be between %(min)s and %(max)s; you asked for %(n)s.")
                % {"min": demo.MIN_EMPLOYEES, "max": demo.MAX_EMPLOYEES, "n": employees}
            )
        if not settings.DEMO_PASSWORD:
            raise CommandError(
                _(
                    "DEBUG is off and DEMO_PASSWORD is not set; set DEMO_PASSWORD to the "
                    "password the demo logins should have."
                )
            )
        existing = Employee.objects.count()
        if existing:
            if if_empty:
                self.stdout.write(
                    _("The database already holds %(n)s employees; the demo was not seeded.")
                    % {"n": existing}
                )
                return
            raise CommandError(
                _(
                    "The database already holds %(n)s employees; seed_demo fills an empty "
                    "database only. Empty it first (python manage.py flush) or pass --if-empty."
                )
                % {"n": existing}
            )
        try:
            result = demo.seed_company(employees=employees, seed=seed, goals=goals)
        except demo.SeedError as exc:
            raise CommandError(str(exc)) from exc

        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Seeded %(employees)s employees in %(departments)s departments and the "
                    "cycle “%(cycle)s” in %(seconds).1f s (seed %(seed)s)."
                )
                % {
                    "employees": result.employees,
                    "departments": result.departments,
                    "cycle": result.cycle.name,
                    "seconds": result.seconds,
                    "seed": seed,
                }
            )
        )
        if result.goals is not None:
            self._write_goals(result.goals, appraisals=result.appraisals is not None)
        if result.appraisals is not None:
            self._write_appraisals(result.appraisals, result.cycle)
        self.stdout.write("")
        self.stdout.write(
            _("Demo logins (password for all: %(password)s)") % {"password": settings.DEMO_PASSWORD}
        )
        width = max(len(role) for role, _email, _name in result.logins)
        for role, email, name in result.logins:
            self.stdout.write(f"  {role:<{width}}  {email:<34}  {name}")

    def _write_appraisals(self, counts, cycle) -> None:
        self.stdout.write(
            _(
                "Appraisals: %(appraisals)s launched; %(self)s self-reviews submitted "
                "(%(self_drafts)s drafts), %(manager)s manager reviews submitted "
                "(%(manager_drafts)s drafts); calibration session “%(session)s” prepared. "
                "The cycle is in %(phase)s."
            )
            % {
                "appraisals": counts.appraisals,
                "self": counts.self_submitted,
                "self_drafts": counts.self_drafts,
                "manager": counts.manager_submitted,
                "manager_drafts": counts.manager_drafts,
                "session": counts.session,
                "phase": cycle.get_status_display().lower(),
            }
        )

    def _write_goals(self, counts, *, appraisals: bool = False) -> None:
        self.stdout.write(
            _(
                "Goals: %(objectives)s company objectives, %(departments)s department goals, "
                "%(kpis)s position KPIs and %(personal)s personal goals (%(proposed)s proposed "
                "by employees, %(waiting)s waiting for a decision, %(returned)s returned); "
                "%(checkins)s check-ins, %(at_risk)s goals at risk or off track."
            )
            % {
                "objectives": counts.objectives,
                "departments": counts.department_goals,
                "kpis": counts.position_kpis,
                "personal": counts.personal_goals,
                "proposed": counts.proposed,
                "waiting": counts.waiting,
                "returned": counts.returned,
                "checkins": counts.checkins,
                "at_risk": counts.at_risk,
            }
        )
        if not appraisals:
            self.stdout.write(
                _("Goal setting is closed; the cycle is in its coaching period.")
                if counts.goal_setting_closed
                else _("Goal setting is open.")
            )

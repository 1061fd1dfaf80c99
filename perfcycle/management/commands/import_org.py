"""``python manage.py import_org FILE``: the organisation import, from the command line."""

import os

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from perfcycle.models import User
from perfcycle.org_import import import_org_file


class Command(BaseCommand):
    help = (
        "Import or update the organisation from a CSV file (columns as on the import page). "
        "The whole file is checked first; on any error nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file (UTF-8, header row first).")
        parser.add_argument(
            "--actor",
            metavar="EMAIL",
            help="Record the import as done by this HR administrator.",
        )
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="Mark active employees who are not in the file as inactive.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and count what would change; write nothing.",
        )

    def handle(self, *args, file, actor, deactivate_missing, dry_run, **options):
        person = None
        if actor:
            try:
                person = User.objects.get_by_natural_key(actor)
            except User.DoesNotExist:
                raise CommandError(_("No user has the e-mail address %s.") % actor) from None
        try:
            with open(file, "rb") as handle:
                outcome = import_org_file(
                    actor=person,
                    file=handle,
                    filename=os.path.basename(file),
                    deactivate_missing=deactivate_missing,
                    dry_run=dry_run,
                )
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(file)s: %(reason)s") % {"file": file, "reason": exc.strerror}
            ) from exc
        except PermissionDenied:
            raise CommandError(
                _("%s may not import the organisation; HR administrators only.") % actor
            ) from None
        if not outcome.ok:
            for error in outcome.errors:
                where = _("line %d") % error.line if error.line else _("file")
                self.stderr.write(f"{where}, {error.field}: {error.message}")
            count = len(outcome.errors)
            raise CommandError(
                ngettext(
                    "%d problem found; nothing was imported.",
                    "%d problems found; nothing was imported.",
                    count,
                )
                % count
            )
        summary = _(
            "%(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
            "%(deactivated)d deactivated; departments: %(departments_created)d created, "
            "%(departments_updated)d updated; positions: %(positions_created)d created."
        ) % {
            "created": outcome.created,
            "updated": outcome.updated,
            "unchanged": outcome.unchanged,
            "deactivated": outcome.deactivated,
            "departments_created": outcome.departments_created,
            "departments_updated": outcome.departments_updated,
            "positions_created": outcome.positions_created,
        }
        if dry_run:
            self.stdout.write(_("The file is valid; nothing was written (dry run)."))
            self.stdout.write(summary)
        else:
            self.stdout.write(self.style.SUCCESS(_("Imported %s.") % file))
            self.stdout.write(summary)

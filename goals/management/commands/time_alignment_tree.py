"""``python manage.py time_alignment_tree EMAIL``: how long the alignment tree takes.

Renders the tree's first screen (and, if asked, one children fragment) for one user
through Django's test client, as the browser would get it, and prints the median wall
time and the number of SQL queries. Used to measure the 10,000-employee demo.
"""

from __future__ import annotations

import statistics
import time
from urllib.parse import urlencode

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from goals import selectors
from goals.models import Goal
from perfcycle import access
from perfcycle.models import User


class Command(BaseCommand):
    help = (
        "Render the alignment tree for one user N times and print the median wall time "
        "and the SQL query count (read-only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="Whose tree to render (their e-mail address).")
        parser.add_argument("--runs", type=int, default=10, help="Timed renders (default 10).")
        parser.add_argument("--cycle", type=int, help="Cycle id (default: the user's default).")
        parser.add_argument("--department", type=int, help="Department filter (id).")
        parser.add_argument(
            "--children",
            metavar="GOAL_ID|auto",
            help="Also time one children fragment: a goal id, or 'auto' for the visible "
            "goal with the most goals serving it.",
        )
        parser.add_argument(
            "--host", default="testserver", help="Host header (one of ALLOWED_HOSTS)."
        )

    def handle(self, *args, email, runs, cycle, department, children, host, **options):
        if runs < 1:
            raise CommandError("--runs must be at least 1.")
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with the e-mail address {email}.")
        chosen = selectors.cycle_for(user, cycle)
        if chosen is None:
            raise CommandError("That user sees no cycle (or not the one asked for).")
        params = {"cycle": chosen.pk}
        if department:
            params["department"] = department
        client = Client(HTTP_HOST=host)
        client.force_login(user)
        self.stdout.write(
            f"{user.email} · cycle {chosen.name} · "
            f"{Goal.objects.filter(cycle=chosen).count():,} goals in the cycle"
        )
        self._time(client, f"{reverse('goals:tree')}?{urlencode(params)}", runs, {})
        if children:
            goal_id = self._children_of(user, chosen, children)
            url = reverse("goals:tree_children", args=[goal_id])
            if department:
                url += f"?department={department}"
            self._time(client, url, runs, {"HTTP_HX_REQUEST": "true"})

    def _children_of(self, user, cycle, children: str) -> int:
        if children != "auto":
            try:
                return int(children)
            except ValueError as exc:
                raise CommandError("--children takes a goal id or 'auto'.") from exc
        busiest = (
            access.goals_visible_to(user)
            .filter(cycle=cycle, children__isnull=False)
            .annotate(n=Count("children"))
            .order_by("-n", "pk")
            .values_list("pk", "n")
            .first()
        )
        if busiest is None:
            raise CommandError("No visible goal has goals serving it.")
        self.stdout.write(f"busiest visible goal: #{busiest[0]} with {busiest[1]:,} children")
        return busiest[0]

    def _time(self, client, url: str, runs: int, headers: dict) -> None:
        # The first render warms caches (templates, translations) and counts the queries
        # (with a wrapper: the query log is cleared at the start of every request).
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(url, **headers)
        if response.status_code != 200:
            raise CommandError(f"GET {url} answered {response.status_code}.")
        timings = []
        for _run in range(runs):
            started = time.perf_counter()
            response = client.get(url, **headers)
            timings.append((time.perf_counter() - started) * 1000)
        self.stdout.write(
            f"GET {url}: median {statistics.median(timings):.0f} ms "
            f"(min {min(timings):.0f}, max {max(timings):.0f}, {runs} runs), "
            f"{len(queries)} queries, {len(response.content):,} bytes"
        )

"""The PDF review packet of one appraisal: its sections and the assembled document.

A packet is :data:`SECTIONS` rendered in order. A section is a function
``(appraisal, viewer, context) -> (template name, template context) | None``: it returns
None when it has nothing to show or the viewer may not read it. Later capabilities (the
interview record, the 360 aggregate, the improvement plan) add a function here and a
template under ``templates/appraisals/packet/``; nothing else changes.

What a viewer reads is decided by ``perfcycle.access`` as on the appraisal page: the
employee's own packet before release holds their goals and self-review and nothing of
the manager's review, the scores or the ratings (``access.sees_assessment``); the
manager review is fetched only for viewers who may read it. Each section's template is
rendered on its own, with its own context and the viewer-scoped :class:`PacketContext`.

Queries do not grow with the number of goals or competencies: :class:`PacketContext`
fetches what several sections share once, with the review lines prefetched.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from perfcycle import access
from perfcycle.pdf import css_string, page_numbers_css, render_pdf

from .models import Appraisal, CycleCompetency, Review
from .services import settings_for
from .services.reviews import appraisal_goals

K = Review.Kind
SectionResult = tuple[str, dict[str, Any]] | None
Section = Callable[[Appraisal, Any, "PacketContext"], SectionResult]


def with_related(appraisals: QuerySet) -> QuerySet:
    """``appraisals`` carrying what the packet and the review pages read of each (one
    query, no more per row)."""
    return appraisals.select_related(
        "cycle__rating_scale",
        "employee__user",
        "employee__position",
        "employee__department",
        "department",
        "reviewer__user",
        "computed_level",
        "manager_level",
        "calibrated_level",
        "final_level",
    )


@dataclass
class PacketContext:
    """What several sections read, fetched once per packet and scoped to the viewer."""

    appraisal: Appraisal
    viewer: Any
    generated_at: Any = field(default_factory=timezone.now)

    @cached_property
    def employee_view(self) -> bool:
        return access.is_appraisee(self.viewer, self.appraisal)

    @cached_property
    def sees(self) -> bool:
        """The manager's review, the scores and the ratings (``access.sees_assessment``;
        :func:`packet_html` has checked that the viewer may open the appraisal)."""
        return access.sees_assessment_in_list(self.viewer, self.appraisal)

    @cached_property
    def reviews(self) -> dict[str, Review]:
        """The reviews the viewer may read, by kind, with their lines."""
        kinds = [K.SELF, K.MANAGER] if self.sees else [K.SELF]
        found = (
            access.reviews_visible_to(self.viewer)
            .filter(appraisal_id=self.appraisal.pk, kind__in=kinds)
            .select_related("proposed_level", "submitted_by", "approved_by")
            .prefetch_related("goal_lines", "competency_lines")
        )
        return {review.kind: review for review in found}

    @property
    def self_review(self) -> Review | None:
        return self.reviews.get(K.SELF)

    @property
    def manager_review(self) -> Review | None:
        return self.reviews.get(K.MANAGER) if self.sees else None

    @cached_property
    def goals(self) -> list:
        return list(appraisal_goals(self.appraisal))

    @cached_property
    def competencies(self) -> list[CycleCompetency]:
        return list(
            self.appraisal.cycle.competencies.select_related("competency").order_by(
                "order", "competency__name"
            )
        )


def _rows(context: PacketContext, review: Review | None) -> dict[str, list]:
    """A review's lines beside the goals and competencies they rate (None where the
    review has no line), from the prefetched lines."""
    goal_lines = {line.goal_id: line for line in review.goal_lines.all()} if review else {}
    competency_lines = (
        {line.competency_id: line for line in review.competency_lines.all()} if review else {}
    )
    return {
        "goal_rows": [(goal, goal_lines.get(goal.pk)) for goal in context.goals],
        "competency_rows": [
            (row, competency_lines.get(row.competency_id)) for row in context.competencies
        ],
    }


# --- the sections ---------------------------------------------------------------------------


def header(appraisal: Appraisal, viewer, context: PacketContext) -> SectionResult:
    """Who and which cycle: the employee, number, position, department, the cycle and its
    period, the reviewer (and the stage, for viewers who see the assessment)."""
    employee = appraisal.employee
    return "appraisals/packet/header.html", {
        "employee": employee,
        "moved": employee.department_id != appraisal.department_id,
        "show_stage": context.sees,
    }


def goals(appraisal: Appraisal, viewer, context: PacketContext) -> SectionResult:
    """The goals with their KPI definition, the latest actual and the attainment."""
    return "appraisals/packet/goals.html", {"goals": context.goals}


def self_review(appraisal: Appraisal, viewer, context: PacketContext) -> SectionResult:
    """The self-review, once submitted (the employee reads their own draft too)."""
    review = context.self_review
    if review is None:
        return None
    if review.status != Review.Status.SUBMITTED and not context.employee_view:
        return None
    return "appraisals/packet/self_review.html", {"review": review, **_rows(context, review)}


def assessment(appraisal: Appraisal, viewer, context: PacketContext) -> SectionResult:
    """The manager review, the computed scores and every rating: computed, the manager's
    proposal (with the reason it differs), calibrated (with the moves' reasons) and
    final. Only for viewers who see the assessment."""
    if not context.sees:
        return None
    review = context.manager_review
    adjustments = []
    if not context.employee_view:
        # The calibration panel's reasons: for those the policy lets read them, never
        # the employee (not even one who sits on the panel that moved them).
        adjustments = list(
            access.calibration_adjustments_visible_to(viewer)
            .filter(appraisal_id=appraisal.pk)
            .select_related("from_level", "to_level", "actor")
            .order_by("created_at", "pk")
        )
    return "appraisals/packet/assessment.html", {
        "review": review,
        "settings": settings_for(appraisal.cycle),
        "adjustments": adjustments,
        **_rows(context, review),
    }


def acknowledgement(appraisal: Appraisal, viewer, context: PacketContext) -> SectionResult:
    """After release: the acknowledgement, the employee's comment and the appeals (for
    those the policy lets read them) with their outcome."""
    if appraisal.released_at is None or not context.sees:
        return None
    # Appeals are between the employee and HR (``access.appeals_visible_to``): the
    # manager's packet leaves the list out rather than saying "no appeals".
    shows_appeals = context.employee_view or access.can_administer_appraisal(viewer, appraisal)
    appeals = []
    if shows_appeals:
        appeals = list(
            access.appeals_visible_to(viewer)
            .filter(appraisal_id=appraisal.pk)
            .select_related("new_level", "resolved_by")
            .order_by("filed_at", "pk")
        )
    return "appraisals/packet/acknowledgement.html", {
        "shows_appeals": shows_appeals,
        "appeals": appeals,
    }


SECTIONS: list[Section] = [header, goals, self_review, assessment, acknowledgement]


# --- the document ---------------------------------------------------------------------------


def packet_html(appraisal: Appraisal, viewer, *, sections: list[Section] | None = None) -> str:
    """The packet's HTML for ``viewer``; PermissionDenied unless they may open
    ``appraisal`` (a view fetches it through ``access.appraisals_visible_to`` first, so
    an id outside their scope is a 404 there)."""
    access.require(access.can_view_appraisal(viewer, appraisal))
    context = PacketContext(appraisal=appraisal, viewer=viewer)
    common = {"appraisal": appraisal, "cycle": appraisal.cycle, "packet": context}
    parts = []
    for section in SECTIONS if sections is None else sections:
        result = section(appraisal, viewer, context)
        if result is not None:
            template, extra = result
            parts.append(render_to_string(template, {**common, **extra}))
    viewer_name = getattr(viewer, "full_name", "") or getattr(viewer, "email", "")
    generated = _("Generated at %(time)s for %(viewer)s") % {
        "time": timezone.localtime(context.generated_at).strftime("%Y-%m-%d %H:%M %Z"),
        "viewer": viewer_name,
    }
    # Margin boxes take their text from CSS, so the page furniture is written into a
    # <style> element of the document (rendered by WeasyPrint, never served to a
    # browser); every value is escaped by css_string.
    margins = {
        "company": css_string(settings.COMPANY_NAME),
        "subject": css_string(f"{appraisal.employee.name} · {appraisal.cycle.name}"),
        "generated": css_string(generated),
        "pages": page_numbers_css(_("Page %(page)s of %(pages)s")),
    }
    return render_to_string(
        "appraisals/packet/document.html",
        {
            **common,
            "sections": mark_safe("\n".join(parts)),  # each part rendered (and escaped) above
            "margins": {key: mark_safe(value) for key, value in margins.items()},
            "generated": generated,
            "company_name": settings.COMPANY_NAME,
            "language": translation.get_language(),
        },
    )


def render_packet(appraisal: Appraisal, viewer, *, language: str | None = None) -> bytes:
    """The packet as a PDF, in ``language`` (else the active one)."""
    if language:
        with translation.override(language):
            return render_pdf(packet_html(appraisal, viewer))
    return render_pdf(packet_html(appraisal, viewer))


def _ascii(value: str) -> str:
    plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", plain).strip("-.")


def packet_filename(appraisal: Appraisal) -> str:
    """``packet-<employee number>-<cycle>.pdf``, ASCII only (a Chinese cycle name falls
    back to the cycle's id)."""
    number = _ascii(appraisal.employee.employee_number) or str(appraisal.employee_id)
    cycle = _ascii(appraisal.cycle.name) or str(appraisal.cycle_id)
    return f"packet-{number}-{cycle}.pdf"

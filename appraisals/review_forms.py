"""Forms of the review pages and of the pages after release.

:class:`ReviewForm` is the self-review or the manager review: a line per goal and per
competency, named as ``appraisals.services.reviews`` keys its errors
(``goal-<id>-score``, ``competency-<id>-rating``...), so a service error lands next to
its field. The forms check the shape of the input (a rating is one of the scale's
values); the services apply the rules (what is required to submit, the one-level
deviation) and do the writing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from goals.forms import ServiceErrorsMixin
from goals.models import Goal
from perfcycle.forms import STALE_PAGE
from perfcycle.models import RatingLevel

from .models import Appeal, CycleCompetency, Review

K = Review.Kind


def _text(label, *, rows: int = 3, help_text: str = "", required: bool = False) -> forms.Field:
    return forms.CharField(
        label=label,
        required=required,
        strip=True,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


def _lf(value: str) -> str:
    # Browsers send a textarea's line breaks as CRLF; compare and store them as LF, so an
    # unchanged text is not taken for a change (or for someone else's in a conflict).
    return (value or "").replace("\r\n", "\n").strip()


class LevelChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: RatingLevel) -> str:
        return f"{obj.value} – {obj.label}"


def scale_choices(levels: list[RatingLevel]) -> list[tuple[str, str]]:
    return [("", "—"), *((str(level.value), f"{level.value} – {level.label}") for level in levels)]


def rating_field(label: str, levels: list[RatingLevel]) -> forms.ChoiceField:
    values = ", ".join(str(level.value) for level in levels)
    return forms.ChoiceField(
        label=label,
        required=False,
        choices=scale_choices(levels),
        error_messages={
            "invalid_choice": _("Choose a rating on the scale (%(values)s).") % {"values": values}
        },
    )


@dataclass
class GoalRow:
    """One goal of the review form: the goal, its measured attainment, the other
    review's line beside it (the self-review on the manager's page), and the fields."""

    goal: Goal
    other: Any = None
    result: forms.BoundField | None = None
    score: forms.BoundField | None = None
    comment: forms.BoundField | None = None

    @property
    def counts(self) -> bool:
        return self.goal.status != Goal.Status.CANCELLED


@dataclass
class CompetencyRow:
    row: CycleCompetency
    other: Any = None
    rating: forms.BoundField | None = None
    comment: forms.BoundField | None = None


class ReviewForm(ServiceErrorsMixin, forms.Form):
    """The self-review or the manager review of one appraisal.

    ``goals`` are the appraisal's goals (``reviews.appraisal_goals``; cancelled ones are
    listed without fields), ``competencies`` the cycle's ``CycleCompetency`` rows,
    ``levels`` the cycle's rating levels. ``other`` is the other review, shown beside
    (the self-review on the manager's page), or None.
    """

    # Required: without it the service could not tell a stale page from a fresh one.
    version = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": STALE_PAGE})

    def __init__(
        self,
        data=None,
        *,
        review: Review,
        goals: list[Goal],
        competencies: list[CycleCompetency],
        levels: list[RatingLevel],
        other: Review | None = None,
    ):
        self.review, self.kind = review, review.kind
        goal_lines = {line.goal_id: line for line in review.goal_lines.all()}
        rating_lines = {line.competency_id: line for line in review.competency_lines.all()}
        other_goals = {line.goal_id: line for line in other.goal_lines.all()} if other else {}
        other_ratings = (
            {line.competency_id: line for line in other.competency_lines.all()} if other else {}
        )
        initial: dict[str, Any] = {"version": review.version}
        super().__init__(data, initial=initial)
        self.label_suffix = ""
        f = self.fields
        self._goals, self._competencies = [], []

        if self.kind == K.MANAGER:
            f["strengths"] = _text(_("Strengths"), rows=4)
            f["improvements"] = _text(_("Areas to improve"), rows=4)
            f["overall_comment"] = _text(_("Overall comment"), rows=4)
            f["proposed_level"] = LevelChoiceField(
                label=_("Proposed rating"),
                queryset=RatingLevel.objects.filter(pk__in=[level.pk for level in levels]),
                required=False,
                empty_label="—",
                help_text=_(
                    "The rating the score gives, or one level up or down from it with a "
                    "written reason."
                ),
            )
            f["proposed_level"].queryset = f["proposed_level"].queryset.order_by("value")
            f["deviation_reason"] = _text(
                _("Reason for a rating other than the score's"),
                rows=3,
                help_text=_("Needed when the proposed rating is not the one the score gives."),
            )
            for name in ("strengths", "improvements", "overall_comment", "deviation_reason"):
                initial[name] = getattr(review, name)
            initial["proposed_level"] = review.proposed_level_id
        else:
            f["overall_comment"] = _text(
                _("Overall comments"),
                rows=5,
                help_text=_("Your year in a few sentences: what went well, what did not."),
            )
            initial["overall_comment"] = review.overall_comment

        for goal in goals:
            key = f"goal-{goal.pk}"
            line = goal_lines.get(goal.pk)
            self._goals.append((goal, other_goals.get(goal.pk), key))
            if goal.status == Goal.Status.CANCELLED:
                continue
            if self.kind == K.SELF:
                f[f"{key}-result"] = _text(
                    gettext("%(goal)s: result achieved") % {"goal": goal.title}, rows=2
                )
                initial[f"{key}-result"] = line.result if line else ""
                score_label = gettext("%(goal)s: self score") % {"goal": goal.title}
            else:
                score_label = gettext("%(goal)s: your score") % {"goal": goal.title}
            f[f"{key}-score"] = rating_field(score_label, levels)
            f[f"{key}-comment"] = _text(gettext("%(goal)s: comment") % {"goal": goal.title}, rows=2)
            initial[f"{key}-score"] = str(line.score) if line and line.score is not None else ""
            initial[f"{key}-comment"] = line.comment if line else ""

        for row in competencies:
            key = f"competency-{row.competency_id}"
            line = rating_lines.get(row.competency_id)
            self._competencies.append((row, other_ratings.get(row.competency_id), key))
            name = row.competency.name
            f[f"{key}-rating"] = rating_field(
                gettext("%(competency)s: rating") % {"competency": name}, levels
            )
            f[f"{key}-comment"] = _text(
                gettext("%(competency)s: comment") % {"competency": name}, rows=2
            )
            initial[f"{key}-rating"] = str(line.rating) if line and line.rating is not None else ""
            initial[f"{key}-comment"] = line.comment if line else ""

    # --- what the template lays out -----------------------------------------------------

    def _bound(self, name: str) -> forms.BoundField | None:
        return self[name] if name in self.fields else None

    @property
    def goal_rows(self) -> list[GoalRow]:
        return [
            GoalRow(
                goal=goal,
                other=other,
                result=self._bound(f"{key}-result"),
                score=self._bound(f"{key}-score"),
                comment=self._bound(f"{key}-comment"),
            )
            for goal, other, key in self._goals
        ]

    @property
    def competency_rows(self) -> list[CompetencyRow]:
        return [
            CompetencyRow(
                row=row,
                other=other,
                rating=self[f"{key}-rating"],
                comment=self[f"{key}-comment"],
            )
            for row, other, key in self._competencies
        ]

    # --- what the service takes -----------------------------------------------------------

    def clean(self):
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            if isinstance(value, str) and not name.endswith(("-score", "-rating")):
                cleaned[name] = _lf(value)
        return cleaned

    def review_data(self) -> dict[str, Any]:
        """The cleaned input in the shape ``services.review_save`` takes."""
        cd = self.cleaned_data
        names = ("overall_comment",)
        if self.kind == K.MANAGER:
            names = ("overall_comment", "strengths", "improvements", "deviation_reason")
        data: dict[str, Any] = {name: cd.get(name, "") for name in names}
        if self.kind == K.MANAGER:
            data["proposed_level"] = cd.get("proposed_level")
        data["goals"] = {}
        for goal, _other, key in self._goals:
            if f"{key}-score" not in self.fields:
                continue
            entry = {"score": _number(cd.get(f"{key}-score")), "comment": cd.get(f"{key}-comment")}
            if self.kind == K.SELF:
                entry["result"] = cd.get(f"{key}-result")
            data["goals"][goal.pk] = entry
        data["competencies"] = {
            row.competency_id: {
                "rating": _number(cd.get(f"{key}-rating")),
                "comment": cd.get(f"{key}-comment"),
            }
            for row, _other, key in self._competencies
        }
        return data

    def goal_scores(self) -> dict[int, int | None]:
        """The scores typed so far, per goal, read leniently (for the live score panel:
        a value off the scale counts as none)."""
        return {
            goal.pk: self._typed_rating(f"{key}-score")
            for goal, _other, key in self._goals
            if f"{key}-score" in self.fields
        }

    def competency_ratings(self) -> dict[int, int | None]:
        return {
            row.competency_id: self._typed_rating(f"{key}-rating")
            for row, _other, key in self._competencies
        }

    def _typed_rating(self, name: str) -> int | None:
        raw = self.data.get(name) if self.is_bound else self.initial.get(name)
        allowed = {value for value, _label in self.fields[name].choices if value}
        return int(raw) if raw in allowed else None

    def proposed_level_id(self) -> int | None:
        raw = (
            self.data.get("proposed_level") if self.is_bound else self.initial.get("proposed_level")
        )
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None


def _number(value) -> int | None:
    return int(value) if value not in (None, "") else None


class ReturnForm(ServiceErrorsMixin, forms.Form):
    """HR (any review) or the second-level approver (the manager review) sends a submitted
    review back to its author."""

    comment = _text(
        _("What needs changing"),
        rows=3,
        required=True,
        help_text=_("The author sees this comment when they open the review again."),
    )

    def __init__(self, data=None, *, kind: str, **kwargs):
        # Two of these can sit on one page: give each its own ids.
        super().__init__(data, auto_id=f"id_return_{kind}_%s", **kwargs)
        self.label_suffix = ""


class ApproveForm(ServiceErrorsMixin, forms.Form):
    comment = forms.CharField(
        label=_("Comment (optional)"), required=False, max_length=1000, strip=True
    )


class AcknowledgeForm(ServiceErrorsMixin, forms.Form):
    comment = _text(
        _("Your comment (optional)"),
        rows=3,
        help_text=_(
            "Acknowledging says you have read your result; it does not mean you agree. Your "
            "manager and HR read your comment; a later comment replaces this one."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="id_acknowledge_%s", **kwargs)
        self.label_suffix = ""


class AppealForm(ServiceErrorsMixin, forms.Form):
    reason = _text(
        _("Grounds for the appeal"),
        rows=4,
        required=True,
        help_text=_("Say what you believe is wrong in your result and why. HR will reply."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="id_appeal_%s", **kwargs)
        self.label_suffix = ""


class AppealResolveForm(ServiceErrorsMixin, forms.Form):
    """HR's outcome of an appeal: upheld with the new rating, or dismissed."""

    status = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            (Appeal.Status.UPHELD, Appeal.Status.UPHELD.label),
            (Appeal.Status.DISMISSED, Appeal.Status.DISMISSED.label),
        ],
        widget=forms.RadioSelect,
    )
    new_level = LevelChoiceField(
        label=_("New rating"),
        queryset=RatingLevel.objects.none(),
        required=False,
        empty_label="—",
        help_text=_("When the appeal is upheld: the rating that becomes final."),
    )
    outcome = _text(
        _("Outcome"),
        rows=4,
        required=True,
        help_text=_("The employee reads this; it is kept in the appraisal's history."),
    )
    # Required: without it the service could not tell a stale page from a fresh one.
    version = forms.IntegerField(widget=forms.HiddenInput, error_messages={"required": STALE_PAGE})

    def __init__(self, data=None, *, appeal: Appeal, **kwargs):
        super().__init__(data, initial={"version": appeal.version}, **kwargs)
        self.label_suffix = ""
        self.fields["new_level"].queryset = RatingLevel.objects.filter(
            scale_id=appeal.appraisal.cycle.rating_scale_id
        ).order_by("value")

    def clean(self):
        cleaned = super().clean()
        if isinstance(cleaned.get("outcome"), str):
            cleaned["outcome"] = _lf(cleaned["outcome"])
        return cleaned

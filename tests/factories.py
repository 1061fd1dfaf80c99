"""factory_boy factories for the core records."""

import datetime

import factory
from django.contrib.auth.hashers import make_password

from perfcycle.models import (
    Cycle,
    CycleDeadline,
    Department,
    Employee,
    Position,
    RatingLevel,
    RatingScale,
    User,
)

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    full_name = factory.Faker("name")
    # Hashed with the hasher active at creation (the suite uses the fast MD5 one), so
    # check_password(PASSWORD) works in every test.
    password = factory.LazyFunction(lambda: make_password(PASSWORD))


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    code = factory.Sequence(lambda n: f"D{n:04d}")
    name = factory.Sequence(lambda n: f"Department {n}")
    parent = None


class PositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Position

    title = factory.Sequence(lambda n: f"Position {n}")
    department = factory.SubFactory(DepartmentFactory)
    grade = "G5"


class EmployeeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Employee

    user = factory.SubFactory(UserFactory)
    employee_number = factory.Sequence(lambda n: f"E{n:05d}")
    department = factory.SubFactory(DepartmentFactory)
    position = None
    manager = None
    hire_date = datetime.date(2020, 1, 6)


class RatingScaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RatingScale
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Five-point scale {n}")

    @factory.post_generation
    def levels(self, create, extracted, **kwargs):
        labels = extracted or [
            "Unsatisfactory",
            "Needs improvement",
            "Meets expectations",
            "Exceeds expectations",
            "Outstanding",
        ]
        # Score bands: 0 / 50 / 80 / 100 / 110 on five levels, evenly spaced otherwise.
        bands = (
            [0, 50, 80, 100, 110]
            if len(labels) == 5
            else [round(100 * i / len(labels)) for i in range(len(labels))]
        )
        for value, (label, band) in enumerate(zip(labels, bands, strict=True), start=1):
            RatingLevel.objects.create(scale=self, value=value, label=label, min_score=band)


class CycleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cycle

    name = factory.Sequence(lambda n: f"FY{2020 + n}")
    period_start = datetime.date(2026, 1, 1)
    period_end = datetime.date(2026, 12, 31)
    rating_scale = factory.SubFactory(RatingScaleFactory)
    status = Cycle.Status.GOAL_SETTING


class CycleDeadlineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CycleDeadline

    cycle = factory.SubFactory(CycleFactory)
    phase = Cycle.Status.GOAL_SETTING
    due_on = datetime.date(2026, 2, 15)

"""A running cycle with a small cascade, shared by the goals tests.

::

    Grow revenue (company, 60)          Delight customers (company, 40)
    └── Sales revenue (Sales, 100)
        └── Bookings (position KPI of Account executive, 100; higher, 80/100/120)
            ├── Bookings (Emil Employee's copy)
            └── Bookings (Petra Peer's copy)

Written through the services by the HR administrator, as the product would.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from goals import services
from goals.models import Goal
from tests.factories import CycleFactory

KPI = {
    "kind": Goal.Kind.KPI,
    "unit": "k CNY",
    "direction": Goal.Direction.HIGHER,
    "threshold": Decimal(80),
    "target": Decimal(100),
    "stretch": Decimal(120),
}


def goal_data(title="A goal", weight=100, **kwargs):
    return {"title": title, "weight": Decimal(weight), **KPI, **kwargs}


@pytest.fixture
def cycle(org):
    return CycleFactory(name="FY2026")


@pytest.fixture
def cascade(org, cycle, hr_admin):
    grow = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=Goal.Level.COMPANY,
        data=goal_data("Grow revenue", 60, strategy_ref="Plan 2026, line 3: grow revenue by 20%"),
    )
    delight = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=Goal.Level.COMPANY,
        data={"title": "Delight customers", "weight": Decimal(40), "kind": Goal.Kind.MILESTONE},
    )
    sales = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=Goal.Level.DEPARTMENT,
        owner=org.sales,
        parent=grow,
        data=goal_data("Sales revenue"),
    )
    bookings = services.goal_create(
        actor=hr_admin,
        cycle=cycle,
        level=Goal.Level.POSITION,
        owner=org.position,
        parent=sales,
        data=goal_data("Bookings"),
    )
    copies = {g.employee_id: g for g in Goal.objects.filter(source=bookings)}
    return SimpleNamespace(
        grow=grow,
        delight=delight,
        sales=sales,
        bookings=bookings,
        employee_copy=copies[org.employee.pk],
        peer_copy=copies[org.peer.pk],
    )

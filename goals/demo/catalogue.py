"""What the demo company aims at: its objectives, and the goals and KPIs of each kind of
department, as ``goals.demo`` writes them.

Numbers marked per head (department goals) are multiplied by the department's headcount;
volume KPIs are multiplied by the holder's grade (a junior sells less than a principal)
or, for a team lead, by a typical team size. Weights of one owner's goals total 100.
Departments whose name is Chinese get the Chinese title alongside the English one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ..models import CheckIn, Goal

C = CheckIn.Confidence
KPI, MILESTONE = Goal.Kind.KPI, Goal.Kind.MILESTONE
HIGHER, LOWER, RANGE = Goal.Direction.HIGHER, Goal.Direction.LOWER, Goal.Direction.RANGE


def _d(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def hi(unit: str, baseline, threshold, target, stretch=None) -> dict[str, Any]:
    """Higher is better."""
    return {
        "kind": KPI,
        "direction": HIGHER,
        "unit": unit,
        "baseline": _d(baseline),
        "threshold": _d(threshold),
        "target": _d(target),
        "stretch": _d(stretch),
    }


def lo(unit: str, baseline, threshold, target, stretch=None) -> dict[str, Any]:
    """Lower is better."""
    return {**hi(unit, baseline, threshold, target, stretch), "direction": LOWER}


def within(unit: str, baseline, low, high, tolerance=None) -> dict[str, Any]:
    """Within a range."""
    return {
        "kind": KPI,
        "direction": RANGE,
        "unit": unit,
        "baseline": _d(baseline),
        "range_low": _d(low),
        "range_high": _d(high),
        "tolerance": _d(tolerance),
    }


def milestone() -> dict[str, Any]:
    return {"kind": MILESTONE, "unit": ""}


def scaled(measure: dict[str, Any], factor) -> dict[str, Any]:
    """The measure with its levels multiplied by ``factor``, to three significant digits."""
    result = dict(measure)
    for name in ("baseline", "threshold", "target", "stretch"):
        if result.get(name) is not None:
            result[name] = _nice(result[name] * Decimal(str(factor)))
    return result


def _nice(value: Decimal) -> Decimal:
    if not value:
        return Decimal(0)
    digits = value.adjusted() - 2  # keep three significant digits
    step = Decimal(1).scaleb(max(digits, -4))
    return value.quantize(step, rounding=ROUND_HALF_UP).normalize() + Decimal(0)


# --- company objectives --------------------------------------------------------------

STRATEGY = "https://intranet.example-corp.internal/strategy/{year}-plan"


@dataclass(frozen=True)
class DemoObjective:
    key: str
    title: str
    weight: int
    measure: dict[str, Any]
    strategy_ref: str
    strategy_url: str
    description: str = ""
    per_head: bool = False  # the measure is per employee (revenue grows with the company)


OBJECTIVES = [
    DemoObjective(
        "revenue",
        "Grow revenue to {target}",
        30,
        # Revenue per employee, in millions of yuan: CNY 0.8 m per head is the plan.
        hi("M CNY", "0.69", "0.75", "0.8", "0.85"),
        "Annual business plan {year}, §1.1 Growth: revenue +16% on last year",
        STRATEGY + "#growth",
        "New business in every region, with Greater China and key accounts leading.",
        per_head=True,
    ),
    DemoObjective(
        "nps",
        "Raise customer NPS to 45",
        20,
        hi("NPS points", 38, 40, 45, 50),
        "Strategy {year}–{next}, pillar 1 “Closer to the customer”: NPS 45 this year",
        STRATEGY + "#pillar-1",
        "Measured in the quarterly relationship survey across all customer segments.",
    ),
    DemoObjective(
        "cost",
        "Bring operating costs down to 61% of revenue",
        20,
        lo("% of revenue", 64, 63, 61, 60),
        "Annual business plan {year}, §3.2 cost programme “Lean 26”",
        STRATEGY + "#lean",
        "Cost of sales plus operating expenses, as a share of revenue, full year.",
    ),
    DemoObjective(
        "inventory",
        "Keep inventory between 45 and 60 days",
        10,
        within("days", 68, 45, 60, 10),
        "Annual business plan {year}, §4.1 Working capital: days of inventory 45–60",
        STRATEGY + "#working-capital",
        "Enough stock to deliver on time, without tying up cash.",
    ),
    DemoObjective(
        "portal",
        "Launch the customer self-service portal (客户自助门户)",
        20,
        milestone(),
        "Strategy {year}–{next}, pillar 2 “Digital by default”: self-service portal live "
        "in all regions by Q4",
        STRATEGY + "#pillar-2",
        "Orders, invoices, service requests and delivery tracking online, in English and Chinese.",
    ),
]

# The objectives each division serves, with the division's weights; the company itself
# (the CEO's department) owns all of them at the objectives' own weights.
DIVISION_GOALS = {
    "SAL": [("revenue", 50), ("nps", 30), ("cost", 20)],
    "OPS": [("cost", 40), ("inventory", 35), ("nps", 25)],
    "ENG": [("portal", 50), ("nps", 25), ("cost", 25)],
    "FIN": [("cost", 40), ("inventory", 30), ("revenue", 30)],
    "HR": [("cost", 40), ("revenue", 35), ("nps", 25)],
}


# --- departments ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoGoal:
    """A department goal: ``key`` names it for the KPIs that serve it."""

    key: str
    objective: str
    title: str
    zh: str
    weight: int
    measure: dict[str, Any]
    per_head: bool = False


@dataclass(frozen=True)
class DemoKpi:
    """A KPI of an individual contributor's position, serving department goal ``serves``."""

    title: str
    zh: str
    serves: str
    weight: int
    measure: dict[str, Any]
    volume: bool = False


@dataclass(frozen=True)
class Family:
    goals: list[DemoGoal]
    kpis: list[DemoKpi]


_BOOKINGS = hi("k CNY", 3600, 3800, 4400, 5000)
_DISCOUNT = lo("% of list price", 14, 13, 11, "9.5")
_SALES = Family(
    goals=[
        DemoGoal("bookings", "revenue", "New bookings", "新签合同额", 55, _BOOKINGS, True),
        DemoGoal(
            "nps", "nps", "Customer NPS in our territory", "区域客户净推荐值", 25,
            hi("NPS points", 36, 38, 44, 50),
        ),
        DemoGoal("discount", "cost", "Average discount on list price", "平均折扣率", 20, _DISCOUNT),
    ],
    kpis=[
        DemoKpi("New bookings", "新签合同额", "bookings", 50, _BOOKINGS, True),
        DemoKpi(
            "Pipeline coverage", "销售管道覆盖率", "bookings", 30,
            hi("× quota", "2.4", "2.5", 3, "3.5"),
        ),
        DemoKpi("Average discount granted", "平均折扣率", "discount", 20, _DISCOUNT),
    ],
)  # fmt: skip

_SOFTWARE = Family(
    goals=[
        DemoGoal("portal", "portal", "Customer portal release plan", "客户门户发布计划", 45,
                 milestone()),
        DemoGoal("availability", "nps", "Service availability", "服务可用性", 30,
                 hi("%", "99.6", "99.5", "99.9", "99.95")),
        DemoGoal("cloud", "cost", "Cloud cost per active customer", "单客户云成本", 25,
                 lo("CNY per month", "14.8", 14, 12, "10.5")),
    ],
    kpis=[
        DemoKpi("Portal features delivered", "门户功能交付", "portal", 50, milestone()),
        DemoKpi("Change failure rate", "变更失败率", "availability", 30, lo("%", 21, 20, 15, 10)),
        DemoKpi("Lead time for changes", "变更前置时间", "portal", 20, lo("days", 8, 7, 4, 2)),
    ],
)  # fmt: skip


def _on_time(title: str, serves: str, weight: int, *levels) -> DemoKpi:
    return DemoKpi(title, "", serves, weight, hi("%", *levels))


FAMILIES: dict[str, Family] = {
    "SAL-NOR": _SALES,
    "SAL-SOU": _SALES,
    "SAL-GCN": _SALES,
    "SAL-KEY": Family(
        goals=[
            DemoGoal("nrr", "revenue", "Net revenue retention of key accounts", "", 55,
                     hi("%", 99, 100, 106, 112)),
            DemoGoal("nps", "nps", "Key-account NPS", "", 25, hi("NPS points", 40, 42, 48, 54)),
            DemoGoal("discount", "cost", "Average discount on list price", "", 20,
                     lo("% of list price", 12, 11, "9.5", "8.5")),
        ],
        kpis=[
            DemoKpi("Net revenue retention of my accounts", "", "nrr", 50,
                    hi("%", 99, 100, 106, 112)),
            DemoKpi("Joint account plans signed off by the customer", "", "nrr", 25, milestone()),
            DemoKpi("Average discount granted", "", "discount", 25,
                    lo("% of list price", 12, 11, "9.5", "8.5")),
        ],
    ),
    "SAL-INS": Family(
        goals=[
            DemoGoal("sqo", "revenue", "Qualified opportunities created", "", 55,
                     hi("opportunities", 95, 100, 120, 140), True),
            DemoGoal("speed", "nps", "Lead response time", "", 25, lo("hours", 10, 8, 4, 2)),
            DemoGoal("cost", "cost", "Cost per qualified opportunity", "", 20,
                     lo("CNY", 950, 900, 750, 650)),
        ],
        kpis=[
            DemoKpi("Qualified opportunities", "", "sqo", 60,
                    hi("opportunities", 95, 100, 120, 140), True),
            DemoKpi("Lead response time", "", "speed", 40, lo("hours", 10, 8, 4, 2)),
        ],
    ),
    "SAL-CS": Family(
        goals=[
            DemoGoal("grr", "revenue", "Gross revenue retention", "", 40, hi("%", 89, 88, 92, 95)),
            DemoGoal("health", "nps", "NPS of the accounts we manage", "", 40,
                     hi("NPS points", 37, 38, 45, 50)),
            DemoGoal("adoption", "portal", "Active customers using the self-service portal", "",
                     20, hi("% of customers", 5, 30, 45, 60)),
        ],
        kpis=[
            DemoKpi("Renewal rate of my accounts", "", "grr", 50, hi("%", 88, 85, 92, 96)),
            DemoKpi("Customer health checks held", "", "health", 30,
                    hi("checks", 45, 40, 60, 75), True),
            DemoKpi("Customers onboarded to the portal", "", "adoption", 20,
                    hi("customers", 0, 10, 20, 30), True),
        ],
    ),
    "SAL-MKT": Family(
        goals=[
            DemoGoal("pipeline", "revenue", "Marketing-sourced pipeline", "", 50,
                     hi("M CNY", 17, 18, 22, 26), True),
            DemoGoal("cpl", "cost", "Cost per lead", "", 30, lo("CNY", 440, 420, 350, 300)),
            DemoGoal("awareness", "nps", "Aided brand awareness in target segments", "", 20,
                     hi("%", 27, 28, 32, 36)),
        ],
        kpis=[
            DemoKpi("Marketing-qualified leads", "", "pipeline", 50,
                    hi("leads", 480, 500, 650, 800), True),
            DemoKpi("Cost per lead of my campaigns", "", "cpl", 30,
                    lo("CNY", 440, 420, 350, 300)),
            DemoKpi("Campaign calendar delivered on schedule", "", "awareness", 20, milestone()),
        ],
    ),
    "OPS-LOG": Family(
        goals=[
            DemoGoal("otd", "nps", "On-time delivery", "", 40, hi("%", 93, 92, 96, "98.5")),
            DemoGoal("doi", "inventory", "Days of inventory in our warehouses", "", 35,
                     within("days", 64, 45, 60, 10)),
            DemoGoal("freight", "cost", "Freight cost per order", "", 25,
                     lo("CNY", 63, 62, 55, 50)),
        ],
        kpis=[
            _on_time("On-time delivery on my lanes", "otd", 50, 93, 92, 96, "98.5"),
            DemoKpi("Freight cost per order", "", "freight", 30, lo("CNY", 63, 62, 55, 50)),
            DemoKpi("Days of inventory on my product lines", "", "doi", 20,
                    within("days", 64, 45, 60, 10)),
        ],
    ),
    "OPS-PRC": Family(
        goals=[
            DemoGoal("savings", "cost", "Savings on addressable spend", "", 45,
                     hi("%", "2.1", 2, "3.5", 5)),
            DemoGoal("doi", "inventory", "Days of inventory of purchased materials", "", 30,
                     within("days", 52, 30, 45, 8)),
            DemoGoal("otd", "nps", "Supplier on-time delivery", "", 25, hi("%", 91, 90, 95, 98)),
        ],
        kpis=[
            DemoKpi("Negotiated savings", "", "savings", 50,
                    hi("k CNY", 700, 800, 1200, 1600), True),
            _on_time("Supplier on-time delivery", "otd", 30, 91, 90, 95, 98),
            DemoKpi("Spend under contract", "", "savings", 20, hi("% of spend", 68, 70, 80, 90)),
        ],
    ),
    "OPS-SVC": Family(
        goals=[
            DemoGoal("fcr", "nps", "First-contact resolution", "", 40, hi("%", 71, 70, 78, 85)),
            DemoGoal("aht", "cost", "Average handling time", "", 30,
                     lo("minutes", "9.4", 9, "7.5", "6.5")),
            DemoGoal("portal", "portal", "Service requests raised through the portal", "", 30,
                     hi("% of requests", 8, 15, 25, 35)),
        ],
        kpis=[
            _on_time("First-contact resolution", "fcr", 45, 71, 70, 78, 85),
            DemoKpi("Customer satisfaction (CSAT)", "", "fcr", 35,
                    hi("points of 5", "4.2", "4.1", "4.4", "4.6")),
            DemoKpi("Average handling time", "", "aht", 20,
                    lo("minutes", "9.4", 9, "7.5", "6.5")),
        ],
    ),
    "OPS-MFG": Family(
        goals=[
            DemoGoal("units", "revenue", "Units produced", "", 30,
                     hi("k units", 95, 100, 115, 125), True),
            DemoGoal("cost", "cost", "Cost per unit produced", "", 40,
                     lo("CNY", 121, 118, 110, 104)),
            DemoGoal("stock", "inventory", "Finished goods on hand", "", 30,
                     within("days", 24, 10, 20, 5)),
        ],
        kpis=[
            DemoKpi("Output per shift", "", "units", 50, hi("units", 430, 420, 480, 530), True),
            DemoKpi("Scrap rate", "", "cost", 30, lo("%", "3.2", 3, 2, "1.5")),
            DemoKpi("Unplanned downtime", "", "cost", 20, lo("hours per month", 13, 12, 8, 5)),
        ],
    ),
    "OPS-QA": Family(
        goals=[
            DemoGoal("escapes", "nps", "Defects reaching customers", "", 45,
                     lo("ppm", 640, 600, 450, 350)),
            DemoGoal("copq", "cost", "Cost of poor quality", "", 35,
                     lo("% of revenue", "2.5", "2.4", 2, "1.7")),
            DemoGoal("iso", "nps", "ISO 9001 recertification", "", 20, milestone()),
        ],
        kpis=[
            _on_time("Inspections completed on time", "escapes", 50, 91, 90, 97, "99.5"),
            DemoKpi("Defect escape rate", "", "escapes", 30, lo("ppm", 640, 600, 450, 350)),
            _on_time("Corrective actions closed within 30 days", "copq", 20, 72, 75, 90, 97),
        ],
    ),
    "OPS-FAC": Family(
        goals=[
            DemoGoal("energy", "cost", "Energy use per square metre", "", 50,
                     lo("kWh/m²", 196, 190, 170, 155)),
            DemoGoal("spares", "inventory", "Spare parts on hand", "", 20,
                     within("days", 48, 20, 40, 10)),
            DemoGoal("sla", "nps", "Work orders closed within the agreed time", "", 30,
                     hi("%", 86, 85, 92, 97)),
        ],
        kpis=[
            _on_time("Work orders closed within the agreed time", "sla", 50, 86, 85, 92, 97),
            _on_time("Preventive maintenance done on schedule", "energy", 50, 84, 85, 95, 99),
        ],
    ),
    "ENG-PLT": _SOFTWARE,
    "ENG-PRD": _SOFTWARE,
    "ENG-SHA": _SOFTWARE,
    "ENG-DAT": Family(
        goals=[
            DemoGoal("dashboards", "portal", "Executive dashboards on the new data platform", "",
                     40, milestone()),
            DemoGoal("quality", "nps", "Data quality score", "", 30, hi("%", 91, 90, 95, 98)),
            DemoGoal("forecast", "revenue", "Revenue forecast accuracy", "", 30,
                     hi("%", 86, 85, 92, 96)),
        ],
        kpis=[
            DemoKpi("Data pipelines migrated", "", "dashboards", 40, milestone()),
            DemoKpi("Data-quality incidents", "", "quality", 30,
                    lo("incidents per quarter", 9, 8, 4, 2)),
            _on_time("Forecast model accuracy", "forecast", 30, 86, 85, 92, 96),
        ],
    ),
    "ENG-IT": Family(
        goals=[
            DemoGoal("sla", "nps", "IT tickets resolved within the agreed time", "", 40,
                     hi("%", 86, 85, 92, 96)),
            DemoGoal("cost", "cost", "IT cost per employee", "", 35,
                     lo("CNY", 10100, 9800, 9000, 8500)),
            DemoGoal("sso", "portal", "Single sign-on for the customer portal", "", 25,
                     milestone()),
        ],
        kpis=[
            _on_time("Tickets resolved within the agreed time", "sla", 60, 86, 85, 92, 96),
            DemoKpi("Employee IT satisfaction", "", "sla", 40,
                    hi("points of 5", "4.0", "3.9", "4.2", "4.5")),
        ],
    ),
    "ENG-SEC": Family(
        goals=[
            DemoGoal("vulns", "nps", "Critical vulnerabilities fixed within 14 days", "", 40,
                     hi("%", 78, 80, 95, 99)),
            DemoGoal("iso", "portal", "ISO 27001 certification of the portal", "", 35,
                     milestone()),
            DemoGoal("incidents", "cost", "Cost of security incidents", "", 25,
                     lo("k CNY", 2600, 2500, 1500, 1000)),
        ],
        kpis=[
            _on_time("Critical vulnerabilities fixed within 14 days", "vulns", 50, 78, 80, 95, 99),
            DemoKpi("Phishing simulation click rate", "", "incidents", 30, lo("%", 9, 8, 5, 3)),
            DemoKpi("ISO 27001 controls tested", "", "iso", 20, milestone()),
        ],
    ),
    "FIN-ACC": Family(
        goals=[
            DemoGoal("close", "cost", "Working days to close the books", "", 40,
                     lo("working days", 8, 8, 5, 4)),
            DemoGoal("dpo", "inventory", "Days payable outstanding", "", 30,
                     within("days", 41, 45, 60, 10)),
            DemoGoal("overdue", "revenue", "Overdue receivables", "", 30,
                     lo("% of receivables", "8.5", 8, 5, "3.5")),
        ],
        kpis=[
            DemoKpi("Working days to close my ledgers", "", "close", 50,
                    lo("working days", 8, 8, 5, 4)),
            _on_time("Reconciliations done on time", "close", 50, 91, 90, 97, "99.5"),
        ],
    ),
    "FIN-CTL": Family(
        goals=[
            DemoGoal("forecast", "revenue", "Accuracy of the operating forecast", "", 50,
                     hi("%", 89, 88, 94, 97)),
            DemoGoal("lean", "cost", "Savings tracked in the “Lean 26” programme", "", 50,
                     hi("M CNY", 0, 30, 45, 60)),
        ],
        kpis=[
            _on_time("Forecast accuracy of my business units", "forecast", 60, 89, 88, 94, 97),
            _on_time("Monthly reports delivered on time", "lean", 40, 92, 90, 98, "99.5"),
        ],
    ),
    "FIN-TRS": Family(
        goals=[
            DemoGoal("ccc", "inventory", "Cash conversion cycle", "", 50,
                     within("days", 58, 40, 55, 10)),
            DemoGoal("fees", "cost", "Bank fees", "", 30, lo("k CNY", 1900, 1800, 1500, 1300)),
            DemoGoal("cash", "revenue", "Cash forecast accuracy", "", 20,
                     hi("%", 86, 85, 92, 96)),
        ],
        kpis=[
            _on_time("Cash forecast accuracy", "cash", 60, 86, 85, 92, 96),
            _on_time("Payments executed on time", "ccc", 40, "97.5", 97, "99.5", "99.9"),
        ],
    ),
    "FIN-TAX": Family(
        goals=[
            DemoGoal("etr", "cost", "Effective tax rate", "", 60,
                     lo("%", "26.2", 26, "24.5", "23.5")),
            DemoGoal("tp", "revenue", "Transfer-pricing documentation for the China entities",
                     "", 40, milestone()),
        ],
        kpis=[
            _on_time("Tax filings on time", "etr", 60, 96, 95, 99, "99.9"),
            _on_time("Tax-audit questions answered within 10 days", "tp", 40, 78, 80, 90, 97),
        ],
    ),
    "HR-OPS": Family(
        goals=[
            DemoGoal("cost", "cost", "HR cost per employee", "", 40,
                     lo("CNY", 10800, 10500, 9800, 9300)),
            DemoGoal("tickets", "nps", "Employee questions answered within 3 days", "", 30,
                     hi("%", 84, 85, 93, 97)),
            DemoGoal("hris", "portal", "Employee data moved to the new HR system", "", 30,
                     milestone()),
        ],
        kpis=[
            _on_time("Payroll accuracy", "cost", 40, "99.3", 99, "99.6", "99.9"),
            _on_time("Questions answered within 3 days", "tickets", 40, 84, 85, 93, 97),
            DemoKpi("HR system migration tasks done", "", "hris", 20, milestone()),
        ],
    ),
    "HR-REC": Family(
        goals=[
            DemoGoal("fill", "revenue", "Sales roles filled on plan", "", 50,
                     hi("%", 78, 80, 92, 98)),
            DemoGoal("ttf", "cost", "Time to fill", "", 30, lo("days", 57, 55, 45, 38)),
            DemoGoal("cnps", "nps", "Candidate NPS", "", 20, hi("NPS points", 28, 30, 40, 50)),
        ],
        kpis=[
            DemoKpi("Hires made", "", "fill", 50, hi("hires", 20, 18, 24, 30), True),
            DemoKpi("Time to fill my roles", "", "ttf", 30, lo("days", 57, 55, 45, 38)),
            DemoKpi("Candidate NPS", "", "cnps", 20, hi("NPS points", 28, 30, 40, 50)),
        ],
    ),
    "HR-LND": Family(
        goals=[
            DemoGoal("training", "nps", "Service training for customer-facing staff", "", 50,
                     hi("hours per person", 14, 16, 24, 30)),
            DemoGoal("cost", "cost", "Learning cost per employee", "", 25,
                     lo("CNY", 3300, 3200, 2800, 2500)),
            DemoGoal("academy", "portal", "Digital skills academy launched", "", 25,
                     milestone()),
        ],
        kpis=[
            DemoKpi("Training hours delivered", "", "training", 50,
                    hi("hours", 320, 300, 400, 480), True),
            DemoKpi("Course satisfaction", "", "training", 30,
                    hi("points of 5", "4.3", "4.2", "4.5", "4.7")),
            DemoKpi("Academy modules built", "", "academy", 20, milestone()),
        ],
    ),
    "HR-CNB": Family(
        goals=[
            DemoGoal("budget", "cost", "Compensation cost within budget", "", 50,
                     lo("% of budget", "101.5", 102, 100, "98.5")),
            DemoGoal("incentives", "revenue", "Sales incentives paid on time", "", 50,
                     hi("%", 93, 90, 98, "99.5")),
        ],
        kpis=[
            DemoKpi("Compensation cost within budget", "", "budget", 50,
                    lo("% of budget", "101.5", 102, 100, "98.5")),
            _on_time("Incentive payouts on time", "incentives", 50, 93, 90, 98, "99.5"),
        ],
    ),
}  # fmt: skip

# Team leads and managers: their team's main KPI (70) and, serving the division's cost
# goal one level further up, overtime in their team (30).
LEAD_KPI = DemoKpi("Overtime per team member", "", "cost", 30, lo("hours per month", 11, 12, 8, 5))


# --- what employees propose ----------------------------------------------------------


@dataclass(frozen=True)
class DemoProposal:
    title: str
    description: str
    weight: int
    measure: dict[str, Any]


PROPOSALS = [
    DemoProposal(
        "Mentor a new joiner through their first 90 days",
        "Weekly sessions and a 90-day plan agreed with the new joiner and their lead.",
        10,
        milestone(),
    ),
    DemoProposal(
        "Earn the advanced product certification",
        "Both exams passed, so I can run the technical part of customer meetings myself.",
        10,
        milestone(),
    ),
    DemoProposal(
        "Clear my backlog of items older than 30 days",
        "Items open for more than 30 days at the end of each month.",
        15,
        lo("open items", 14, 8, 2, 0),
    ),
    DemoProposal(
        "Document the ten questions customers ask most in the knowledge base",
        "Reviewed by a colleague and linked from the self-service portal.",
        10,
        milestone(),
    ),
    DemoProposal(
        "Cut rework on my work items",
        "Share of my items reopened or corrected after hand-over.",
        10,
        lo("% of items reworked", 9, 8, 5, 3),
    ),
]
# The demo employee's proposal: vague at first, returned, then made measurable.
DEMO_FIRST = DemoProposal(
    "Build a healthcare customer base",
    "Healthcare is growing in our territory and nobody covers it yet.",
    15,
    milestone(),
)
DEMO_REVISED = DemoProposal(
    "Open three new accounts in the healthcare segment",
    "Hospitals and clinic groups in our territory. I suggest taking the 10 points from "
    "pipeline coverage.",
    10,
    hi("accounts", 0, 1, 3, 5),
)
RETURN_COMMENT = (
    "Good idea, but make it measurable: how many, by when, and which of your goals gives "
    "up the weight? Then send it again."
)
REJECT_COMMENT = (
    "This is part of the team lead's job this year; let's agree a stretch on your KPIs instead."
)


# --- how the demo behaves ----------------------------------------------------------

# What a person in each grade delivers on a volume KPI, relative to a P2.
GRADE_FACTOR = {"P1": 0.7, "P2": 1.0, "P3": 1.25, "P4": 1.5}
# A lead's team KPI is the individual one times a typical team size.
TEAM_FACTOR = {"M1": 6, "M2": 18, "M3": 45}
# Share of personal goals with progress recorded; the others have not checked in yet.
CHECKED_IN = 0.88
# The CEO's KPIs: the company's headline numbers.
CEO_KPIS = [("revenue", 50), ("nps", 25), ("cost", 25)]

COMMENTS = {
    C.ON_TRACK: ["On plan.", "Ahead of plan after a strong month.", "", "Steady; no blockers."],
    C.AT_RISK: [
        "Behind plan; recovery actions agreed with my manager.",
        "Two large items slipped to next quarter.",
        "Waiting on another team; escalated.",
    ],
    C.OFF_TRACK: [
        "Well behind: the main customer postponed.",
        "Needs a decision on scope or the target.",
        "Capacity gap since two colleagues left.",
    ],
}
COMMENTS_ZH = {
    C.ON_TRACK: ["进展顺利。", "本月表现强劲，领先计划。", ""],
    C.AT_RISK: ["落后于计划，已与经理商定补救措施。", "两个大项目推迟到下季度。"],
    C.OFF_TRACK: ["严重落后：主要客户推迟了项目。", "需要重新决定范围或目标。"],
}

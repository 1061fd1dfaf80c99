"""The PDF review packet of one appraisal: what each viewer finds in it (read back with
pypdf), who may download it, that WeasyPrint loads nothing but our static files, and
that its queries do not grow with the number of goals."""

import io
import logging
import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfReader

from appraisals import services
from appraisals.models import Appraisal, Review, ReviewGoal
from appraisals.packet import packet_filename, packet_html
from goals.models import Goal
from perfcycle.models import Cycle, RatingLevel
from perfcycle.pdf import BASE_URL, ResourceRefused, StaticFilesFetcher, css_string, render_pdf

from .conftest import at_phase, manager_review, record, self_review

P, A = Cycle.Status, Appraisal.Stage
SELF_COMMENT = "I opened three new accounts in the north"
SELF_GOAL_RESULT = "110k booked by December"
STRENGTHS = "Closes the hardest deals in the region"
MANAGER_GOAL_COMMENT = "Well above the target"
DEVIATION = "Carried the team through Q4"
CALIBRATION_REASON = "Team results were average"
LABELS = [
    "Unsatisfactory",
    "Needs improvement",
    "Meets expectations",
    "Exceeds expectations",
    "Outstanding",
]


def url(appraisal) -> str:
    return reverse("appraisals:packet", args=[appraisal.pk])


def level(cycle, value) -> RatingLevel:
    return RatingLevel.objects.get(scale=cycle.rating_scale, value=value)


def pdf_text(data: bytes) -> str:
    """The PDF's text without whitespace: line breaks fall where the layout puts them and
    text extraction splits some kerned pairs ("T eam"), so phrases are compared squashed
    (see :func:`has`)."""
    assert data.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in pages))


def has(text: str, phrase: str) -> bool:
    return re.sub(r"\s+", "", phrase) in text


def packet_text(client, user, appraisal) -> str:
    client.force_login(user)
    response = client.get(url(appraisal))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return pdf_text(response.content)


@pytest.fixture
def reviewed(appraisal, employee, manager, cascade, competencies):
    """Emil submitted his self-review and Mona her review (proposing 4 where the score
    gives 3): KPI 110, competencies 75, overall 99.50; ready for calibration."""
    goal = cascade.employee_copy
    record(employee, goal, 110)
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    services.review_save(
        actor=employee,
        review=self_review(appraisal),
        data={
            "overall_comment": SELF_COMMENT,
            "goals": {goal.pk: {"result": SELF_GOAL_RESULT, "score": 4, "comment": "Beat it"}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 4},
                competencies.customer.pk: {"rating": 5},
            },
        },
        expected_version=None,
        submit=True,
    )
    at_phase(appraisal.cycle, P.MANAGER_REVIEW)
    services.review_save(
        actor=manager,
        review=manager_review(appraisal),
        data={
            "strengths": STRENGTHS,
            "improvements": "Forecasting",
            "overall_comment": "Solid year",
            "goals": {goal.pk: {"score": 4, "comment": MANAGER_GOAL_COMMENT}},
            "competencies": {
                competencies.teamwork.pk: {"rating": 3},
                competencies.customer.pk: {"rating": 5},
            },
            "proposed_level": level(appraisal.cycle, 4),
            "deviation_reason": DEVIATION,
        },
        expected_version=None,
        submit=True,
    )
    appraisal.refresh_from_db()
    assert appraisal.stage == A.READY
    assert appraisal.overall_score == Decimal("99.50")
    return appraisal


@pytest.fixture
def released(reviewed, org, hr_admin):
    """Calibrated from 4 to 3 with a reason, final, and released to Emil."""
    cycle = reviewed.cycle
    session = services.calibration_session_open(
        actor=hr_admin, cycle=cycle, name="Sales", departments=[org.sales]
    )
    at_phase(cycle, P.CALIBRATION)
    reviewed.refresh_from_db()
    services.calibration_move(
        actor=hr_admin,
        session=session,
        appraisal=reviewed,
        to_level=level(cycle, 3),
        reason=CALIBRATION_REASON,
    )
    services.calibration_session_close(actor=hr_admin, session=session)
    at_phase(cycle, P.FEEDBACK)
    services.results_release(actor=hr_admin, cycle=cycle, departments=[org.sales])
    reviewed.refresh_from_db()
    assert reviewed.released_at is not None and reviewed.final_level.value == 3
    return reviewed


# --- what each viewer reads -------------------------------------------------------------------


def test_it_gives_hr_the_whole_packet_of_a_reviewed_appraisal(client, settings, hr_admin, reviewed):
    settings.COMPANY_NAME = "Acme Trading Ltd"
    client.force_login(hr_admin)
    response = client.get(url(reviewed))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="packet-E0003-{reviewed.cycle.name}.pdf"'
    )
    assert "no-store" in response["Cache-Control"]
    text = pdf_text(response.content)
    for expected in (
        "Emil Employee",
        "E0003",
        "Account executive",
        "Sales East",
        "Mona Manager",
        "Bookings",
        "80 / 100 / 120",
        "110%",
        SELF_COMMENT,
        SELF_GOAL_RESULT,
        "99.50",
        "110.00",
        "75.00",
        STRENGTHS,
        MANAGER_GOAL_COMMENT,
        "3 – Meets expectations",
        "4 – Exceeds expectations",
        DEVIATION,
        "Acme Trading Ltd",
        "Page 1 of",
        "Generated at",
        "for Hana HR",
    ):
        assert has(text, expected), expected


def test_the_employees_packet_before_release_holds_their_self_review_and_nothing_of_the_managers(
    client, employee, reviewed
):
    text = packet_text(client, employee, reviewed)
    assert has(text, "Emil Employee")
    assert has(text, "Bookings")
    assert has(text, SELF_COMMENT)
    assert has(text, SELF_GOAL_RESULT)
    for hidden in (STRENGTHS, MANAGER_GOAL_COMMENT, DEVIATION, "Forecasting", "Solid year"):
        assert not has(text, hidden), hidden
    assert not has(text, "99.5")
    assert not has(text, "75.00")
    for label in LABELS:
        assert not has(text, label), label
    assert not has(text, "Ready for calibration")


def test_the_employees_packet_after_release_holds_the_assessment_but_not_the_panels_reasons(
    client, employee, released
):
    text = packet_text(client, employee, released)
    assert has(text, STRENGTHS)
    assert has(text, MANAGER_GOAL_COMMENT)
    assert has(text, "99.50")
    assert has(text, "3 – Meets expectations")
    assert has(text, SELF_COMMENT)
    assert has(text, "After release")
    assert not has(text, CALIBRATION_REASON)


def test_hrs_packet_after_release_has_the_calibration_reason_the_comment_and_the_appeal(
    client, org, hr_admin, employee, released
):
    services.appraisal_acknowledge(actor=employee, appraisal=released, comment="Noted, thanks.")
    appeal = services.appeal_file(actor=employee, appraisal=released, reason="My numbers")
    services.appeal_resolve(
        actor=hr_admin, appeal=appeal, status="dismissed", outcome="The numbers were checked"
    )
    text = packet_text(client, hr_admin, released)
    assert has(text, CALIBRATION_REASON)
    assert has(text, "4 – Exceeds expectations → 3 – Meets expectations")
    assert has(text, "Noted, thanks.")
    assert has(text, "My numbers")
    assert has(text, "The numbers were checked")
    assert has(text, "Dismissed")


def test_the_managers_packet_leaves_the_appeals_to_the_employee_and_hr(
    client, manager, employee, released
):
    services.appeal_file(actor=employee, appraisal=released, reason="My numbers")
    text = packet_text(client, manager, released)
    assert has(text, STRENGTHS)
    assert not has(text, "My numbers")
    assert not has(text, "Appeals")


def test_it_leaves_out_a_self_review_the_employee_has_not_submitted(
    client, hr_admin, employee, appraisal, cascade
):
    at_phase(appraisal.cycle, P.SELF_REVIEW)
    services.review_save(
        actor=employee,
        review=self_review(appraisal),
        data={"overall_comment": "Still drafting this"},
        expected_version=None,
    )
    assert not has(packet_text(client, hr_admin, appraisal), "Still drafting this")
    assert has(packet_text(client, employee, appraisal), "Still drafting this")


def test_it_renders_a_chinese_name(client, org, hr_admin, reviewed):
    user = org.employee.user
    user.full_name = "王小明"
    user.save(update_fields=["full_name"])
    text = packet_text(client, hr_admin, reviewed)
    assert has(text, "王小明")


def test_the_file_name_is_ascii(appraisal):
    appraisal.employee.employee_number = "Ä 12/3"
    appraisal.cycle.name = "二〇二六年度"
    assert packet_filename(appraisal) == f"packet-A-12-3-{appraisal.cycle_id}.pdf"


def test_the_appraisal_page_links_to_the_packet(client, hr_admin, appraisal):
    client.force_login(hr_admin)
    html = client.get(reverse("appraisals:appraisal", args=[appraisal.pk])).content.decode()
    assert f'href="{url(appraisal)}"' in html
    assert "Download the review packet (PDF)" in html


# --- who may download it ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["peer", "outsider"])
def test_it_hides_a_packet_outside_my_scope(client, request, appraisal, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url(appraisal)).status_code == 404


def test_it_hides_a_packet_that_does_not_exist(client, hr_admin, appraisal):
    client.force_login(hr_admin)
    assert client.get(reverse("appraisals:packet", args=[appraisal.pk + 1000])).status_code == 404


def test_it_asks_an_anonymous_visitor_to_log_in(client, appraisal):
    response = client.get(url(appraisal))
    assert response.status_code == 302
    assert "/login" in response["Location"]


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_refuses_the_wrong_method(client, hr_admin, appraisal, method):
    client.force_login(hr_admin)
    assert getattr(client, method)(url(appraisal)).status_code == 405


# --- queries ----------------------------------------------------------------------------------


def test_its_queries_do_not_grow_with_the_goals(client, org, hr_admin, reviewed, cascade):
    client.force_login(hr_admin)
    client.get(url(reviewed))  # warm the per-process caches (content types, templates)
    with CaptureQueriesContext(connection) as one_goal:
        assert client.get(url(reviewed)).status_code == 200

    source = cascade.employee_copy
    reviews = list(Review.objects.filter(appraisal=reviewed))
    for i in range(4):
        goal = Goal.objects.create(
            cycle=reviewed.cycle,
            level=Goal.Level.PERSONAL,
            employee=org.employee,
            title=f"Extra goal {i}",
            weight=Decimal(0),
            status=Goal.Status.ACTIVE,
            kind=Goal.Kind.KPI,
            unit=source.unit,
            direction=source.direction,
            threshold=source.threshold,
            target=source.target,
            stretch=source.stretch,
            last_actual=Decimal(90 + i),
            attainment=Decimal(90 + i),
        )
        ReviewGoal.objects.bulk_create(
            ReviewGoal(review=review, goal=goal, score=3, comment=f"Line {i}") for review in reviews
        )
    with CaptureQueriesContext(connection) as five_goals:
        response = client.get(url(reviewed))
    assert has(pdf_text(response.content), "Extra goal 3")
    assert len(five_goals) == len(one_goal), [q["sql"] for q in five_goals]


# --- WeasyPrint loads only our static files ---------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "file:///etc/passwd",
        "http://example.com/x.png",
        "https://example.com/static/css/packet.css",
        "data:text/plain;base64,aGVsbG8=",
        "ftp://example.com/x.png",
        f"{BASE_URL}etc/passwd",
        f"{BASE_URL}static/../../etc/passwd",
        f"{BASE_URL}static/%2e%2e/%2e%2e/etc/passwd",
        f"{BASE_URL}static/css/..%2f..%2fsettings.py",
        f"{BASE_URL}static/%2fetc%2fpasswd",
        f"{BASE_URL}static/css/no-such-file.css",
        f"{BASE_URL}static/js/app.js",
        f"{BASE_URL}static/css/",
    ],
)
def test_the_fetcher_refuses_anything_but_our_static_files(address):
    fetcher = StaticFilesFetcher()
    with pytest.raises(ResourceRefused) as refused:
        fetcher(address)
    assert "may load only our static files" in str(refused.value)
    assert fetcher.refused == [address]


def test_the_fetcher_serves_our_stylesheet(settings):
    response = StaticFilesFetcher()(f"{BASE_URL}static/css/packet.css?v=1")
    assert response.content_type == "text/css"
    body = response.read()
    response.close()
    assert body == (settings.BASE_DIR / "static" / "css" / "packet.css").read_bytes()


def test_a_document_asking_for_local_files_or_the_network_renders_without_them(caplog):
    html = """<html><head>
      <link rel="stylesheet" href="/static/css/packet.css">
      <link rel="stylesheet" href="file:///etc/passwd">
      <link rel="attachment" href="file:///etc/passwd">
      </head><body>
      <p>Hello packet</p>
      <img src="file:///etc/passwd" alt="">
      <img src="http://example.com/x.png" alt="">
      <div class="x"></div>
      <style>.x { background: url("file:///etc/hostname") }</style>
    </body></html>"""
    fetcher = StaticFilesFetcher()
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        data = render_pdf(html, url_fetcher=fetcher)
    assert has(pdf_text(data), "Hello packet")
    # the stylesheet, the attachment and the image
    assert fetcher.refused.count("file:///etc/passwd") == 3
    assert set(fetcher.refused) == {
        "file:///etc/passwd",
        "http://example.com/x.png",
        "file:///etc/hostname",
    }
    assert not PdfReader(io.BytesIO(data)).attachments
    assert b"root:" not in data


def test_the_packet_is_refused_to_someone_who_may_not_open_the_appraisal(peer, appraisal):
    """A batch or a task handing over an appraisal fetched some other way gets nothing."""
    with pytest.raises(PermissionDenied):
        packet_html(appraisal, peer)


def test_margin_text_cannot_break_out_of_its_css_string():
    value = css_string('Acme "Ltd"; } body { display: none } </style><img src=x> 王')
    assert re.fullmatch(r'"(?:[A-Za-z0-9]|\\[0-9a-f]{6})*"', value)

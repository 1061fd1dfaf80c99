"""Query strings people (or their browsers, or scanners) send that no form offers: a NUL
character in a search box, a page number beyond any database's range. Every list page
answers them with a page, never a 500 (PostgreSQL in CI refuses NUL and huge offsets)."""

import pytest

from appraisals import services
from perfcycle.models import Cycle

from .conftest import at_phase

NUL = "ab\x00c"
HUGE = "99999999999999999999999"


@pytest.fixture
def session(org, hr_admin, appraisal):
    cycle = at_phase(appraisal.cycle, Cycle.Status.MANAGER_REVIEW)
    return services.calibration_session_open(
        actor=hr_admin, cycle=cycle, name="Sales", departments=[org.sales]
    )


@pytest.mark.parametrize("params", [{"q": NUL}, {"reviewer": NUL}, {"page": HUGE}])
@pytest.mark.parametrize(
    "page",
    [
        "/people/",
        "/goals/company/",
        "/goals/tree/",
        "/appraisals/cycles/{cycle}/appraisals/",
        "/appraisals/calibration/{session}/",
        "/appraisals/reviews/",
        "/inbox/",
    ],
)
def test_list_pages_answer_odd_query_strings_with_a_page(client, hr_admin, session, page, params):
    client.force_login(hr_admin)
    url = page.format(cycle=session.cycle_id, session=session.pk)
    response = client.get(url, params)
    assert response.status_code == 200, (url, params)


def test_a_nul_in_the_search_is_taken_out_not_searched(client, hr_admin, session):
    client.force_login(hr_admin)
    response = client.get(f"/appraisals/cycles/{session.cycle_id}/appraisals/", {"q": "Em\x00il"})
    assert response.status_code == 200
    assert "Emil Employee" in response.content.decode()

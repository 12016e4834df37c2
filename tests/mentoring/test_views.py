"""Role access per page: owner, wrong role, anonymous, wrong method."""

import re
import unicodedata

import pytest
from django.urls import reverse

from tests.factories import EmployeeFactory

pytestmark = pytest.mark.django_db

HR_PAGES = ["hr_home", "directory", "roster_import"]
EXECUTIVE_PAGES = ["executive_home"]
PARTICIPANT_PAGES = ["participant_home"]


@pytest.mark.parametrize("name", HR_PAGES + EXECUTIVE_PAGES + PARTICIPANT_PAGES + ["home"])
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("name", HR_PAGES)
def test_hr_pages(hr_client, name):
    assert hr_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", HR_PAGES)
def test_participant_on_an_hr_page_gets_the_styled_403(participant_client, name):
    response = participant_client.get(reverse(name))
    assert response.status_code == 403
    assert "This page is not part of your role" in response.content.decode()


@pytest.mark.parametrize("name", HR_PAGES)
def test_executive_on_an_hr_page_gets_403(executive_client, name):
    assert executive_client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", EXECUTIVE_PAGES)
def test_executive_pages(executive_client, name):
    assert executive_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", EXECUTIVE_PAGES)
def test_participant_on_executive_page_gets_403(participant_client, name):
    assert participant_client.get(reverse(name)).status_code == 403


def test_participant_home(participant_client):
    response = participant_client.get(reverse("participant_home"))
    assert response.status_code == 200
    assert "You are not in a mentoring program yet" in response.content.decode()


def test_executive_without_participant_role_gets_403_on_participant_home(executive_client):
    assert executive_client.get(reverse("participant_home")).status_code == 403


@pytest.mark.parametrize(("client_fixture", "home"), [("hr_client", "hr_home"), ("executive_client", "executive_home"), ("participant_client", "participant_home")])
def test_home_redirects_to_the_role_home(request, client_fixture, home):
    client = request.getfixturevalue(client_fixture)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse(home)


def test_navigation_shows_each_role_its_own_pages(hr_client, executive_client, participant_client):
    hr_nav = hr_client.get(reverse("hr_home")).content.decode()
    assert reverse("directory") in hr_nav and f'href="{reverse("executive_home")}"' in hr_nav  # the sponsors' dashboard, read-only
    exec_nav = executive_client.get(reverse("executive_home")).content.decode()
    assert reverse("executive_home") in exec_nav and reverse("directory") not in exec_nav
    participant_nav = participant_client.get(reverse("participant_home")).content.decode()
    assert reverse("participant_home") in participant_nav and reverse("hr_home") not in participant_nav


def test_unknown_url_gets_the_styled_404(participant_client):
    response = participant_client.get("/no/such/page/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()


def test_pages_carry_a_strict_content_security_policy(participant_client):
    response = participant_client.get(reverse("participant_home"))
    csp = response["Content-Security-Policy"]
    # Scripts only from our origin (a nonce is added when a page uses one), never inline.
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_directory_search_and_department_filter(hr_client):
    EmployeeFactory(first_name="Zanele", last_name="Mokoena", department__name="Finance")
    EmployeeFactory(first_name="Oskar", last_name="Berg", department__name="Sales")
    body = hr_client.get(reverse("directory"), {"q": "zanele"}).content.decode()
    assert "Zanele Mokoena" in body and "Oskar Berg" not in body


def test_directory_search_ignores_accents_and_case_both_ways(hr_client):
    """Found in QA: "tomas" did not find Tomás Ruiz."""
    EmployeeFactory(first_name="Tomás", last_name="Ruiz")
    EmployeeFactory(first_name="Zoë", last_name="Öztürk")
    EmployeeFactory(first_name="Tomasz", last_name="Nowak")
    EmployeeFactory(first_name="Ana", last_name="O'Brien")
    EmployeeFactory(first_name="Søren", last_name=unicodedata.normalize("NFD", "Łukasiewicz"))  # stroke letters; stored decomposed
    soren = f"Søren {unicodedata.normalize('NFD', 'Łukasiewicz')}"
    for query, found in (
        ("tomas ruiz", ["Tomás Ruiz"]), ("TOMÁS", ["Tomás Ruiz", "Tomasz Nowak"]), ("zoe ozturk", ["Zoë Öztürk"]), ("o'brien", ["Ana O&#x27;Brien"]),
        ("ruíz", ["Tomás Ruiz"]), ("soren lukasiewicz", [soren]),
    ):
        body = hr_client.get(reverse("directory"), {"q": query}).content.decode()
        for name in ("Tomás Ruiz", "Zoë Öztürk", "Tomasz Nowak", "Ana O&#x27;Brien", soren):
            assert (name in body) == (name in found), (query, name)


def test_directory_search_finds_employee_ids_by_their_start(hr_client):
    EmployeeFactory(first_name="Zanele", last_name="Mokoena", employee_id="Q90001")
    EmployeeFactory(first_name="Oskar", last_name="Berg", employee_id="D00351")
    body = hr_client.get(reverse("directory"), {"q": "q9000"}).content.decode()
    assert "Zanele Mokoena" in body and "Oskar Berg" not in body
    assert "Oskar Berg" not in hr_client.get(reverse("directory"), {"q": "0001"}).content.decode()  # the start, not any part


def test_directory_page_query_count_does_not_grow_with_people(hr_client, django_assert_max_num_queries):
    boss = EmployeeFactory()
    for _ in range(5):
        EmployeeFactory(manager=boss)
    with django_assert_max_num_queries(12) as small:
        hr_client.get(reverse("directory"))
    for _ in range(40):
        EmployeeFactory(manager=boss)
    with django_assert_max_num_queries(len(small.captured_queries)):
        hr_client.get(reverse("directory"))


def test_employee_detail_shows_the_whole_reporting_line(hr_client):
    ceo = EmployeeFactory(first_name="Helena", last_name="Marsh")
    vp = EmployeeFactory(manager=ceo, first_name="Ivo", last_name="Novak")
    ic = EmployeeFactory(manager=vp, first_name="Kemi", last_name="Adeyemi")
    body = hr_client.get(reverse("employee_detail", args=[ic.pk])).content.decode()
    body = body[body.index('id="line-heading"'):]
    assert body.index("Helena Marsh") < body.index("Ivo Novak") < body.index("Kemi Adeyemi")
    assert hr_client.get(reverse("employee_detail", args=[999999])).status_code == 404


def test_employee_detail_lists_their_programs_and_pairs(hr_client):
    from tests.factories import EnrollmentFactory, ProgramFactory, make_active_pair

    pair = make_active_pair()
    senior = pair.mentee.employee
    EnrollmentFactory(program=ProgramFactory(name="Next year's program"), employee=senior, role="mentee", status="applied")
    page = hr_client.get(reverse("employee_detail", args=[senior.pk])).content.decode()
    section = page[page.index('id="programs-heading"') : page.index('id="history-heading"')]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
    assert f"{pair.program.name}" in text and f"with {pair.mentor.employee.full_name} · Active" in text
    assert "Next year&#x27;s program" in section and "Applied" in text
    assert reverse("hr_pair", args=[pair.program.slug, pair.pk]) in section


def test_employee_detail_says_why_they_left_a_program_and_how_their_pairs_ended(hr_client):
    from pairing.models import Pair
    from programs.services import enrollment_withdraw
    from tests.factories import make_active_pair

    pair = make_active_pair()
    senior, junior = pair.mentee.employee, pair.mentor.employee
    enrollment_withdraw(enrollment=pair.mentee, by_employee=senior, reason="qz-reason-5512 A new job <abroad>")
    for person in (senior, junior):
        page = hr_client.get(reverse("employee_detail", args=[person.pk])).content.decode()
        section = page[page.index('id="programs-heading"') : page.index('id="history-heading"')]
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
        assert "· Ended on" in text and "(a participant withdrew)" in text
        assert reverse("hr_pair", args=[pair.program.slug, pair.pk]) in section
        if person == senior:
            assert "Withdrawn on" in text and "qz-reason-5512 A new job &lt;abroad&gt;" in section
        else:  # the partner's row: their own application, still approved; the reason is on the pair page and the senior's
            assert "Approved" in text and "qz-reason-5512" not in section
    assert Pair.objects.get().status == "ended"


def test_employee_detail_is_hr_only(participant_client):
    e = EmployeeFactory()
    assert participant_client.get(reverse("employee_detail", args=[e.pk])).status_code == 403


def test_healthz_reports_database_and_broker(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "embedded"}


def test_healthz_is_503_when_the_broker_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "error" and response.json()["database"] == "ok"


@pytest.mark.skipif("not __import__('django.conf', fromlist=['settings']).settings.REDIS_URL")
def test_healthz_with_a_live_redis(client):
    assert client.get("/healthz").json()["broker"] == "ok"


def test_healthz_refuses_post(client):
    assert client.post("/healthz").status_code == 405


# --- The participant home's things to do ---------------------------------------------------------


def test_home_lists_an_open_baseline_survey_before_any_pair_exists(participant_client, participant_user):
    import datetime

    from django.utils import timezone

    from programs.models import Enrollment, Program
    from sessions_log.models import SurveyResponse
    from tests.factories import EnrollmentFactory, ProgramFactory

    program = ProgramFactory(status=Program.Status.MATCHING, name="Digital leaders")
    mine = EnrollmentFactory(employee=participant_user.employee, program=program, status=Enrollment.Status.APPROVED)
    EnrollmentFactory(employee=participant_user.employee, status=Enrollment.Status.APPLIED, program__name="Not decided yet")
    closes = (program.starts_on + datetime.timedelta(days=30)).strftime("%-d %b")
    answer_url = reverse("survey_answer", args=[mine.pk, "baseline"])

    body = participant_client.get(reverse("participant_home")).content.decode()
    to_do = body[body.index('id="to-do-heading"') : body.index("My programs")]
    assert "1 thing to do" in to_do and answer_url in to_do and "Digital leaders" in to_do
    assert f"Answer the baseline survey (open until {closes})" in to_do
    assert "Not decided yet" not in to_do

    SurveyResponse.objects.create(enrollment=mine, kind="baseline", submitted_at=timezone.now())
    assert 'id="to-do-heading"' not in participant_client.get(reverse("participant_home")).content.decode()


def test_home_offers_the_midpoint_survey_only_to_someone_in_a_pair(participant_client, participant_user):
    import datetime

    from django.utils import timezone

    from programs.models import Enrollment, Program
    from sessions_log.models import SurveyResponse
    from tests.factories import EnrollmentFactory, ProgramFactory

    today = timezone.localdate()
    program = ProgramFactory(status=Program.Status.ACTIVE, starts_on=today - datetime.timedelta(days=60), midpoint_survey_on=today - datetime.timedelta(days=1))
    mine = EnrollmentFactory(employee=participant_user.employee, program=program, status=Enrollment.Status.APPROVED)
    SurveyResponse.objects.create(enrollment=mine, kind="baseline", submitted_at=timezone.now())
    midpoint = reverse("survey_answer", args=[mine.pk, "midpoint"])
    assert midpoint not in participant_client.get(reverse("participant_home")).content.decode()  # approved, never paired


def test_home_lists_a_survey_of_a_paired_enrollment_once_not_per_pair(participant_client, participant_user):
    from pairing.models import Pair
    from tests.factories import make_active_pair

    first = make_active_pair(mentor_user=participant_user)  # baseline open, closing today
    second = make_active_pair(program=first.program)
    Pair.objects.filter(pk=second.pk).update(mentor=first.mentor)  # one mentor, two mentees

    body = participant_client.get(reverse("participant_home")).content.decode()
    assert body.count(reverse("survey_answer", args=[first.mentor_id, "baseline"])) == 1


def test_hr_reads_the_impact_dashboard_from_the_navigation_once_even_as_a_sponsor_too(client):
    from mentoring.models import Role
    from tests.auth_helpers import login_with_mfa
    from tests.factories import make_person

    login_with_mfa(client, make_person(roles=[Role.HR_ADMIN, Role.EXECUTIVE], level=8))
    page = client.get(reverse("executive_home"))
    assert page.status_code == 200
    impact = [item for item in page.context["nav_items"] if item["url"] == reverse("executive_home")]
    assert len(impact) == 1 and impact[0]["active"]

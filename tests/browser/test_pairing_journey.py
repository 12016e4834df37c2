"""HR pairs a program end to end in a real browser: run, review, alternatives, publish."""

import re

import pytest
from playwright.sync_api import expect

from mentoring.models import Role
from pairing.models import MatchRun, Pair
from programs.models import Enrollment, Program
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
A = Enrollment.Status.APPROVED

MENTORS = [("Ada", "Nguyen"), ("Bilal", "Okafor"), ("Chen", "Larsen")]
MENTEES = [("Dana", "Whitford"), ("Elliot", "Marsh"), ("Farah", "Castellanos")]


def test_hr_runs_matching_reviews_alternatives_and_publishes(live_server, page, password, check_accessibility, screenshot):
    hr = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6, title="People Partner")
    program = ProgramFactory(name="AI for leaders", slug="ai-for-leaders", status=Program.Status.MATCHING, min_score=0)
    for first, last in MENTORS:
        EnrollmentFactory(program=program, role="mentor", status=A, employee=EmployeeFactory(first_name=first, last_name=last, level=2))
    for first, last in MENTEES:
        EnrollmentFactory(program=program, role="mentee", status=A, employee=EmployeeFactory(first_name=first, last_name=last, level=7))

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(hr.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/hr/")

    errors = []  # console errors include CSP refusals (a vendored widget's inline styles, say)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    home = f"{live_server.url}/hr/programs/{program.slug}/pairing/"
    page.goto(home)
    expect(page.locator("h1")).to_contain_text("Pairing: AI for leaders")
    expect(page.get_by_text("No match runs yet")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "pairing-home")

    # The person choosers are type-to-find: a few letters of a name, then Enter.
    page.get_by_role("combobox", name="Mentor").click()
    page.keyboard.type("bila")
    expect(page.get_by_role("option", name=re.compile("Bilal Okafor"))).to_be_visible()
    expect(page.get_by_role("option", name=re.compile("Ada Nguyen"))).to_have_count(0)
    # Enter takes the highlighted option: wait until the filter has moved the highlight there
    # (under load, Enter once took the option highlighted before the filter ran).
    expect(page.get_by_role("option", name=re.compile("Bilal Okafor"))).to_have_class(re.compile(r"\bactive\b"))
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # on to the mentee chooser, as a keyboard user would
    page.keyboard.type("ellanos")  # its first letter alone would favour Elliot Marsh
    page.keyboard.press("Enter")  # at once, as a fast typist does: the filter must already have run
    page.get_by_label("Decision").select_option("exclude")
    screenshot(page, "pairing-home-chooser")
    page.get_by_role("button", name="Save").click()
    overrides = page.get_by_role("table", name="Pins and exclusions for the next match run")
    expect(overrides).to_contain_text("Bilal Okafor")
    expect(overrides).to_contain_text("Farah Castellanos")
    check_accessibility(page)

    page.get_by_role("button", name="Run matching").click()
    page.wait_for_url(re.compile(r"/pairing/runs/\d+/$"))
    expect(page.get_by_text("The proposal is ready")).to_be_visible()
    expect(page.locator("h1")).to_contain_text("Match run #")
    pairs_table = page.get_by_role("table", name="Each pair with its score and the reasons behind it, best score first")
    expect(pairs_table.locator("tbody tr")).to_have_count(3)
    expect(pairs_table).to_contain_text("levels apart")
    check_accessibility(page)
    screenshot(page, "pairing-review")

    page.get_by_role("link", name="Alternatives for Dana Whitford").click()
    panel = page.locator("#alternatives")
    expect(panel.get_by_role("heading", name="Other mentors for Dana Whitford")).to_be_visible()
    expect(panel.locator("li").get_by_text(re.compile(r"score \d+"))).to_have_count(2)  # the two alternatives
    expect(panel.get_by_text("Currently paired with")).to_contain_text(re.compile(r"\(score \d+/1000 out of 1000\)"))
    assert page.url.endswith(f"/runs/{MatchRun.objects.get().pk}/")  # loaded in place by htmx
    check_accessibility(page)
    screenshot(page, "pairing-alternatives")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Publish 3 pairs").click()
    expect(page.get_by_text("Published 3 pairs: everyone has been told by email.")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Publish"))).to_have_count(0)
    check_accessibility(page)
    screenshot(page, "pairing-published")

    assert Pair.objects.filter(program=program, status=Pair.Status.ACTIVE).count() == 3
    program.refresh_from_db()
    assert program.status == Program.Status.ACTIVE

    page.get_by_role("link", name="See the pairs").click()
    expect(page.locator("h1")).to_contain_text("Pairs: AI for leaders")
    expect(page.get_by_text("3 live pairs")).to_be_visible()
    page.get_by_text("End pair").first.click()  # opens the end-pair form
    reason = page.get_by_label("Why does the pair end?").first
    expect(reason).to_be_visible()
    reason.select_option("not_a_fit")
    page.get_by_label("Note (optional)").first.fill("Different expectations")
    page.get_by_role("button", name="End this pair").first.click()
    expect(page.get_by_text("2 live pairs")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("Not a good fit")
    check_accessibility(page)
    screenshot(page, "pairing-pairs")

    page.goto(home)
    expect(page.get_by_role("button", name="Re-match the remaining pool")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "pairing-home-after-publish")
    assert not Pair.objects.filter(mentor__employee__first_name="Bilal", mentee__employee__first_name="Farah").exists()
    assert errors == []


def test_a_queued_run_shows_progress_and_the_page_refreshes_when_it_is_done(live_server, page, password, check_accessibility, screenshot):
    from pairing import services

    hr = make_person(roles=[Role.HR_ADMIN], level=6)
    program = ProgramFactory(name="Data literacy", slug="data-literacy", status=Program.Status.MATCHING, min_score=0)
    EnrollmentFactory(program=program, role="mentor", status=A, employee=EmployeeFactory(level=2))
    EnrollmentFactory(program=program, role="mentee", status=A, employee=EmployeeFactory(level=7))
    # As a large pool is: queued for a worker (here, the test thread plays the worker).
    run = MatchRun.objects.create(program=program, started_by=hr, progress_note="Waiting for a worker")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(hr.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/hr/")
    page.goto(f"{live_server.url}/hr/programs/{program.slug}/pairing/runs/{run.pk}/")
    expect(page.locator("#run-progress")).to_contain_text("Waiting for a worker")
    check_accessibility(page)
    screenshot(page, "pairing-run-queued")

    services.match_run_execute(run_id=run.pk)
    expect(page.get_by_role("heading", name=re.compile("Proposed pairs"))).to_be_visible(timeout=10_000)
    expect(page.locator("#run-progress")).to_have_count(0)

"""HR creates a program and opens enrollment; a mentor and a mentee apply; HR approves both."""

import re

import pytest
from playwright.sync_api import expect

from mentoring.models import Role
from programs.models import Enrollment, Program
from tests.browser.helpers import sign_in
from tests.factories import DepartmentFactory, TopicFactory, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_program_from_creation_to_approved_applications(live_server, page, browser, password, check_accessibility, screenshot):
    # Transactional tests start from an empty database: the seeded topics may be gone.
    TopicFactory(name="AI tools")
    TopicFactory(name="Social media")
    hr = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6, title="People Partner")
    mentor = make_person(roles=[Role.PARTICIPANT], level=2, department=DepartmentFactory(name="Engineering"), first_name="Maya", last_name="Mentor")
    mentee = make_person(roles=[Role.PARTICIPANT], level=7, department=DepartmentFactory(name="Finance"), first_name="Sam", last_name="Senior")
    base = live_server.url

    # HR creates the program through the sectioned form.
    sign_in(page, base, hr, password)
    page.wait_for_url(f"{base}/hr/")
    page.get_by_role("link", name="New program").click()
    page.wait_for_url(f"{base}/hr/programs/new/")
    check_accessibility(page)
    page.get_by_label("Name", exact=False).first.fill("AI for leaders")
    page.get_by_label("Short name").fill("ai-for-leaders")
    page.get_by_label("Description").fill("Juniors show senior leaders the AI tools they use every day.")
    page.get_by_label("AI tools").check()
    page.get_by_label("Social media").check()
    page.get_by_label("Open self-enrollment").check()
    screenshot(page, "program-create")
    page.get_by_role("button", name="Create draft program").click()
    page.wait_for_url(re.compile(r"/hr/programs/\d+/$"))
    expect(page.locator("h1")).to_contain_text("AI for leaders")
    expect(page.locator("h1")).to_contain_text("Draft")
    check_accessibility(page)

    page.get_by_role("button", name="Open enrollment").click()
    expect(page.locator("h1")).to_contain_text("Enrollment open")
    expect(page.get_by_role("status").first).to_contain_text("moved from Draft to Enrollment open")
    check_accessibility(page)
    screenshot(page, "program-detail")
    program_url = page.url
    program = Program.objects.get(slug="ai-for-leaders")
    assert program.status == Program.Status.ENROLLMENT_OPEN and program.self_enrollment

    # The mentor and the mentee each find the program on their home page and apply.
    for person, rating, label in ((mentor, "4", "mentor"), (mentee, "2", "mentee")):
        context = browser.new_context()
        their_page = context.new_page()
        sign_in(their_page, base, person, password)
        their_page.wait_for_url(f"{base}/me/")
        expect(their_page.get_by_role("heading", name="Programs open to you")).to_be_visible()
        check_accessibility(their_page)
        their_page.get_by_role("link", name="Apply to AI for leaders").click()
        their_page.wait_for_url(f"{base}/programs/ai-for-leaders/apply/")
        check_accessibility(their_page)
        their_page.get_by_label("AI tools").select_option(rating)
        their_page.get_by_label("Interests").fill("podcasts, cycling")
        their_page.get_by_label("Languages you can hold a meeting in").fill("English")
        their_page.get_by_label("Tuesday 10:00–12:00").check()
        their_page.get_by_label("Thursday 14:00–16:00").check()
        their_page.get_by_label("What do you hope to get from the program?").fill(f"Learning as a {label}.")
        screenshot(their_page, f"apply-{label}")
        their_page.get_by_role("button", name="Send my application").click()
        their_page.wait_for_url(f"{base}/me/")
        expect(their_page.get_by_role("status").first).to_contain_text("Your application to AI for leaders is in")
        expect(their_page.locator("#my-programs-heading")).to_be_visible()
        check_accessibility(their_page)
        screenshot(their_page, f"home-{label}-applied")
        context.close()

    assert set(program.enrollments.values_list("role", "status")) == {("mentor", "applied"), ("mentee", "applied")}

    # HR approves both from the review queue.
    page.goto(program_url)
    page.get_by_role("link", name="Review applications").click()
    expect(page.get_by_text("Maya Mentor", exact=True)).to_be_visible()
    expect(page.get_by_text("Sam Senior", exact=True)).to_be_visible()
    check_accessibility(page)
    screenshot(page, "review-queue")
    page.get_by_role("checkbox", name="Select all on this page").check()  # the one shown at this width
    page.get_by_label("Message to the selected people").fill("Welcome to the program!")
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_role("status").first).to_contain_text("2 applications approved")
    check_accessibility(page)
    screenshot(page, "review-approved")
    assert set(Enrollment.objects.filter(program=program).values_list("status", flat=True)) == {Enrollment.Status.APPROVED}


def test_other_program_pages_are_accessible(live_server, page, browser, password, check_accessibility, screenshot):
    """The pages the journey does not pass through: invitations, topics, clone, the
    participant's checklist (ticked through htmx), withdrawal and the 'cannot apply' page."""
    from programs.models import Resource
    from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory

    TopicFactory(name="AI tools")
    TopicFactory(name="Social media")
    hr = make_person(roles=[Role.HR_ADMIN], level=6)
    sales = DepartmentFactory(name="Sales")
    EmployeeFactory(department=sales, level=2, first_name="Ivy", last_name="Invitee")
    EmployeeFactory(department=sales, level=8, first_name="Sid", last_name="Skipped")
    program = ProgramFactory(name="Culture swap", self_enrollment=True)
    base = live_server.url

    sign_in(page, base, hr, password)
    page.wait_for_url(f"{base}/hr/")
    for path, name in ((f"/hr/programs/{program.pk}/invite/", "invite"), ("/hr/programs/", "program-list"), ("/hr/topics/", "topics"), (f"/hr/programs/{program.pk}/clone/", "clone")):
        page.goto(base + path)
        check_accessibility(page)
        screenshot(page, name)
    # On a phone the wide program tables scroll inside their box, never the whole page (the
    # screen-reader text "3 to review in <program>" once escaped the box and widened it).
    EnrollmentFactory.create_batch(3, program=program, role="mentee", status="applied")
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/hr/", "/hr/programs/"):
        page.goto(base + path)
        expect(page.get_by_role("link", name=f"3 to review in {program.name}")).to_be_attached()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} scrolls sideways on a phone"
    # A long unbroken title (a pasted URL, say) wraps; it neither widens the page nor pushes
    # the Remove button off screen, on a phone or a laptop.
    Resource.objects.create(program=program, title="https://intranet.acme.example/" + "x" * 160, url="https://intranet.acme.example/")
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 844})
        page.goto(f"{base}/hr/programs/{program.pk}/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"a long title widens the program page at {width}px"
        remove = page.get_by_role("button", name=re.compile("Remove")).first.bounding_box()
        assert remove["x"] + remove["width"] <= width, f"the Remove button is off screen at {width}px"
        assert remove["height"] < 2 * 31, f"the Remove button is squeezed into a column at {width}px"
    # The HR menu: one line per label on a laptop (no "Roster / import"), nothing wider than the page.
    for width in (1200, 1280):
        page.set_viewport_size({"width": width, "height": 844})
        page.goto(base + "/hr/")
        heights = page.evaluate("[...document.querySelectorAll('nav.navbar .nav-link')].map(a => a.getBoundingClientRect().height)")
        assert max(heights) < 48 and page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"the menu wraps at {width}px: {heights}"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/hr/programs/{program.pk}/invite/")
    page.get_by_label("Department").select_option(label="Sales")
    page.get_by_label("Or paste email addresses").fill("nobody@acme.example")
    page.get_by_role("button", name="Preview who would be invited").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "invite-preview")
    page.get_by_role("button", name="Send invitations").click()
    expect(page.get_by_role("heading", name="1 person invited as mentor")).to_be_visible()
    expect(page.get_by_text("nobody@acme.example")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "invite-result")

    mentor = make_person(roles=[Role.PARTICIPANT], level=2)
    enrollment = EnrollmentFactory(program=program, employee=mentor.employee, role="mentor", status="approved")
    Resource.objects.create(program=program, title="How to run a first meeting", url="https://example.com/first", audience="mentors")
    blocked = ProgramFactory(name="Seniors' circle", self_enrollment=True, mentor_max_level=1)
    context = browser.new_context()
    mentor_page = context.new_page()
    sign_in(mentor_page, base, mentor, password)
    mentor_page.wait_for_url(f"{base}/me/")
    mentor_page.get_by_role("button", name=re.compile(r"^Mark as done\W+How to run a first meeting")).click()
    expect(mentor_page.get_by_role("button", name=re.compile(r"^Mark as not done\W+How to run a first meeting"))).to_be_visible()
    assert enrollment.completed_resources.count() == 1
    check_accessibility(mentor_page)
    screenshot(mentor_page, "home-checklist")
    mentor_page.goto(f"{base}/programs/{blocked.slug}/apply/")
    expect(mentor_page.get_by_text("Mentors in this program are at level 1 or below")).to_be_visible()
    check_accessibility(mentor_page)
    screenshot(mentor_page, "apply-blocked")
    mentor_page.goto(f"{base}/me/enrollments/{enrollment.pk}/withdraw/")
    check_accessibility(mentor_page)
    screenshot(mentor_page, "withdraw")
    context.close()


def test_hr_home_and_the_pairs_list_read_as_cards_on_a_phone(live_server, browser, password):
    """QA at 390 px: the HR home's programs and the pairs list clipped their Runs and Score
    columns behind a sideways scroll inside the table."""
    from tests.factories import make_active_pair

    hr = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6)
    pair = make_active_pair()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, hr, password)
    page.wait_for_url(f"{live_server.url}/hr/")
    for url in (f"{live_server.url}/hr/", f"{live_server.url}/hr/programs/{pair.program.slug}/pairing/pairs/"):
        page.goto(url)
        clipped = page.evaluate("[...document.querySelectorAll('.table-responsive')].filter(t => t.scrollWidth > t.clientWidth + 1).length")
        assert clipped == 0, f"{url}: a table scrolls sideways"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    expect(page.get_by_text(str(pair.score), exact=False).first).to_be_visible()
    # Each card says who is the mentor and who the mentee (the column headers are hidden),
    # and a live pair's card has no "Ended: —" or "End reason: —" lines.
    row = page.locator("tbody tr").first
    mentor_cell, mentee_cell = row.locator("td").nth(0), row.locator("td").nth(1)
    assert mentor_cell.evaluate("td => getComputedStyle(td, '::before').content") == '"Mentor"'
    assert mentee_cell.evaluate("td => getComputedStyle(td, '::before').content") == '"Mentee"'
    assert mentor_cell.bounding_box()["y"] == mentee_cell.bounding_box()["y"]  # side by side
    expect(row.locator('td[data-label="Ended"]')).to_be_hidden()
    expect(row.locator('td[data-label="End reason"]')).to_be_hidden()
    expect(row.locator('td[data-label="Started"]')).to_be_visible()
    context.close()


def test_a_field_with_two_messages_shows_them_on_two_lines(live_server, page, password, check_accessibility, screenshot):
    """Fixing the program form: a field's two messages ran together as one text, the top of the
    form did not say how many fields needed fixing, and the level inputs' range was SQLite's."""
    import datetime

    from django.utils import timezone

    TopicFactory(name="AI tools")
    hr = make_person(roles=[Role.HR_ADMIN], level=6)
    base = live_server.url
    sign_in(page, base, hr, password)
    page.goto(f"{base}/hr/programs/new/")
    assert "9223372036854775807" not in page.content()
    page.get_by_label("Name", exact=False).first.fill("AI for leaders")
    page.get_by_label("Short name").fill("ai-for-leaders")
    page.get_by_label("AI tools").check()
    today = timezone.localdate()
    page.get_by_label("Midpoint survey").fill((today + datetime.timedelta(days=120)).isoformat())
    page.get_by_label("Final survey").fill((today + datetime.timedelta(days=10)).isoformat())  # before the start and the midpoint
    page.get_by_role("button", name="Create draft program").click()

    summary = page.locator(".form-errors")
    expect(summary).to_contain_text("Nothing was saved.")
    expect(summary).to_contain_text("1 field below needs another look")
    messages = page.locator("#id_final_survey_on_error p")
    expect(messages).to_have_count(2)
    first, second = messages.nth(0), messages.nth(1)
    expect(first).to_have_text("The final survey must fall within the program (or up to 30 days after it ends).")
    expect(second).to_have_text("The final survey comes after the midpoint survey.")
    top, below = first.bounding_box(), second.bounding_box()
    assert below["y"] >= top["y"] + top["height"], "the two messages share a line"
    check_accessibility(page)
    summary.get_by_role("link", name="Final survey").click()
    expect(page).to_have_url(re.compile(r"#id_final_survey_on$"))
    page.locator("#div_id_final_survey_on").scroll_into_view_if_needed()
    screenshot(page, "program-form-two-messages")

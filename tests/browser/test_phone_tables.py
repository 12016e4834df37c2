"""QA at 390 px: the wide HR and executive tables scrolled sideways inside their box, so a
person panned left and right to read one row. On a phone each row now reads as a card whose
cells carry their column's name (.table-stack-sm), or, for the executive trend, as narrow
tables; at a laptop's width the tables are as they were."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mentoring.models import Role
from mentoring.roster import roster_import_apply, roster_import_create
from programs.models import Enrollment
from programs.snapshots import snapshot_save
from tests.browser.helpers import sign_in
from tests.factories import DepartmentFactory, EmployeeFactory, EnrollmentFactory, ProgramFactory, make_active_pair, make_person
from tests.mentoring.test_roster import make_csv, person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

# Every table shown in the page's main part, with how far its box scrolls sideways.
TABLES_SCROLL = """() => [...document.querySelectorAll('main table')].filter(t => t.offsetParent !== null).map(t => {
  const box = t.closest('.table-responsive') || t.parentElement;
  return {caption: (t.caption && t.caption.textContent.trim()) || t.className, overflow: box.scrollWidth - box.clientWidth};
})"""
LABEL_SHOWN = "td => { const s = getComputedStyle(td, '::before'); return s.display === 'none' ? 'none' : s.content; }"


def _roster_imports(hr) -> int:
    """An applied file, one with errors and a preview that adds people and changes one: the
    history and the detail page both have rows. Returns the preview's id."""
    boss = person("E1", first_name="Cal", last_name="Boss")
    applied = roster_import_create(data=make_csv(boss, person("E2", first_name="Bea", last_name="Reporter", manager_id="E1")), filename="march-export.csv", uploaded_by=hr)
    roster_import_apply(roster_import_id=applied.pk, by=hr)
    roster_import_create(data=make_csv(person("E3", email="nope")), filename="april-export.csv", uploaded_by=hr)
    newcomers = [person(f"E{n}", first_name="Alexandria", last_name=f"Vandenberghe-Okonkwo {n}", email=f"alexandria.vandenberghe{n}@acme.example", department="Product Design and Research", manager_id="E1") for n in range(4, 7)]
    preview = roster_import_create(data=make_csv({**boss, "title": "Head of Engineering", "location": "Lisbon"}, *newcomers), filename="may-export.csv", uploaded_by=hr)
    return preview.pk


def _setup_roster_history(hr, base):
    _roster_imports(hr)
    return "/hr/roster/"


def _setup_roster_detail(hr, base):
    return f"/hr/roster/{_roster_imports(hr)}/"


def _setup_review(hr, base):
    program = ProgramFactory(name="AI for leaders")
    for role in ("mentor", "mentee", "mentee"):
        EnrollmentFactory(program=program, role=role, motivation="I want to see how my teams really work with these tools.", interests=["cooking", "travel"])
    return f"/hr/programs/{program.pk}/review/"


def _setup_directory(hr, base):
    boss = EmployeeFactory(title="Chief Technology Officer", department=DepartmentFactory(name="Engineering"), level=9)
    EmployeeFactory.create_batch(3, manager=boss, title="Senior Platform Engineer", department=boss.department, time_zone="America/Los_Angeles")
    return "/hr/directory/"


def _setup_executive_trend(hr, base):
    program = make_active_pair().program
    Enrollment.objects.filter(program=program).update(created_at=timezone.now() - datetime.timedelta(days=25))
    for weeks_ago in (2, 1, 0):
        snapshot_save(program=program, as_of=timezone.localdate() - datetime.timedelta(weeks=weeks_ago))
    return "/executive/"


# (page, who opens it, the data and path, a cell label that must show on a phone)
PAGES = [
    ("roster-history", Role.HR_ADMIN, _setup_roster_history, "Uploaded by"),
    ("roster-detail", Role.HR_ADMIN, _setup_roster_detail, "Line"),
    ("review", Role.HR_ADMIN, _setup_review, "Role and status"),
    ("directory", Role.HR_ADMIN, _setup_directory, "Title"),
    ("executive-trend", Role.EXECUTIVE, _setup_executive_trend, None),
]


@pytest.mark.parametrize(("name", "role", "setup", "label"), PAGES, ids=[p[0] for p in PAGES])
def test_wide_tables_read_without_sideways_scrolling_on_a_phone(live_server, browser, password, settings, check_accessibility, screenshot, name, role, setup, label):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    viewer = make_person(roles=[role], level=8, title="People Partner")
    path = setup(viewer, live_server.url)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    sign_in(page, live_server.url, viewer, password)
    page.goto(live_server.url + path)
    for details in page.locator("main details").all():  # the trend's numbers are folded away
        details.locator("summary").click()

    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} scrolls sideways on a phone"
    tables = page.evaluate(TABLES_SCROLL)
    assert tables, f"no table shown on {path}"
    assert all(t["overflow"] <= 1 for t in tables), f"{path}: a table scrolls sideways on a phone: {tables}"
    if label:
        cell = page.locator(f'main td[data-label="{label}"]').first
        expect(cell).to_be_visible()
        assert label in cell.evaluate(LABEL_SHOWN), f"{path}: the {label!r} cell has no visible label on a phone"
        header = cell.locator("xpath=ancestor::table[1]/thead")
        assert header.evaluate("h => h.getBoundingClientRect().height") <= 1  # read out, not shown
    else:
        # The executive trend: narrow tables with their own headers instead of the nine columns.
        expect(page.get_by_test_id("trend-table")).to_be_hidden()
        expect(page.get_by_test_id("trend-tables-narrow").get_by_role("columnheader", name="Cadence adherence (%)")).to_be_visible()
        expect(page.get_by_test_id("trend-tables-narrow").get_by_role("rowheader").first).to_be_visible()
    check_accessibility(page)
    screenshot(page, f"phone-{name}")

    # At a laptop's width the same page keeps its table: header row shown, no cell labels.
    page.set_viewport_size({"width": 1366, "height": 900})
    if label:
        expect(header).to_be_visible()
        assert header.evaluate("h => h.getBoundingClientRect().height") > 20
        assert cell.evaluate(LABEL_SHOWN) in ("none", "normal")
    else:
        expect(page.get_by_test_id("trend-table")).to_be_visible()
        expect(page.get_by_test_id("trend-tables-narrow")).to_be_hidden()
    context.close()


def test_hr_decides_on_applications_on_a_phone(live_server, browser, password, check_accessibility):
    """The header row (and its "select all" box) is hidden on a phone: the same box shows
    beside the decision buttons, and each card's own box can be tapped."""
    hr = make_person(roles=[Role.HR_ADMIN], level=6)
    program = ProgramFactory(name="AI for leaders")
    picked, *others = [EnrollmentFactory(program=program, role="mentee", employee__first_name=first, employee__last_name="Senior") for first in ("Ana", "Ben", "Cy")]
    context = browser.new_context(**PHONE)
    page = context.new_page()
    sign_in(page, live_server.url, hr, password)
    page.goto(f"{live_server.url}/hr/programs/{program.pk}/review/")

    select_all = page.get_by_role("checkbox", name="Select all on this page")
    expect(select_all).to_have_count(1)  # the header row's box is not there to be tabbed to
    select_all.check()
    for enrollment in (picked, *others):
        expect(page.locator(f"#pick-{enrollment.pk}")).to_be_checked()
    select_all.uncheck()
    box = page.get_by_role("checkbox", name="Select Ana Senior")
    size = box.bounding_box()
    assert size["width"] >= 24 and size["height"] >= 24, size  # large enough to tap
    box.tap()
    expect(box).to_be_checked()
    check_accessibility(page)
    page.get_by_role("button", name="Approve selected").click()
    expect(page.get_by_role("status").first).to_contain_text("1 application approved")
    assert list(Enrollment.objects.filter(program=program, status=Enrollment.Status.APPROVED)) == [picked]
    context.close()

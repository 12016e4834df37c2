"""HR and an executive open the dashboards of a running program: charts draw, small groups stay hidden."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from mentoring.models import Role
from programs.models import Enrollment
from programs.snapshots import snapshot_save
from tests.browser.helpers import sign_in
from tests.factories import DepartmentFactory, EmployeeFactory, make_active_pair, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART_DRAWN = "Array.from(document.querySelectorAll('canvas')).every(c => Chart.getChart(c) !== undefined)"


def _program_with_history():
    """Eight pairs: Engineering mentors, Finance mentees, and a Legal team of three (a small group)."""
    engineering, finance, legal = (DepartmentFactory(name=n) for n in ("Engineering", "Finance", "Legal"))
    first = make_active_pair(stuck_after_days=7, mentor_user=None)
    program = first.program
    for emp, dept in ((first.mentor.employee, engineering), (first.mentee.employee, finance)):
        emp.department = dept
        emp.save()
    for i in range(7):
        mentor = EmployeeFactory(level=2, department=legal if i < 2 else engineering)
        mentee = EmployeeFactory(level=7, department=legal if i == 2 else finance)
        make_active_pair(program=program, mentor_user=_as_user(mentor), mentee_user=_as_user(mentee))
    # Everyone applied before the pairs started (20 days ago), so that the past weeks' snapshots
    # (each computed as of its own day) count them.
    Enrollment.objects.filter(program=program).update(created_at=timezone.now() - datetime.timedelta(days=25))
    for weeks_ago in (2, 1, 0):
        snapshot_save(program=program, as_of=timezone.localdate() - datetime.timedelta(weeks=weeks_ago))
    return program


class _as_user:
    """make_active_pair takes users; these people need no login."""

    def __init__(self, employee):
        self.employee = employee


def test_hr_and_executive_dashboards(live_server, page, browser, password, check_accessibility, screenshot):
    program = _program_with_history()
    hr = make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6, title="People Partner")
    executive = make_person(roles=[Role.EXECUTIVE], level=9, title="Chief Operating Officer")
    base = live_server.url

    # HR: from the program page to its dashboard.
    sign_in(page, base, hr, password)
    page.wait_for_url(f"{base}/hr/")
    page.goto(f"{base}/hr/programs/{program.pk}/")
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{base}/hr/programs/{program.pk}/dashboard/")
    expect(page.get_by_text("Data as of")).to_be_visible()
    expect(page.locator("canvas#funnel-chart")).to_be_visible()
    page.wait_for_function(CHART_DRAWN)
    assert page.locator("[data-testid=stuck-pairs] li").count() == 8
    check_accessibility(page)
    screenshot(page, "dashboard-hr")

    # Refresh: the run is computed (eagerly here) and the page comes back with fresh numbers.
    page.get_by_role("button", name="Refresh").click()
    page.wait_for_url(f"{base}/hr/programs/{program.pk}/dashboard/")
    expect(page.get_by_text("Data as of")).to_be_visible()

    # The executive: the impact dashboard of the running program.
    context = browser.new_context()
    exec_page = context.new_page()
    sign_in(exec_page, base, executive, password)
    exec_page.wait_for_url(f"{base}/executive/")
    expect(exec_page.locator("h1")).to_contain_text("Impact of reverse mentoring")
    expect(exec_page.get_by_text("Data as of")).to_be_visible()
    assert exec_page.locator("canvas").count() >= 6
    exec_page.wait_for_function(CHART_DRAWN)
    legal_row = exec_page.locator("[data-breakdown=by-department] tr", has_text="Legal")
    expect(legal_row).to_contain_text("hidden")
    labels = exec_page.evaluate("Chart.getChart(document.getElementById('by-department')).data.labels")
    assert "Legal" not in labels
    # Every hidden cell reads the same: which of them is the small group is not said.
    assert exec_page.locator("[data-breakdown=by-department] td").get_by_text("hidden", exact=True).count() >= 2
    assert exec_page.locator("[data-breakdown=by-department]").get_by_text("fewer than 5", exact=True).count() == 0
    check_accessibility(exec_page)
    screenshot(exec_page, "dashboard-executive")

    # On a phone the trend charts keep a plot of a useful, equal height (labels and legends
    # do not eat it), and a 100% line has room above it.
    exec_page.set_viewport_size({"width": 390, "height": 844})
    exec_page.wait_for_timeout(500)  # Chart.js redraws on resize
    heights = exec_page.evaluate("['trend-percent', 'trend-activity', 'trend-actions'].map(id => Chart.getChart(document.getElementById(id)).chartArea.height)")
    assert min(heights) >= 120, heights
    assert exec_page.evaluate("Chart.getChart(document.getElementById('trend-percent')).scales.y.max") > 100
    ticks = exec_page.evaluate("Chart.getChart(document.getElementById('trend-percent')).scales.y.ticks.map(t => t.value)")
    assert max(ticks) == 100  # headroom, but no "105%" on the axis
    screenshot(exec_page, "dashboard-executive-phone")
    context.close()

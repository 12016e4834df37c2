"""HR and executive dashboards: roles, empty states, fixed query counts, suppression, export, refresh."""

import copy
import csv
import datetime
import re
import io

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from mentoring.models import Department, Employee
from programs.models import Enrollment, MetricSnapshot, Program, SnapshotRun
from programs.snapshots import snapshot_save
from sessions_log.models import Feedback, Meeting, PrivateNote, SessionLog
from tests.factories import DepartmentFactory, EmployeeFactory, EnrollmentFactory, ProgramFactory, make_active_pair

pytestmark = pytest.mark.django_db


def _hr_url(program, name="program_dashboard"):
    return reverse(name, args=[program.pk])


@pytest.fixture
def pair():
    return make_active_pair()


@pytest.fixture
def program(pair):
    return pair.program


def _snapshot(program, data, *, days_ago=0):
    now = timezone.now() - datetime.timedelta(days=days_ago)
    return MetricSnapshot.objects.create(program=program, as_of=timezone.localdate(now), computed_at=now, data=data)


def _stuck(pair) -> dict:
    return {"pair": pair.pk, "mentor": pair.mentor.employee_id, "mentee": pair.mentee.employee_id}


def _big(data: dict, *, pairs: int, departments: int) -> dict:
    """The same snapshot as if the program were much larger: long lists in every list key."""
    data = copy.deepcopy(data)
    data["pair_health"]["stuck_pairs"] = [{"pair": i, "mentor": 2 * i, "mentee": 2 * i + 1} for i in range(1, pairs + 1)]
    data["pairs"]["stuck"] = pairs
    data["by_department"] = [{"group": f"Dept {i}", "people": 5 + i % 7, "in_active_pairs": i % 5} for i in range(departments)]
    data["by_topic"] = [{"group": f"Topic {i}", "people": 5 + i % 3} for i in range(departments)]
    data["uplift_mentee"] = [{"topic": f"Topic {i}", "mean": 0.5, "n": 6} for i in range(departments)]
    data["insight_to_action"]["by_topic"] = [{"topic": f"Topic {i}", "insights": 3, "actions": 2, "done": 1} for i in range(departments)]
    return data


# --- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["program_dashboard", "program_export"])
def test_hr_pages_by_role(hr_client, executive_client, participant_client, client, program, name):
    url = _hr_url(program, name)
    assert hr_client.get(url).status_code == 200
    assert participant_client.get(url).status_code == 403
    assert executive_client.get(url).status_code == 403
    response = client.get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_refresh_is_post_only_and_hr_only(hr_client, executive_client, participant_client, client, program):
    url = _hr_url(program, "program_dashboard_refresh")
    assert hr_client.get(url).status_code == 405
    assert executive_client.post(url).status_code == 403
    assert participant_client.post(url).status_code == 403
    assert "/accounts/login/" in client.post(url)["Location"]
    assert not SnapshotRun.objects.exists()


def test_unknown_program_is_404(hr_client):
    assert hr_client.get(reverse("program_dashboard", args=[999999])).status_code == 404


def test_executive_page_by_role(executive_client, participant_client, hr_client, client):
    url = reverse("executive_home")
    assert executive_client.get(url).status_code == 200
    assert participant_client.get(url).status_code == 403
    assert hr_client.get(url).status_code == 200  # HR without the executive role: they prepare the sponsors' reports
    assert hr_client.post(url).status_code == 405  # read-only
    assert "/accounts/login/" in client.get(url)["Location"]


# --- empty states -----------------------------------------------------------------------------


def test_hr_dashboard_without_snapshot_offers_compute_now(hr_client, program):
    response = hr_client.get(_hr_url(program))
    body = response.content.decode()
    assert "No numbers yet" in body
    assert "Compute now" in body
    assert "Data as of" not in body
    assert "<canvas" not in body


def test_executive_dashboard_without_snapshot_shows_empty_state(executive_client, program):
    body = executive_client.get(reverse("executive_home")).content.decode()
    assert f"No figures for {program.name} yet" in body
    assert "<canvas" not in body
    Program.objects.update(status=Program.Status.DRAFT)
    assert "No program metrics yet" in executive_client.get(reverse("executive_home")).content.decode()


# --- content ----------------------------------------------------------------------------------


def test_hr_dashboard_shows_funnel_figures_and_stuck_pairs(hr_client, program, pair):
    data = snapshot_save(program=program).data
    data["pair_health"]["stuck_pairs"] = [_stuck(pair)]
    data["pairs"]["stuck"] = 1
    data["reminders"] = {"sent": 12, "failed": 3}
    MetricSnapshot.objects.filter(program=program).update(data=data)

    response = hr_client.get(_hr_url(program))
    body = response.content.decode()
    assert "Data as of" in body
    assert [s["n"] for s in response.context["funnel"]] == [data["funnel"][k] for k in ("invited", "applied", "approved", "paired", "active")]
    assert "match rate" in body.lower() and "100%" in body  # one approved mentee, paired
    assert pair.mentor.employee.full_name in body
    assert reverse('hr_pair', args=[program.slug, pair.pk]) in body
    assert "reminders sent" in body.lower()
    assert 'id="funnel-chart-data"' in body
    assert reverse("program_export", args=[program.pk]) in body


def test_hr_dashboard_names_the_quietest_pairs_first_and_counts_the_rest(hr_client, program, pair):
    other = make_active_pair(program=program)
    data = snapshot_save(program=program).data
    data["pair_health"]["stuck_pairs"] = [_stuck(other), _stuck(pair)]  # the snapshot's order: quietest first
    data["pairs"]["stuck"] = 120  # the snapshot keeps a few ids and counts them all
    MetricSnapshot.objects.filter(program=program).update(data=data)

    response = hr_client.get(_hr_url(program))
    assert [p["pk"] for p in response.context["stuck_pairs"]] == [other.pk, pair.pk]
    body = response.content.decode()
    assert body.index(other.mentor.employee.full_name) < body.index(pair.mentor.employee.full_name)
    assert "120 pairs have had no meeting" in body and "and 118 more" in body


def test_a_stuck_pair_hr_has_since_paused_or_ended_says_so(hr_client, program, pair):
    from pairing.models import Pair

    other = make_active_pair(program=program)
    data = snapshot_save(program=program).data
    data["pair_health"]["stuck_pairs"] = [_stuck(pair), _stuck(other)]
    data["pairs"]["stuck"] = 2
    MetricSnapshot.objects.filter(program=program).update(data=data)
    Pair.objects.filter(pk=pair.pk).update(status=Pair.Status.PAUSED, paused_at=timezone.now())
    Pair.objects.filter(pk=other.pk).update(status=Pair.Status.ENDED, ended_at=timezone.now())
    items = hr_client.get(_hr_url(program)).content.decode().split('data-testid="stuck-pairs"')[1].split("</ul>")[0].split("<li")[1:]
    assert "now on hold" in items[0] and "now ended" in items[1]


def test_hr_dashboard_reads_stuck_pairs_of_a_snapshot_written_before_it_kept_the_people(hr_client, program, pair):
    data = snapshot_save(program=program).data
    data["pair_health"] = {"stuck_pair_ids": [pair.pk]}
    data["pairs"]["stuck"] = 1
    MetricSnapshot.objects.filter(program=program).update(data=data)
    body = hr_client.get(_hr_url(program)).content.decode()
    assert f"{pair.mentor.employee.full_name} and {pair.mentee.employee.full_name}" in body


def test_hr_dashboard_shows_names_as_they_are_now(hr_client, program, pair):
    data = snapshot_save(program=program).data
    data["pair_health"]["stuck_pairs"] = [_stuck(pair)]
    data["pairs"]["stuck"] = 1
    MetricSnapshot.objects.filter(program=program).update(data=data)
    Employee.objects.filter(pk=pair.mentor.employee_id).update(first_name="Erased", last_name="Person")
    assert "Erased Person and" in hr_client.get(_hr_url(program)).content.decode()


def test_data_as_of_is_in_the_viewers_time_zone(hr_user, hr_client, program):
    hr_user.employee.time_zone = "Asia/Tokyo"
    hr_user.employee.save()
    year = timezone.localdate().year + 5  # the latest snapshot, whenever the test runs
    computed = datetime.datetime(year, 1, 2, 23, 30, tzinfo=datetime.UTC)
    MetricSnapshot.objects.create(program=program, as_of=datetime.date(year, 1, 2), computed_at=computed, data=snapshot_save(program=program).data)
    body = hr_client.get(_hr_url(program)).content.decode()
    assert f"Data as of 3 Jan {year}, 08:30" in body


def test_program_detail_links_to_dashboard(hr_client, program):
    body = hr_client.get(reverse("program_detail", args=[program.pk])).content.decode()
    assert _hr_url(program) in body


def test_executive_kpis_show_change_since_previous_snapshot(executive_client, program):
    data = snapshot_save(program=program).data
    older = copy.deepcopy(data)
    older["match_rate"] = 0.5
    older["insight_to_action"]["insights"] = data["insight_to_action"]["insights"] + 2
    MetricSnapshot.objects.filter(program=program).delete()
    _snapshot(program, older, days_ago=7)
    _snapshot(program, {**data, "match_rate": 0.8})

    response = executive_client.get(reverse("executive_home"))
    tiles = {t["key"]: t for t in response.context["kpis"]}
    assert tiles["match_rate"]["value"] == "80%"
    assert tiles["match_rate"]["change"] == "+30 pts" and tiles["match_rate"]["direction"] == "good"
    assert tiles["insights"]["change"] == "-2"
    assert len(response.context["trend"]["rows"]) == 2
    body = response.content.decode()
    assert 'id="trend-percent-data"' in body and "<canvas" in body


def test_a_change_that_rounds_to_nothing_is_shown_as_no_change(executive_client, program):
    data = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).delete()
    _snapshot(program, {**data, "match_rate": 0.801, "meetings": {**data["meetings"], "per_pair_per_month": 1.04}}, days_ago=7)
    _snapshot(program, {**data, "match_rate": 0.8, "meetings": {**data["meetings"], "per_pair_per_month": 1.0}})

    tiles = {t["key"]: t for t in executive_client.get(reverse("executive_home")).context["kpis"]}
    assert (tiles["meetings"]["change"], tiles["meetings"]["direction"]) == ("±0", "flat")
    assert (tiles["match_rate"]["change"], tiles["match_rate"]["direction"]) == ("±0", "flat")


def test_executive_trend_draws_the_last_snapshot_of_each_week_over_a_year(executive_client, program):
    from programs.dashboards import TREND_WEEKS

    Program.objects.filter(pk=program.pk).update(starts_on=timezone.localdate() - datetime.timedelta(days=800))
    program.refresh_from_db()
    data = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).delete()
    today = timezone.localdate()

    def day(d):
        figures = {**data, "insight_to_action": {**data["insight_to_action"], "insights": 500 - d}, "trend": {**data["trend"], "insights": 500 - d}}
        if d % 2:
            del figures["trend"]  # as snapshots written before the trend object was kept
        return MetricSnapshot(program=program, as_of=today - datetime.timedelta(days=d), data=figures)

    MetricSnapshot.objects.bulk_create([day(d) for d in range(500)])
    rows = executive_client.get(reverse("executive_home")).context["trend"]["rows"]
    days = [r["as_of"] for r in rows]
    assert days[-1] == today and days == sorted(days)
    assert days[0] > today - datetime.timedelta(weeks=TREND_WEEKS) and TREND_WEEKS <= len(days) <= TREND_WEEKS + 1
    weeks = [d.isocalendar()[:2] for d in days]
    assert len(set(weeks)) == len(weeks)  # one point a week...
    assert all(d.weekday() == 6 for d in days[:-1])  # ...its last day (a Sunday), and today for this week
    assert [r["insights"] for r in rows] == [500 - (today - d).days for d in days]


def test_executive_picks_the_active_program_by_default_and_switches(executive_client, program):
    snapshot_save(program=program)
    done = make_active_pair(status=Program.Status.COMPLETED).program
    snapshot_save(program=done)
    fresh = make_active_pair().program  # just started, no figures yet: listed, not the default

    response = executive_client.get(reverse("executive_home"))
    assert response.context["program"] == program
    assert {p.pk for p in response.context["programs"]} == {program.pk, done.pk, fresh.pk}
    assert executive_client.get(reverse("executive_home"), {"program": done.pk}).context["program"] == done


def test_executive_page_says_when_no_final_survey_answer_can_come_any_more(executive_client, program):
    snapshot_save(program=program)
    body = executive_client.get(reverse("executive_home")).content.decode()
    assert "Appears once mentees have answered the final survey." in body and "Appears once mentors have answered the final survey." in body
    Program.objects.filter(pk=program.pk).update(status=Program.Status.ARCHIVED)
    body = executive_client.get(reverse("executive_home"), {"program": program.pk}).content.decode()
    assert "No mentee answered the final survey before it closed." in body and "No mentor answered the final survey before it closed." in body
    assert "Appears once" not in body


def test_executive_page_shows_no_individual(executive_client, program, pair):
    snapshot_save(program=program)
    body = executive_client.get(reverse("executive_home")).content.decode()
    assert pair.mentor.employee.full_name not in body
    assert pair.mentee.employee.full_name not in body


# --- fixed number of queries ------------------------------------------------------------------


def _queries(client, url) -> int:
    client.get(url)  # warm up sessions, caches
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_hr_dashboard_queries_do_not_grow_with_data(hr_client, program):
    small = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).update(data=_big(small, pairs=10, departments=3))
    small_q = _queries(hr_client, _hr_url(program))
    MetricSnapshot.objects.filter(program=program).update(data=_big(small, pairs=1000, departments=200))
    assert _queries(hr_client, _hr_url(program)) == small_q


def _executive_queries(client) -> tuple[int, int]:
    """Queries for the page rendered afresh, and for the page served from the cache."""
    client.get(reverse("executive_home"))  # warm up sessions
    cache.clear()
    with CaptureQueriesContext(connection) as fresh:
        assert client.get(reverse("executive_home")).status_code == 200
    with CaptureQueriesContext(connection) as cached:
        assert client.get(reverse("executive_home")).status_code == 200
    return len(fresh.captured_queries), len(cached.captured_queries)


def test_executive_dashboard_queries_do_not_grow_with_data_or_history(executive_client, program):
    first = snapshot_save(program=program)
    small = first.data
    MetricSnapshot.objects.filter(program=program).update(data=_big(small, pairs=10, departments=3))
    small_q = _executive_queries(executive_client)
    MetricSnapshot.objects.filter(program=program).update(data=_big(small, pairs=1000, departments=200))
    # Days before the first snapshot's own day (not "today", which may have moved on at midnight).
    big = _big(small, pairs=1000, departments=200)
    MetricSnapshot.objects.bulk_create(
        [MetricSnapshot(program=program, as_of=first.as_of - datetime.timedelta(days=days), computed_at=first.computed_at - datetime.timedelta(days=days), data=big) for days in range(1, 400)]
    )
    assert _executive_queries(executive_client) == small_q
    assert small_q[1] < small_q[0]  # served from the cache, the snapshots' documents are not read


def test_executive_body_comes_from_the_cache_until_a_snapshot_changes(executive_client, program):
    snapshot_save(program=program)
    first = executive_client.get(reverse("executive_home"))
    assert 'data-kpi="match_rate">100%<' in first.content.decode()
    assert "kpis" not in executive_client.get(reverse("executive_home")).context  # the body came from the cache
    # Recomputing today's snapshot (an approved mentee still waits for a pair) shows at once.
    EnrollmentFactory(program=program, role="mentee", status="approved")
    snapshot_save(program=program)
    assert 'data-kpi="match_rate">50%<' in executive_client.get(reverse("executive_home")).content.decode()


def test_a_recomputed_past_day_is_not_hidden_by_the_cache(executive_client, program, django_capture_on_commit_callbacks):
    from pairing.models import Pair

    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    long_ago = timezone.now() - datetime.timedelta(days=5)
    Enrollment.objects.filter(program=program).update(created_at=long_ago)
    Pair.objects.filter(program=program).update(created_at=long_ago, started_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_save(program=program, as_of=yesterday)
    before = MetricSnapshot.objects.get(program=program).data["match_rate"]
    assert f'data-kpi="match_rate">{round(before * 100)}%<' in executive_client.get(reverse("executive_home")).content.decode()
    # A mentee approved three days ago had been left out; the day is computed again. Its
    # computed_at stays the day's last instant, so only the version bump can show it.
    waiting = EnrollmentFactory(program=program, role="mentee", status="approved")
    type(waiting).objects.filter(pk=waiting.pk).update(created_at=timezone.now() - datetime.timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        snapshot_save(program=program, as_of=yesterday)
    after = MetricSnapshot.objects.get(program=program).data["match_rate"]
    assert after != before
    assert f'data-kpi="match_rate">{round(after * 100)}%<' in executive_client.get(reverse("executive_home")).content.decode()


def test_cached_body_carries_nothing_about_the_first_viewer(client, program):
    from mentoring.models import Role
    from tests.auth_helpers import login_with_mfa
    from tests.factories import make_person

    snapshot_save(program=program)
    MetricSnapshot.objects.filter(program=program).update(computed_at=datetime.datetime(2030, 1, 2, 23, 30, tzinfo=datetime.UTC))
    tokyo = make_person(roles=[Role.EXECUTIVE], level=9, time_zone="Asia/Tokyo")
    london = make_person(roles=[Role.EXECUTIVE], level=9, time_zone="Europe/London")
    login_with_mfa(client, tokyo)
    first = client.get(reverse("executive_home")).content.decode()
    assert "Data as of 3 Jan 2030, 08:30" in first and tokyo.email in first  # the navigation names the viewer
    login_with_mfa(client, london)
    second = client.get(reverse("executive_home")).content.decode()
    assert "Data as of 2 Jan 2030, 23:30" in second and london.email in second
    assert tokyo.email not in second
    assert second[second.index('data-kpi="match_rate"') :][:200] == first[first.index('data-kpi="match_rate"') :][:200]


# --- suppression ------------------------------------------------------------------------------


def test_small_department_is_shown_as_fewer_than_five_with_a_second_cell_hidden(executive_client, program):
    data = snapshot_save(program=program).data
    data["by_department"] = [
        {"group": "Tiny Team", "people": 4, "in_active_pairs": 4},
        {"group": "Finance", "people": 7, "in_active_pairs": 3},
        {"group": "Engineering", "people": 23, "in_active_pairs": 20},
    ]
    MetricSnapshot.objects.filter(program=program).update(data=data)

    response = executive_client.get(reverse("executive_home"))
    cells = {c.label: c for c in response.context["by_department"]["cells"]}
    assert cells["Tiny Team"].hidden and cells["Finance"].hidden  # complementary: 34 - 23 would reveal Tiny Team
    assert not cells["Engineering"].hidden

    body = response.content.decode()
    table = body[body.index('data-breakdown="by-department"') :]
    table = table[: table.index("</table>")]
    tiny_row = table[table.index("Tiny Team") :]
    tiny_row = tiny_row[: tiny_row.index("</tr>")]
    assert "hidden" in tiny_row and ">4<" not in tiny_row
    assert ">7<" not in table
    # Neither the chart data nor the page carries the hidden groups' numbers.
    chart = response.context["by_department"]["chart"]
    assert chart["labels"] == ["Engineering"] and chart["datasets"][0]["data"] == [23]
    chart_json = body[body.index('id="by-department-data"') :]
    chart_json = chart_json[: chart_json.index("</script>")]
    assert "Tiny Team" not in chart_json and "Finance" not in chart_json


def _breakdown_as_read(body: str, chart_id: str) -> tuple[dict[str, str], int]:
    """A breakdown table as a reader sees it: each group's cell text, and the total."""
    table = body.split(f'data-breakdown="{chart_id}"')[1].split("</table>")[0]
    rows = dict(re.findall(r'<th scope="row" class="fw-normal">([^<]+)</th><td class="text-end">(?:<span[^>]*>)?([^<]+)', table))
    total = int(re.search(r'<th scope="row">Total</th><td class="text-end fw-semibold">(\d+)', table).group(1))
    return rows, total


def _sizes_a_reader_can_work_out(rows: dict[str, str], total: int) -> dict[str, set[int]]:
    """The attack: the total less the shown groups is what the hidden ones hold together; every
    split of it that fits what each hidden cell says (at least one group is small, or nothing
    would be hidden) gives the sizes each hidden group could have."""
    hidden = {label: text for label, text in rows.items() if not text.strip().isdigit()}
    rest = total - sum(int(text) for text in rows.values() if text.strip().isdigit())

    def splits(k, left):
        if k == 1:
            yield (left,)
            return
        for first in range(1, left - k + 2):
            for others in splits(k - 1, left - first):
                yield (first, *others)

    def fits(text, size):  # what a label would tell, were the labels to differ
        return size < 5 if "fewer" in text else size >= 5 if "withheld" in text else True

    possible = {label: set() for label in hidden}
    for sizes in splits(len(hidden), rest):
        if min(sizes) < 5 and all(fits(text, size) for text, size in zip(hidden.values(), sizes, strict=True)):
            for label, size in zip(hidden, sizes, strict=True):
                possible[label].add(size)
    return possible


@pytest.mark.parametrize(
    "departments",
    [
        [("Engineering", 40), ("Sales", 5), ("Legal", 1)],  # "withheld" + "fewer than 5" of 6: 5 and 1
        [("Engineering", 40), ("Legal", 1), ("Audit", 1)],  # two "fewer than 5" of 2: 1 and 1
        [("Engineering", 40), ("Sales", 6), ("Legal", 4)],
    ],
)
def test_no_hidden_department_size_can_be_worked_out_from_the_page(executive_client, program, departments):
    data = snapshot_save(program=program).data
    data["by_department"] = [{"group": name, "people": n} for name, n in departments]
    MetricSnapshot.objects.filter(program=program).update(data=data)

    body = executive_client.get(reverse("executive_home")).content.decode()
    rows, total = _breakdown_as_read(body, "by-department")
    assert total == sum(n for _name, n in departments)
    hidden = {label: text for label, text in rows.items() if not text.strip().isdigit()}
    assert "Legal" in hidden and len(set(hidden.values())) == 1  # one label for every hidden cell
    possible = _sizes_a_reader_can_work_out(rows, total)
    for label, sizes in possible.items():
        # Could be small, could be 5 or more: not pinned down, and not told to be the small one.
        assert min(sizes) < 5 <= max(sizes), (label, sorted(sizes))
    # Even a reader who knows which hidden groups are the large ones cannot narrow a small one.
    true = dict(departments)
    for label, sizes in possible.items():
        if true[label] < 5:
            rest = total - sum(int(t) for t in rows.values() if t.strip().isdigit())
            large = sum(1 for other in hidden if other != label and true[other] >= 5)
            small = sum(1 for other in hidden if other != label and true[other] < 5)
            assert all(rest - size >= 5 * large + small for size in range(1, 5)), label
    note = body.split('data-chart-note="by-department"')[1].split("</p>")[0]
    assert f"{len(hidden)} groups are hidden to protect groups of fewer than 5 people." in note
    assert "withheld" not in body.split('id="by-department-heading"')[1].split("</section>")[0]


def _with_nps(data: dict, score, n) -> dict:
    data = copy.deepcopy(data)
    data["nps"] = {"score": score, "n": n}
    data["trend"] = {**data["trend"], "nps": score, "nps_n": n}
    return data


def _nps_as_read(body: str) -> tuple[str, list[str]]:
    """The NPS tile's text and the NPS column of the trend table, as the page shows them."""
    tile = " ".join(re.sub(r"<[^>]+>", " ", body.split('data-kpi="nps"')[1].split("</div></div>")[0]).split())
    table = body.split('data-testid="trend-table"')[1].split("</table>")[0]
    column = [cells[4] for cells in (re.findall(r'<td class="text-end">([^<]*)</td>', row) for row in table.split("</tr>")) if cells]
    return tile, column


def test_an_nps_change_that_would_give_away_the_few_new_answers_is_not_shown(executive_client, program):
    data = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).delete()
    _snapshot(program, _with_nps(data, 60.0, 5), days_ago=7)  # 3 promoters, 2 passives
    _snapshot(program, _with_nps(data, 66.7, 6))  # the sixth answer: a promoter

    body = executive_client.get(reverse("executive_home")).content.decode()
    tile, column = _nps_as_read(body)
    assert "67" in tile and "6 answers" in tile
    # The attack: 67 from 6 answers next to +7 (or a trend point of 60) gives 60 from 5, so the
    # sixth was a promoter. Neither the change nor the earlier point is on the page.
    assert "+7" not in tile and "better" not in tile and "60" not in column
    assert "change not shown: fewer than 5 new answers" in tile
    assert column == ["—", "67"]
    assert 'data-testid="trend-nps-held-back"' in body


def test_an_nps_change_over_five_or_more_new_answers_is_shown(executive_client, program):
    data = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).delete()
    _snapshot(program, _with_nps(data, 60.0, 5), days_ago=14)
    _snapshot(program, _with_nps(data, 55.6, 9), days_ago=7)  # 4 answers after the first: hidden
    _snapshot(program, _with_nps(data, 70.0, 10))

    body = executive_client.get(reverse("executive_home")).content.decode()
    tile, column = _nps_as_read(body)
    # The tile's change is against the snapshot before (9 answers, one fewer): not shown.
    assert "change not shown" in tile and "+14" not in tile
    assert column == ["60", "—", "70"]


def test_an_nps_change_against_the_previous_snapshot_is_shown_after_five_new_answers(executive_client, program):
    data = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).delete()
    _snapshot(program, _with_nps(data, 60.0, 5), days_ago=7)
    _snapshot(program, _with_nps(data, 70.0, 10))

    tile, column = _nps_as_read(executive_client.get(reverse("executive_home")).content.decode())
    assert "+10: better" in tile and "change not shown" not in tile
    assert column == ["60", "70"]


def test_small_groups_hidden_in_uplift_growth_nps_and_career(executive_client, program):
    data = snapshot_save(program=program).data
    data["uplift_mentee"] = [{"topic": "AI tools", "mean": 1.37, "n": 3}, {"topic": "Social media", "mean": 0.81, "n": 9}]
    data["growth_mentor"] = [{"item": "confidence", "label": "Confidence", "mean": 0.93, "n": 2}]
    data["nps"] = {"score": 42.0, "n": 3}
    data["retention"] = {"participants": 0.75, "peers": 0.9, "difference": -0.15, "n_participants": 4, "n_peers": 100}
    # Twenty participants against three peers of their levels: the peers' rate names them.
    data["promotion"] = {"participants": 0.35, "peers": 0.6667, "difference": -0.3167, "n_participants": 20, "n_peers": 3}
    MetricSnapshot.objects.filter(program=program).update(data=data)

    response = executive_client.get(reverse("executive_home"))
    body = response.content.decode()
    assert "+1.37" not in body and "+0.93" not in body and "+0.81" in body
    assert response.context["uplift"]["chart"]["labels"] == ["Social media"]
    nps = {t["key"]: t for t in response.context["kpis"]}["nps"]
    assert (nps["value"], nps["detail"]) == ("—", "fewer than 5 answers so far: too few to show")
    assert "42" not in body.split('data-kpi="nps"')[1].split("</div>")[0]
    assert "75%" not in body and "-15 pts" not in body
    promoted = {r["label"]: r for r in response.context["career"]}["Promoted"]
    assert (promoted["participants"], promoted["peers"], promoted["difference"]) == ("35%", "fewer than 5", "—")
    assert "67%" not in body and "-32 pts" not in body


# --- CSV export -------------------------------------------------------------------------------


def test_export_has_one_row_per_pair_and_no_private_text(hr_client, hr_user, program, pair):
    meeting = Meeting.objects.create(pair=pair, starts_at=timezone.now() - datetime.timedelta(days=3), status="scheduled")
    log = SessionLog.objects.create(pair=pair, meeting=meeting, author=pair.mentee.employee, held_on=timezone.localdate(), minutes=50, shared_notes="shared")
    SessionLog.objects.create(pair=pair, author=pair.mentor.employee, held_on=timezone.localdate(), minutes=30)
    PrivateNote.objects.create(session_log=log, author=pair.mentee.employee, text="PRIVATE-MARKER-NOTE")
    Feedback.objects.create(session_log=log, pair=pair, author=pair.mentee, usefulness=4, psychological_safety=5, comment="FEEDBACK-MARKER-COMMENT")
    other = make_active_pair(program=program)
    from pairing.models import Pair

    paused_at = timezone.now() - datetime.timedelta(days=2)
    Pair.objects.filter(pk=other.pk).update(status=Pair.Status.PAUSED, paused_at=paused_at)

    response = hr_client.get(_hr_url(program, "program_export"))
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # a UTF-8 byte order mark, so that Excel reads accents
    content = raw.decode("utf-8-sig")
    assert "PRIVATE-MARKER-NOTE" not in content and "FEEDBACK-MARKER-COMMENT" not in content and "shared" not in content
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0] == [
        "Pair", "Mentor", "Mentor department", "Mentee", "Mentee department", "Status", "Started", "Ended", "End reason", "Score (0-1000)", "Meetings held",
        "Sessions logged", "Minutes logged", "Mentor email", "Mentor level", "Mentee email", "Mentee level", "Last activity", "On hold since", "Needs attention",
        "Quiet for (days)",
    ]  # fmt: skip
    by_id = {int(r[0]): r for r in rows[1:]}
    assert set(by_id) == {pair.pk, other.pk}
    row = by_id[pair.pk]
    assert row[1] == pair.mentor.employee.full_name and row[3] == pair.mentee.employee.full_name
    assert row[2] == pair.mentor.employee.department.name
    assert row[5] == "Active" and row[9] == "640"
    assert row[10:13] == ["1", "2", "80"]
    assert by_id[other.pk][10:13] == ["0", "0", "0"]
    assert row[13:17] == [pair.mentor.employee.email, str(pair.mentor.employee.level), pair.mentee.employee.email, str(pair.mentee.employee.level)]
    import zoneinfo

    viewer = zoneinfo.ZoneInfo(hr_user.employee.time_zone)
    latest_log = SessionLog.objects.filter(pair=pair).latest("created_at").created_at
    assert row[17] == timezone.localdate(latest_log, viewer).isoformat() and row[18] == ""  # the last session logged; not on hold
    assert by_id[other.pk][5] == "Paused" and by_id[other.pk][18] == timezone.localdate(paused_at, viewer).isoformat()


def test_export_says_which_pairs_are_quiet_or_have_a_pulse_alert_and_reads_accents_in_excel(hr_client, program, pair):
    from pairing.models import Pair
    from sessions_log.models import PulseAlert

    # 40 days without a meeting or a session log, in a program that flags pairs after 21.
    Program.objects.filter(pk=program.pk).update(stuck_after_days=21)
    Pair.objects.filter(pk=pair.pk).update(started_at=timezone.now() - datetime.timedelta(days=40, hours=1))
    lively = make_active_pair(program=program)
    alerted = make_active_pair(program=program)
    PulseAlert.objects.create(pair=alerted)
    PulseAlert.objects.create(pair=lively, resolved_at=timezone.now())  # resolved: nothing to flag
    pair.mentor.employee.first_name = "Zoë"
    pair.mentor.employee.save()

    raw = b"".join(hr_client.get(_hr_url(program, "program_export")).streaming_content)
    assert raw[:3] == b"\xef\xbb\xbf"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    by_id = {int(r["Pair"]): r for r in rows}
    assert by_id[pair.pk]["Mentor"].startswith("Zoë ")
    assert (by_id[pair.pk]["Needs attention"], by_id[pair.pk]["Quiet for (days)"]) == ("Quiet for 40 days", "40")
    assert (by_id[alerted.pk]["Needs attention"], by_id[alerted.pk]["Quiet for (days)"]) == ("Pulse alert open", "")
    assert (by_id[lively.pk]["Needs attention"], by_id[lively.pk]["Quiet for (days)"]) == ("", "")
    assert by_id[pair.pk]["Score (0-1000)"] == "640"


def test_export_dates_are_in_the_viewers_time_zone_though_the_rows_stream_after_the_request(hr_user, hr_client, program, pair):
    from pairing.models import Pair

    hr_user.employee.time_zone = "Asia/Tokyo"
    hr_user.employee.save()
    started = datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=3), datetime.time(20, 0), tzinfo=datetime.UTC)
    Pair.objects.filter(pk=pair.pk).update(started_at=started)
    response = hr_client.get(_hr_url(program, "program_export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    row = next(r for r in rows[1:] if r[0] == str(pair.pk))
    assert row[6] == (started.date() + datetime.timedelta(days=1)).isoformat()  # 20:00 UTC is the next morning in Tokyo


def test_export_queries_do_not_grow_with_pairs(hr_client, program):
    url = _hr_url(program, "program_export")

    def count():
        with CaptureQueriesContext(connection) as ctx:
            b"".join(hr_client.get(url).streaming_content)
        return len(ctx.captured_queries)

    one = count()
    for _ in range(5):
        make_active_pair(program=program)
    assert count() == one


def test_export_neutralises_spreadsheet_formulas(hr_client, program, pair):
    pair.mentor.employee.first_name = "=HYPERLINK(1)"
    pair.mentor.employee.save()
    content = b"".join(hr_client.get(_hr_url(program, "program_export")).streaming_content).decode()
    assert "'=HYPERLINK(1)" in content


# --- refresh ----------------------------------------------------------------------------------


def test_refresh_queues_a_run_and_eager_celery_saves_a_snapshot(hr_client, hr_user, program, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = hr_client.post(_hr_url(program, "program_dashboard_refresh"))
    assert response.status_code == 302 and response["Location"] == _hr_url(program)
    assert [c for c in callbacks if c.__qualname__.startswith("nudge_on_commit")], callbacks  # the worker is nudged after commit
    run = SnapshotRun.objects.get(program=program)
    assert run.requested_by == hr_user
    assert run.status == SnapshotRun.Status.DONE and run.progress == 100
    assert MetricSnapshot.objects.filter(program=program).count() == 1
    assert "Data as of" in hr_client.get(_hr_url(program)).content.decode()


def test_refresh_twice_while_queued_keeps_one_run(hr_client, program):
    hr_client.post(_hr_url(program, "program_dashboard_refresh"))  # on-commit never runs here
    hr_client.post(_hr_url(program, "program_dashboard_refresh"))
    assert SnapshotRun.objects.filter(program=program).count() == 1


def test_page_polls_a_running_refresh_and_reloads_when_done(hr_client, hr_user, program):
    run = SnapshotRun.objects.create(program=program, requested_by=hr_user, status=SnapshotRun.Status.RUNNING, progress=20)
    body = hr_client.get(_hr_url(program)).content.decode()
    progress_url = reverse("program_dashboard_progress", args=[program.pk, run.pk])
    assert f'hx-get="{progress_url}"' in body and 'hx-trigger="every 2s"' in body

    response = hr_client.get(progress_url, headers={"HX-Request": "true"})
    assert "HX-Refresh" not in response
    SnapshotRun.objects.filter(pk=run.pk).update(status=SnapshotRun.Status.DONE, progress=100)
    response = hr_client.get(progress_url, headers={"HX-Request": "true"})
    assert response["HX-Refresh"] == "true"
    assert "every 2s" not in response.content.decode()


def test_progress_of_another_programs_run_is_404(hr_client, hr_user, program):
    other = make_active_pair().program
    run = SnapshotRun.objects.create(program=other, requested_by=hr_user)
    assert hr_client.get(reverse("program_dashboard_progress", args=[program.pk, run.pk])).status_code == 404


def test_archived_program_cannot_be_refreshed(hr_client, program):
    Program.objects.filter(pk=program.pk).update(status=Program.Status.ARCHIVED)
    hr_client.post(_hr_url(program, "program_dashboard_refresh"))
    assert not SnapshotRun.objects.exists()


@pytest.mark.parametrize("reader", ["executive_client", "hr_client"])
def test_real_small_department_is_suppressed_end_to_end(request, reader, program):
    """Computed, not hand-made: four approved people in one department. HR reads the
    sponsors' page as the sponsors do: the same suppression."""
    executive_client = request.getfixturevalue(reader)
    tiny = DepartmentFactory(name="Tiny Team")
    big = DepartmentFactory(name="Big Team")
    for i in range(4):
        EnrollmentFactory(program=program, role="mentor", status="approved", employee=EmployeeFactory(level=2, department=tiny))
    for i in range(6):
        EnrollmentFactory(program=program, role="mentee", status="approved", employee=EmployeeFactory(level=7, department=big))
    snapshot_save(program=program)
    response = executive_client.get(reverse("executive_home"))
    cells = {c.label: c for c in response.context["by_department"]["cells"]}
    assert cells["Tiny Team"].hidden and cells["Tiny Team"].shown == "hidden"
    assert sum(c.hidden for c in cells.values()) >= 2
    assert Department.objects.filter(name="Tiny Team").exists()


# --- the demo -----------------------------------------------------------------------------------


def test_demo_trends_are_computed_as_of_each_week(executive_client):
    """seed_demo's past snapshots count only what existed on their day, so the trends move."""
    from django.core.management import call_command

    call_command("seed_demo", stdout=io.StringIO())
    program = Program.objects.get(slug="digital-fluency-2026")
    rows = executive_client.get(reverse("executive_home"), {"program": program.pk}).context["trend"]["rows"]
    assert len(rows) == 9  # one a week for eight weeks, and today
    # Late joiners approved five weeks ago still wait for the re-match: the match rate fell.
    assert rows[0]["match_rate"] == 100.0 and rows[-1]["match_rate"] < 100.0
    # Insights and actions done only grow, and grew over the eight weeks.
    for key in ("insights", "done"):
        values = [r[key] for r in rows]
        assert values == sorted(values) and values[0] < values[-1], key
    # NPS appears once the midpoint survey has been answered.
    assert rows[0]["nps"] is None and rows[-1]["nps"] is not None


# --- past programs, unknown ids, the trend's window, figures that reconcile ------------------


def _finished(status, *, started_days_ago=400, ran_days=180):
    """A finished program: it ran from `started_days_ago` for `ran_days` days."""
    today = timezone.localdate()
    return make_active_pair(
        status=status,
        enrollment_opens_on=today - datetime.timedelta(days=started_days_ago + 60),
        enrollment_closes_on=today - datetime.timedelta(days=started_days_ago + 30),
        starts_on=today - datetime.timedelta(days=started_days_ago),
        ends_on=today - datetime.timedelta(days=started_days_ago - ran_days),
    ).program


def test_executive_can_read_an_archived_programs_results(executive_client, program):
    snapshot_save(program=program)
    archived = _finished(Program.Status.ARCHIVED)
    data = snapshot_save(program=archived, as_of=archived.ends_on).data
    MetricSnapshot.objects.filter(program=archived).update(data={**data, "match_rate": 0.9})
    never_computed = _finished(Program.Status.ARCHIVED, started_days_ago=800)

    response = executive_client.get(reverse("executive_home"))
    assert archived in response.context["programs"] and never_computed in response.context["programs"]
    assert response.context["program"] == program  # the running program stays the default
    groups = dict(response.context["program_groups"])
    assert groups["Archived (read-only)"] == [archived, never_computed]
    body = response.content.decode()
    assert '<optgroup label="Archived (read-only)">' in body and f"{never_computed.name} (no figures)" in body

    response = executive_client.get(reverse("executive_home"), {"program": archived.pk})
    assert response.context["program"] == archived
    body = response.content.decode()
    assert 'data-kpi="match_rate">90%<' in body and 'data-testid="archived-note"' in body

    body = executive_client.get(reverse("executive_home"), {"program": never_computed.pk}).content.decode()
    assert f"No figures for {never_computed.name}" in body and "<canvas" not in body


def test_a_program_published_before_its_start_is_not_the_default_and_says_when_it_starts(executive_client, program):
    today = timezone.localdate()
    Program.objects.filter(pk=program.pk).update(starts_on=today - datetime.timedelta(days=30))
    snapshot_save(program=program)
    upcoming = make_active_pair(
        name="Starts next month", enrollment_opens_on=today - datetime.timedelta(days=40), enrollment_closes_on=today - datetime.timedelta(days=10),
        starts_on=today + datetime.timedelta(days=32), ends_on=today + datetime.timedelta(days=200),
    ).program
    snapshot_save(program=upcoming)

    response = executive_client.get(reverse("executive_home"))
    assert response.context["program"] == program  # the one under way, not the newest start

    body = executive_client.get(reverse("executive_home"), {"program": upcoming.pk}).content.decode()
    window = body[body.index('data-testid="trend-window"') :][:200]
    start, end = (datetime.date.fromisoformat(d) for d in re.findall(r"\d{4}-\d{2}-\d{2}", window)[:2]) if re.findall(r"\d{4}-\d{2}-\d{2}", window) else (None, None)
    assert start is None or start <= end
    assert "The program starts on" in body and "while the program ran" not in body


def test_a_discarded_draft_is_not_offered_to_executives(executive_client, hr_user, program):
    from programs import services as program_services

    snapshot_save(program=program)
    draft = ProgramFactory(status=Program.Status.DRAFT, name="Dup slug")
    program_services.program_transition(program=draft, to=Program.Status.ARCHIVED, by=hr_user)
    response = executive_client.get(reverse("executive_home"))
    assert draft not in response.context["programs"] and "Dup slug" not in response.content.decode()
    assert "Dup slug" not in executive_client.get(reverse("executive_home"), {"program": draft.pk}).content.decode().split("</select>")[0]


@pytest.mark.parametrize("asked", ["999999", "abc", "3.0", "draft", "matching"])
def test_an_unknown_or_unreadable_program_is_404_with_a_notice_not_another_programs_figures(executive_client, program, asked):
    snapshot_save(program=program)
    hidden = {status: make_active_pair(status=status, name=f"Secret {status} program").program for status in ("draft", "matching")}
    for other in hidden.values():
        snapshot_save(program=other)  # matching programs get nightly snapshots: still not for executives
    asked = str(hidden[asked].pk) if asked in hidden else asked

    response = executive_client.get(reverse("executive_home"), {"program": asked})
    assert response.status_code == 404
    body = response.content.decode()
    assert "That program is not on the impact dashboard" in body and 'data-testid="program-unavailable"' in body
    # Neither the program asked for nor another one's figures in its place.
    assert "Secret" not in body
    assert "data-kpi=" not in body and "<canvas" not in body and "Data as of" not in body
    # The programs there are, to choose from, and a way back to the current one.
    assert f'<option value="{program.pk}"' in body and f'href="{reverse("executive_home")}"' in body
    ok = executive_client.get(reverse("executive_home"))
    assert ok.status_code == 200 and 'data-testid="program-unavailable"' not in ok.content.decode()


def test_a_running_programs_trend_heading_starts_at_its_first_point(executive_client, program):
    Program.objects.filter(pk=program.pk).update(starts_on=timezone.localdate() - datetime.timedelta(days=200))
    data = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).delete()
    for weeks in range(3):  # figures for the last three weeks only
        _snapshot(program, data, days_ago=7 * weeks)
    response = executive_client.get(reverse("executive_home"))
    first = min(r["as_of"] for r in response.context["trend"]["rows"])
    window = response.content.decode().split('data-testid="trend-window">')[1].split("</small>")[0]
    assert window.startswith(f"one point a week, {first:%-d %b %Y} to ")


def test_a_finished_programs_trend_covers_its_run_not_the_weeks_after(executive_client):
    done = _finished(Program.Status.COMPLETED)
    data = snapshot_save(program=done).data
    MetricSnapshot.objects.filter(program=done).delete()
    # Weeks 0-20 only: week 25 can share its ISO week with the last day (when the run starts
    # on a Monday or Tuesday), and the trend keeps one point a week.
    run = [done.starts_on + datetime.timedelta(weeks=w) for w in range(0, 25, 5)] + [done.ends_on]
    after = [done.ends_on + datetime.timedelta(weeks=w) for w in range(1, 9)]
    MetricSnapshot.objects.bulk_create([MetricSnapshot(program=done, as_of=d, data=data) for d in run + after])

    response = executive_client.get(reverse("executive_home"))
    days = [r["as_of"] for r in response.context["trend"]["rows"]]
    assert days == run
    window = response.content.decode().split('data-testid="trend-window">')[1].split("</small>")[0]
    assert window == f"over the program's run, {done.starts_on:%-d %b %Y} to {done.ends_on:%-d %b %Y}"

    # Figures that begin after its first day do not claim the whole run; one point is one point.
    MetricSnapshot.objects.filter(program=done, as_of__lt=run[2]).delete()
    window = executive_client.get(reverse("executive_home")).content.decode().split('data-testid="trend-window">')[1].split("</small>")[0]
    assert window == f"one point a week, {run[2]:%-d %b %Y} to {done.ends_on:%-d %b %Y}"
    MetricSnapshot.objects.filter(program=done, as_of__lt=done.ends_on).delete()
    window = executive_client.get(reverse("executive_home")).content.decode().split('data-testid="trend-window">')[1].split("</small>")[0]
    assert window == f"one point, {done.ends_on:%-d %b %Y}"


def test_a_finished_program_without_snapshots_in_its_run_says_so_instead_of_flat_lines(executive_client):
    done = _finished(Program.Status.COMPLETED)
    data = snapshot_save(program=done).data
    MetricSnapshot.objects.filter(program=done).delete()
    for weeks in range(8):
        _snapshot(done, data, days_ago=7 * weeks)

    response = executive_client.get(reverse("executive_home"))
    assert response.context["trend"] is None
    body = response.content.decode()
    assert "so there is no trend to draw" in body
    assert 'id="trend-percent-data"' not in body and "<canvas" in body  # the breakdowns still draw


def test_the_retention_card_says_who_it_leaves_out_so_it_reconciles(executive_client, program):
    data = snapshot_save(program=program).data
    data["by_department"] = [{"group": "Engineering", "people": 20, "in_active_pairs": 18}, {"group": "Sales", "people": 14, "in_active_pairs": 12}]
    data["retention"] = {"participants": 0.968, "peers": 0.9, "difference": 0.068, "n_participants": 31, "n_peers": 120, "n_all_participants": 34, "n_joined_after_start": 3, "n_left_before_start": 0}
    data["promotion"] = {**data["retention"], "participants": 0.1, "peers": 0.05, "difference": 0.05}
    MetricSnapshot.objects.filter(program=program).update(data=data)

    body = executive_client.get(reverse("executive_home")).content.decode()
    assert ">34<" in body.split('data-breakdown="by-department"')[1].split("</table>")[0]
    assert "31 of 34 participants (3 joined the organisation after the program began), 120 peers." in body

    # A snapshot from before the reasons were kept still reconciles with the total.
    for key in ("n_all_participants", "n_joined_after_start", "n_left_before_start"):
        del data["retention"][key]
    MetricSnapshot.objects.filter(program=program).update(data=data, computed_at=timezone.now() + datetime.timedelta(seconds=1))
    assert "31 of 34 participants (3 were not with the organisation when the program began), 120 peers." in executive_client.get(reverse("executive_home")).content.decode()


def test_the_match_rate_says_how_many_approved_mentees_wait_for_a_pair(executive_client, hr_client, program):
    for _ in range(2):
        EnrollmentFactory(program=program, role="mentee", status="approved")
    snapshot_save(program=program)

    body = executive_client.get(reverse("executive_home")).content.decode()
    assert 'data-kpi="match_rate">33%<' in body
    assert "1 of 3 approved mentees have had a pair; 2 wait for one" in body
    assert "it falls when newly approved mentees wait for a pair" in body
    assert "1 of 3 approved mentees have had a pair; 2 wait for one" in hr_client.get(_hr_url(program)).content.decode()

    # Once the program is over nobody waits any more: they never had one; no "live pair" talk.
    Program.objects.filter(pk=program.pk).update(status=Program.Status.COMPLETED)
    body = executive_client.get(reverse("executive_home")).content.decode()
    assert "1 of 3 approved mentees had a pair; 2 never had one" in body and "wait for one" not in body
    hr = re.sub(r"\s+", " ", hr_client.get(_hr_url(program)).content.decode())
    assert "1 of 3 approved mentees had a pair; 2 never had one" in hr
    assert "its pairs have ended with it" in hr and "every live pair" not in hr


def test_the_trend_table_has_fixed_decimals_per_column_and_dates_in_the_viewers_format(executive_client, program):
    data = snapshot_save(program=program).data
    MetricSnapshot.objects.filter(program=program).delete()
    today = timezone.localdate()
    week_ago = today - datetime.timedelta(days=7)
    for as_of, meetings, nps, match in ((week_ago, 1.8, 40.0, 1.0), (today, 1.81, -12.5, 0.8947)):
        figures = {**data["trend"], "meetings": meetings, "nps": nps, "nps_n": 12 if as_of == week_ago else 20, "match_rate": match, "paired_mentees": 17, "approved_mentees": 19}
        MetricSnapshot.objects.create(program=program, as_of=as_of, computed_at=timezone.now(), data={**data, "trend": figures})

    response = executive_client.get(reverse("executive_home"))
    table = response.context["trend"]["table"]
    assert table[0] == (f"{week_ago:%-d %b %Y}", "100", "17 of 19", "—" if data["trend"]["cadence"] is None else table[0][3], "1.8", "40", "0", "0", "0")
    assert table[1][:6] == (f"{today:%-d %b %Y}", "89", "17 of 19", table[1][3], "1.8", "-12")
    assert response.context["trend"]["percent_chart"]["labels"] == [f"{week_ago:%-d %b %Y}", f"{today:%-d %b %Y}"]
    body = response.content.decode()
    rows = body.split('data-testid="trend-table"')[1].split("</table>")[0]
    assert today.isoformat() not in rows and "40.0" not in rows and "1.81" not in rows


def test_a_program_that_has_just_started_is_listed_without_figures_yet(executive_client, program):
    assert not MetricSnapshot.objects.filter(program=program).exists()
    snapshot_save(program=_finished(Program.Status.COMPLETED))  # a second program: the selector shows
    response = executive_client.get(reverse("executive_home"))
    assert program in response.context["programs"]
    assert f"{program.name} (no figures yet)" in response.content.decode()

    body = executive_client.get(reverse("executive_home"), {"program": program.pk}).content.decode()
    assert f"No figures for {program.name} yet" in body and "appear here after the first one" in body
    assert 'data-testid="program-unavailable"' not in body


def test_a_running_programs_trend_starts_no_earlier_than_the_program(executive_client, program):
    Program.objects.filter(pk=program.pk).update(starts_on=timezone.localdate() - datetime.timedelta(days=30))
    program.refresh_from_db()
    snapshot_save(program=program)
    body = executive_client.get(reverse("executive_home")).content.decode()
    window = body[body.index('data-testid="trend-window"') :]
    # Figures only from today: the heading says so rather than the program's start.
    assert f"one point so far, {date_format(timezone.localdate())}" in window[:200]
    _snapshot(program, snapshot_save(program=program).data, days_ago=21)
    body = executive_client.get(reverse("executive_home")).content.decode()
    window = body[body.index('data-testid="trend-window"') :]
    start = timezone.localdate() - datetime.timedelta(days=21)
    assert start >= program.starts_on and f"one point a week, {date_format(start)} to" in window[:200]


def test_one_mentee_waiting_reads_in_the_singular(executive_client, program):
    EnrollmentFactory(program=program, role="mentee", status="approved")
    snapshot_save(program=program)
    assert "1 of 2 approved mentees have had a pair; 1 waits for one" in executive_client.get(reverse("executive_home")).content.decode()


def test_a_finished_programs_key_figures_are_those_of_its_last_day(executive_client, hr_client):
    done = _finished(Program.Status.COMPLETED)
    data = snapshot_save(program=done).data
    assert MetricSnapshot.objects.get(program=done).as_of == done.ends_on  # the default day of a finished program
    # A later night's snapshot (as older nightly runs made) does not replace the final figures.
    MetricSnapshot.objects.create(program=done, as_of=done.ends_on + datetime.timedelta(days=10), computed_at=timezone.now(), data={**data, "match_rate": 0.5})
    MetricSnapshot.objects.filter(program=done, as_of=done.ends_on).update(data={**data, "match_rate": 0.9})
    body = executive_client.get(reverse("executive_home"), {"program": done.pk}).content.decode()
    assert 'data-kpi="match_rate">90%<' in body
    # HR's dashboard of the program reads the same snapshot.
    assert hr_client.get(_hr_url(done)).context["snapshot"].as_of == done.ends_on


# --- what the executive reads (browser QA findings) --------------------------------------------


def _career_table(body: str) -> str:
    return body.split('id="career-heading"')[1].split("</table>")[0]


def _counts_from_shown_rates(table: str, n_participants: int, n_peers: int) -> set[int]:
    """The attack: each percentage shown times its group's size gives back a count of people."""
    counts = set()
    for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1]):
        cells = re.findall(r'<td class="text-end">([^<]*)</td>', row)
        for text, n in zip(cells[:2], (n_participants, n_peers), strict=True):
            if m := re.fullmatch(r"(\d+)%", text):
                k = round(int(m[1]) / 100 * n)
                counts |= {k, n - k}
    return counts


def test_a_promotion_or_retention_rate_that_stands_for_fewer_than_five_people_is_not_shown(executive_client, program):
    data = snapshot_save(program=program).data
    data["by_department"] = [{"group": "Engineering", "people": 10, "in_active_pairs": 10}]
    coverage = {"n_all_participants": 10, "n_joined_after_start": 0, "n_left_before_start": 0}
    # 1 of 10 participants promoted ("10%"), 3 of 76 peers ("4%"); 9 of 10 participants stayed
    # (one left), 70 of 76 peers.
    data["promotion"] = {"participants": 0.1, "peers": 0.039, "difference": 0.061, "n_participants": 10, "n_peers": 76, "events_participants": 1, "events_peers": 3, **coverage}
    data["retention"] = {"participants": 0.9, "peers": 0.921, "difference": -0.021, "n_participants": 10, "n_peers": 76, "events_participants": 9, "events_peers": 70, **coverage}
    MetricSnapshot.objects.filter(program=program).update(data=data)

    response = executive_client.get(reverse("executive_home"))
    body = response.content.decode()
    assert "10 participants, 76 peers." in body  # the group sizes an attacker multiplies by
    table = _career_table(body)
    assert not {c for c in _counts_from_shown_rates(table, 10, 76) if 0 < c < 5}
    rows = {r["label"]: r for r in response.context["career"]}
    assert (rows["Promoted"]["participants"], rows["Promoted"]["peers"], rows["Promoted"]["difference"]) == ("fewer than 5 people", "fewer than 5 people", "—")
    # One participant left: "90%" of 10 would name them. The peers' 6 leavers may be shown.
    assert (rows["Still with the organisation"]["participants"], rows["Still with the organisation"]["peers"]) == ("all but fewer than 5 people", "92%")
    assert rows["Still with the organisation"]["difference"] == "—"  # it would give the hidden rate back
    assert "10%" not in table and "4%" not in table and "90%" not in table and "+6 pts" not in table
    assert "A rate that would stand for fewer than 5 people" in body

    # A snapshot from before the counts were kept: they are worked out from the stored rate.
    for key in ("events_participants", "events_peers"):
        del data["promotion"][key], data["retention"][key]
    MetricSnapshot.objects.filter(program=program).update(data=data, computed_at=timezone.now() + datetime.timedelta(seconds=1))
    table = _career_table(executive_client.get(reverse("executive_home")).content.decode())
    assert not {c for c in _counts_from_shown_rates(table, 10, 76) if 0 < c < 5}
    assert "fewer than 5 people" in table and "10%" not in table and "4%" not in table


def test_a_career_difference_of_nothing_reads_plus_minus_zero_and_the_row_header_column_is_named(executive_client, program):
    data = snapshot_save(program=program).data
    data["retention"] = {"participants": 1.0, "peers": 0.998, "difference": 0.002, "n_participants": 40, "n_peers": 5000, "events_participants": 40, "events_peers": 4990}
    MetricSnapshot.objects.filter(program=program).update(data=data)
    table = _career_table(executive_client.get(reverse("executive_home")).content.decode())
    assert "±0 pts" in table and "+0 pts" not in table
    first_header = table.split("<thead>")[1].split("</th>")[0]
    assert re.search(r">\s*Outcome\s*<", first_header)  # axe: no empty table header


def test_key_figures_say_what_they_count_over_which_period_and_whether_a_change_is_better_or_worse(executive_client, program):
    Program.objects.filter(pk=program.pk).update(starts_on=datetime.date(2026, 8, 6))
    program.refresh_from_db()
    data = snapshot_save(program=program).data
    data["cancellations"] = {**data["cancellations"], "senior_side": 15, "senior_side_per_pair": 0.44}
    data["nps"] = {"score": 52.0, "n": 61}
    data["insight_to_action"] = {**data["insight_to_action"], "insights": 83, "actions_committed": 69, "actions_done": 35}
    MetricSnapshot.objects.filter(program=program).delete()
    before = copy.deepcopy(data)
    before["cancellations"]["senior_side"] = 14
    before["insight_to_action"]["insights"] = 80
    _snapshot(program, before, days_ago=7)
    _snapshot(program, data)

    body = re.sub(r"\s+", " ", executive_client.get(reverse("executive_home")).content.decode())
    assert "since the previous snapshot" not in body and "snapshot" not in body.split('id="kpi-heading"')[1].split("</section>")[0]

    def tile(key):
        return body.split(f'data-kpi="{key}"')[1].split("</div></div>")[0]

    assert "Senior-side cancellations" in tile("cancellations") and "since 6 Aug 2026; 0.44 per pair" in tile("cancellations")
    assert ">52<" in body and "NPS (−100 to 100)" in tile("nps") and "61 answers" in tile("nps")
    assert "since 6 Aug 2026" in tile("insights")
    assert "51% of the actions committed" in tile("done")
    # The change is said in words, not in colour only: more cancellations are worse.
    assert "+1: <span class=\"fw-semibold\">worse</span>" in tile("cancellations")
    assert "+3: <span class=\"fw-semibold\">better</span>" in tile("insights")
    assert "no change" in tile("nps") and "±0" not in tile("nps")


def test_a_finished_programs_key_figures_are_final_with_no_change_line(executive_client):
    done = _finished(Program.Status.COMPLETED)
    data = snapshot_save(program=done).data  # as of its last day
    MetricSnapshot.objects.create(program=done, as_of=done.ends_on - datetime.timedelta(days=7), computed_at=timezone.now(), data=data)

    response = executive_client.get(reverse("executive_home"), {"program": done.pk})
    body = response.content.decode()
    assert all(t["change"] is None for t in response.context["kpis"])
    assert "data-kpi-change" not in body and "no change" not in body
    assert f"final, as of {done.ends_on:%-d %b %Y}" in body


def test_a_chart_that_leaves_out_small_groups_says_how_many(executive_client, program):
    data = snapshot_save(program=program).data
    data["by_level_band"] = [{"group": "L1–3", "people": 38}, {"group": "L4–5", "people": 2}, {"group": "L6–7", "people": 3}, {"group": "L8+", "people": 16}]
    data["by_department"] = [{"group": "Tiny Team", "people": 4}, {"group": "Finance", "people": 7}, {"group": "Engineering", "people": 48}]
    data["by_topic"] = [{"group": "AI tools", "people": 13}, {"group": "Social media", "people": 40}]
    data["uplift_mentee"] = [{"topic": "AI tools", "mean": 1.37, "n": 3}, {"topic": "Social media", "mean": 0.81, "n": 13}]
    MetricSnapshot.objects.filter(program=program).update(data=data)

    body = executive_client.get(reverse("executive_home")).content.decode()
    bands = body.split('id="by-level-band-heading"')[1].split("</section>")[0]
    # L8+ goes with the two small bands: 2 + 3 would tell that both are small, and their sizes near enough.
    assert "3 groups are hidden to protect groups of fewer than 5 people." in bands
    departments = body.split('id="by-department-heading"')[1].split("</section>")[0]
    assert "2 groups are hidden to protect groups of fewer than 5 people." in departments and "withheld" not in departments
    assert 'data-chart-note="by-topic"' not in body  # nothing left out of that one
    assert "1 topic with fewer than 5 answers is not shown." in body
    # A topic whose final survey fewer than 5 answered says so (not "fewer than 5" people).
    uplift = body.split("Mentees' skill uplift by topic")[1].split("</table>")[0]
    assert "fewer than 5 answers" in uplift and "+0.81" in uplift


def test_charts_have_a_sized_box_and_trend_axes_get_short_dates(executive_client, program):
    data = snapshot_save(program=program).data
    _snapshot(program, data, days_ago=7)
    response = executive_client.get(reverse("executive_home"))
    body = response.content.decode()
    assert 'class="dash-chart"' in body and "ratio-16x9" not in body
    chart = response.context["trend"]["percent_chart"]
    week_ago = timezone.localdate() - datetime.timedelta(days=7)
    assert chart["tick_labels"][0] == f"{week_ago:%-d %b}" and chart["labels"][0] == f"{week_ago:%-d %b %Y}"


def test_topic_counts_say_they_add_up_to_more_than_the_participants(executive_client, program):
    data = snapshot_save(program=program).data
    data["by_department"] = [{"group": "Engineering", "people": 40}, {"group": "Sales", "people": 36}]
    data["by_topic"] = [{"group": "AI tools", "people": 44}, {"group": "Social media", "people": 53}]
    MetricSnapshot.objects.filter(program=program).update(data=data)
    body = executive_client.get(reverse("executive_home")).content.decode()
    topics = body.split('id="by-topic-heading"')[1].split("</section>")[0]
    assert "People choose one or more topics, so these add up to more than the 76 participants." in topics


def test_a_program_published_before_its_start_without_figures_says_when_it_starts(executive_client, program):
    start = timezone.localdate() + datetime.timedelta(days=18)
    Program.objects.filter(pk=program.pk).update(starts_on=start, ends_on=start + datetime.timedelta(days=180))
    body = executive_client.get(reverse("executive_home"), {"program": program.pk}).content.decode()
    assert f"The program starts on {start:%-d %B %Y}." in body
    assert "has just started" not in body

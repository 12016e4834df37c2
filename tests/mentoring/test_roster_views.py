import datetime
import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from mentoring.models import Employee, EmployeeEvent, RosterImport
from tests.factories import DepartmentFactory, EmployeeFactory
from tests.mentoring.test_roster import make_csv, make_xlsx, person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _in_memory_storage(settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


def upload(client, data: bytes, name="roster.csv", **extra):
    return client.post(reverse("roster_import"), {"file": SimpleUploadedFile(name, data)}, **extra)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


GOOD_FILE = make_csv(person("E2", first_name="Bea", last_name="Reporter", manager_id="E1"), person("E1", first_name="Cal", last_name="Boss"))


def test_hr_uploads_previews_then_applies(hr_client, hr_user):
    page = hr_client.get(reverse("roster_import"))
    assert page.status_code == 200
    assert "No roster imports yet" in page.content.decode()
    people_before = Employee.objects.count()

    response = upload(hr_client, GOOD_FILE)

    roster_import = RosterImport.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("roster_import_detail", args=[roster_import.pk])
    assert roster_import.status == RosterImport.Status.PREVIEWED
    assert roster_import.uploaded_by == hr_user
    assert roster_import.summary["counts"]["creates"] == 2
    assert default_storage.open(roster_import.file.name).read() == GOOD_FILE
    assert Employee.objects.count() == people_before  # a preview writes nothing

    detail = hr_client.get(response.url)
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "Bea PersonE2" not in html and "Bea Reporter" in html
    assert '<td data-label="Manager">Cal Boss (E1)</td>' in html  # Bea's manager by name, from the same file
    assert reverse("roster_import_apply", args=[roster_import.pk]) in html

    applied = hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]))

    assert applied.status_code == 302 and applied.url == reverse("roster_import_detail", args=[roster_import.pk])
    assert "Roster applied. Added: 2 · updated: 0 · level changes: 0 · leavers: 0 · rejoiners: 0 · unchanged: 0." in messages_of(applied)
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.APPLIED and roster_import.applied_at is not None
    assert Employee.objects.get(employee_id="E2").manager.employee_id == "E1"
    assert set(EmployeeEvent.objects.values_list("roster_import", flat=True)) == {roster_import.pk}
    after = hr_client.get(reverse("roster_import_detail", args=[roster_import.pk])).content.decode()
    assert reverse("roster_import_apply", args=[roster_import.pk]) not in after
    assert "roster.csv" in hr_client.get(reverse("roster_import")).content.decode()


def test_past_imports_are_listed_with_status_and_counts(hr_client, hr_user):
    """QA: a file with errors (nothing written) was listed as 'Has errors' and 'Added 2'."""
    upload(hr_client, GOOD_FILE, name="march.csv")
    hr_client.post(reverse("roster_import_apply", args=[RosterImport.objects.get().pk]))
    upload(hr_client, make_csv(person("E3", email="nope"), person("E4"), person("E5")), name="april.csv")
    upload(hr_client, make_csv(person("E6")), name="may.csv")

    html = hr_client.get(reverse("roster_import")).content.decode()

    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)[1:]
    cells = [[re.sub(r"<[^>]+>", " ", cell).split() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)] for row in rows]
    assert [" ".join(c[0]) for c in cells] == ["may.csv", "april.csv", "march.csv"]
    nothing = ["—", "nothing", "written"]
    assert cells[1][3:] == [["Has", "errors"], ["3"], ["1"], nothing, nothing, nothing]
    assert cells[0][3:] == [["Previewed"], ["1"], ["0"], nothing, nothing, nothing]
    assert cells[2][3:] == [["Applied"], ["2"], ["0"], ["2"], ["0"], ["0"]]
    assert "A file that was not applied changed nothing" in html


def test_an_applied_import_says_what_it_did_and_one_never_applied_what_it_would_have_done(hr_client):
    """QA: after applying a file, its page still said 'People the import adds to the directory'."""
    upload(hr_client, make_csv(person("E1", email="nope"), person("E2", first_name="Bea", last_name="Reporter")), name="broken.csv")
    broken = RosterImport.objects.get()
    page = re.sub(r"\s+", " ", hr_client.get(reverse("roster_import_detail", args=[broken.pk])).content.decode())
    assert "so it cannot be applied: nothing was written. Below is what it would have changed." in page
    assert "People the import would add to the directory" in page and "Bea Reporter" in page

    response = upload(hr_client, GOOD_FILE)
    good = RosterImport.objects.get(pk=int(response.url.rstrip("/").split("/")[-1]))
    hr_client.post(reverse("roster_import_apply", args=[good.pk]))
    page = re.sub(r"\s+", " ", hr_client.get(reverse("roster_import_detail", args=[good.pk])).content.decode())
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Below is what it changed in the directory." in page
    assert "People added" in page and "People the import added to the directory" in page and "2 people added" in text
    assert "adds to the directory" not in page and "would" not in text


def test_the_preview_lists_left_dates_still_to_come_apart_from_leavers(hr_client):
    later = datetime.date.today() + datetime.timedelta(days=40)
    EmployeeFactory(employee_id="E9", email="e9@acme.example", first_name="Nora", last_name="Notice")
    upload(hr_client, make_csv(person("E9", email="e9@acme.example", first_name="Nora", last_name="Notice", left_date=later.isoformat())))
    html = hr_client.get(reverse("roster_import_detail", args=[RosterImport.objects.get().pk])).content.decode()
    row = html[html.index('data-testid="leaving-later"') :][:400]
    assert "Nora Notice" in row and f"Leaves on {later.isoformat()}: not recorded yet" in row
    assert "A left date still to come is not recorded by this import" in html


def test_a_file_whose_only_news_is_a_left_date_to_come_is_not_called_nothing_to_change(hr_client):
    later = datetime.date.today() + datetime.timedelta(days=40)
    nora = person("E9", first_name="Nora", last_name="Notice")
    upload(hr_client, make_csv(nora))
    hr_client.post(reverse("roster_import_apply", args=[RosterImport.objects.get().pk]))
    upload(hr_client, make_csv({**nora, "left_date": later.isoformat()}))
    second = RosterImport.objects.order_by("-pk").first()
    html = hr_client.get(reverse("roster_import_detail", args=[second.pk])).content.decode()
    assert "Nothing to change" not in html and "A left date still to come is not recorded by this import" in html
    assert reverse("roster_import_apply", args=[second.pk]) in html  # applying withdraws open applications


def test_applying_twice_applies_once(hr_client):
    upload(hr_client, GOOD_FILE)
    roster_import = RosterImport.objects.get()
    url = reverse("roster_import_apply", args=[roster_import.pk])
    hr_client.post(url)
    events = EmployeeEvent.objects.count()

    second = hr_client.post(url)

    assert second.status_code == 302
    assert "“roster.csv” has already been applied." in messages_of(second)
    assert EmployeeEvent.objects.count() == events
    assert Employee.objects.filter(employee_id__in=["E1", "E2"]).count() == 2


def test_file_with_errors_is_rejected_with_each_line_listed_and_cannot_be_applied(hr_client):
    data = make_csv(person("E1", email="nope"), person("E2", manager_id="E9"))

    response = upload(hr_client, data)

    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.REJECTED
    detail = hr_client.get(response.url)
    html = detail.content.decode()
    assert "“nope” is not a valid email address." in html
    assert "Manager “E9” is neither in this file nor in the directory." in html
    assert reverse("roster_import_apply", args=[roster_import.pk]) not in html

    applied = hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]))

    assert "“roster.csv” has errors, so it cannot be applied. Fix the file and upload it again." in messages_of(applied)
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.REJECTED
    assert not Employee.objects.filter(employee_id__in=["E1", "E2"]).exists()


def test_error_found_at_apply_time_writes_nothing_and_the_preview_shows_it(hr_client):
    upload(hr_client, GOOD_FILE)
    roster_import = RosterImport.objects.get()
    # Someone else takes E1's email between the preview and the apply.
    EmployeeFactory(employee_id="X9", email="e1@acme.example")

    response = hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]), follow=True)

    assert any("nothing was imported" in m and "e1@acme.example belongs to" in m for m in messages_of(response))
    assert not Employee.objects.filter(employee_id__in=["E1", "E2"]).exists()
    # Found in QA: the page still said "0 problems" and offered Apply again.
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.REJECTED and roster_import.summary["counts"]["errors"] == 1
    assert not roster_import.file  # a file that cannot be applied is not kept
    page = response.content.decode()
    assert "e1@acme.example belongs to" in page and reverse("roster_import_apply", args=[roster_import.pk]) not in page


def test_a_file_making_the_last_hr_admin_a_leaver_is_refused(hr_client, hr_user):
    """Found in QA: importing the only HR admin as a leaver closed their login, and nobody
    could administer Upward any more (taking the role away by hand is refused for this)."""
    me = hr_user.employee
    row = person(me.employee_id, first_name=me.first_name, last_name=me.last_name, email=me.email, left_date=(datetime.date.today() - datetime.timedelta(days=1)).isoformat())
    upload(hr_client, make_csv(row))
    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.REJECTED
    page = hr_client.get(reverse("roster_import_detail", args=[roster_import.pk])).content.decode()
    assert "is the last active HR admin: as a leaver they could no longer sign in" in page
    me.refresh_from_db()
    assert me.left_date is None and hr_client.get(reverse("hr_home")).status_code == 200


def test_apply_when_the_stored_file_is_gone_says_so(hr_client):
    upload(hr_client, GOOD_FILE)
    roster_import = RosterImport.objects.get()
    default_storage.delete(roster_import.file.name)

    response = hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]))

    assert "The uploaded file “roster.csv” is no longer available; upload it again." in messages_of(response)
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.PREVIEWED


def test_xlsx_upload_is_previewed(hr_client):
    data = make_xlsx(["employee_id", "email", "name", "department", "level"], ["E1", "a@acme.example", "Al Alder", "Ops", 3])

    response = upload(hr_client, data, name="Roster.XLSX")

    assert response.status_code == 302
    assert RosterImport.objects.get().summary["counts"]["creates"] == 1


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("roster.pdf", b"%PDF-1.4", "“roster.pdf” is not a CSV or XLSX file."),
        ("roster.xlsx", b"employee_id,email\n", "“roster.xlsx” is named .xlsx but is not an Excel workbook."),
        ("roster.csv", b"", "The submitted file is empty."),
    ],
)
def test_unusable_upload_shows_the_form_again_with_a_clear_message(hr_client, name, data, message):
    response = upload(hr_client, data, name=name)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not RosterImport.objects.exists()


def test_oversize_upload_is_refused(hr_client, settings):
    settings.ROSTER_IMPORT_MAX_BYTES = 1024
    response = upload(hr_client, make_csv(*(person(f"E{i}") for i in range(40))))

    assert response.status_code == 200
    assert "the limit is 1.0\xa0KB" in response.content.decode()
    assert not RosterImport.objects.exists()


def test_preview_and_detail_make_a_bounded_number_of_queries(hr_client, django_assert_max_num_queries):
    for i in range(100):
        EmployeeFactory(employee_id=f"E{i}", email=f"e{i}@acme.example")
    rows = [person(f"E{i}", manager_id=f"E{i // 2}" if i else "", level=str(2 + i % 4)) for i in range(300)]

    with django_assert_max_num_queries(15):
        response = upload(hr_client, make_csv(*rows))
    with django_assert_max_num_queries(10):
        detail = hr_client.get(response.url)

    assert detail.status_code == 200
    assert RosterImport.objects.get().summary["counts"]["creates"] == 200


def test_missing_import_is_404(hr_client):
    assert hr_client.get(reverse("roster_import_detail", args=[999])).status_code == 404
    assert hr_client.post(reverse("roster_import_apply", args=[999])).status_code == 404


def test_apply_only_accepts_post(hr_client):
    upload(hr_client, GOOD_FILE)
    roster_import = RosterImport.objects.get()

    response = hr_client.get(reverse("roster_import_apply", args=[roster_import.pk]))

    assert response.status_code == 405
    roster_import.refresh_from_db()
    assert roster_import.status == RosterImport.Status.PREVIEWED


def test_import_page_says_blank_cells_keep_the_current_value(hr_client):
    html = hr_client.get(reverse("roster_import")).content.decode()

    assert "blank cells keep the current value" in html.lower()


def test_preview_of_a_sparse_file_says_which_blank_cells_keep_the_current_value(hr_client):
    hired = datetime.date(2025, 8, 28)
    EmployeeFactory(employee_id="E1", email="e1@acme.example", first_name="Cal", last_name="Boss", department=DepartmentFactory(name="Engineering"),
                    title="Engineer", level=3, level_label="IC2", location="London", time_zone="Europe/London", hire_date=hired)

    response = upload(hr_client, make_csv(person("E1", first_name="Cal", last_name="Boss", hire_date="", time_zone="")))

    html = hr_client.get(response.url).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Blank cells keep the current value" in text
    assert "time zone for 1 person" in text and "hire date for 1 person" in text
    assert "Updated people" not in html

    hr_client.post(reverse("roster_import_apply", args=[RosterImport.objects.get().pk]))

    employee = Employee.objects.get(employee_id="E1")
    assert (employee.hire_date, employee.time_zone) == (hired, "Europe/London")


def test_preview_flags_both_rows_of_a_manager_cycle_and_lists_neither_as_new(hr_client):
    data = make_csv(person("A", first_name="Ada", last_name="Ames", manager_id="B"), person("B", first_name="Ben", last_name="Burr", manager_id="A"))

    response = upload(hr_client, data)

    html = hr_client.get(response.url).content.decode()
    cycle = "Manager cycle: Ada Ames (A) → Ben Burr (B) → Ada Ames (A)."
    assert html.count(cycle) == 2
    assert "New people" not in html
    assert RosterImport.objects.get().status == RosterImport.Status.REJECTED


def test_preview_warns_about_new_departments_and_can_still_be_applied(hr_client):
    DepartmentFactory(name="Engineering")

    response = upload(hr_client, make_csv(person("E1"), person("E2", department="Quantum Research")))

    assert any("1 new department" in m and "Quantum Research" in m for m in messages_of(response))
    roster_import = RosterImport.objects.get()
    html = hr_client.get(response.url).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "New departments" in text and "Quantum Research (1 person)" in text
    assert reverse("roster_import_apply", args=[roster_import.pk]) in html  # a warning, not an error

    hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]))

    assert Employee.objects.get(employee_id="E2").department.name == "Quantum Research"


def test_preview_shows_unusual_levels_as_a_warning_that_does_not_block(hr_client):
    for k in range(12):
        EmployeeFactory(employee_id=f"D{k}", email=f"d{k}@acme.example", level=3)

    response = upload(hr_client, make_csv(person("E1", first_name="Ed", last_name="Slip", level="999"), person("E2")))

    assert "Some levels are far above the rest of the directory" in " ".join(messages_of(response))
    assert "new department" in " ".join(messages_of(response))  # both warnings are given
    html = hr_client.get(response.url).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Unusual levels" in text and "Ed Slip (E1): level 999, where 95% of people are at level 3 or below" in text
    roster_import = RosterImport.objects.get()
    hr_client.post(reverse("roster_import_apply", args=[roster_import.pk]))
    assert Employee.objects.get(employee_id="E1").level == 999


def test_preview_tiles_read_in_the_singular_for_one(hr_client):
    EmployeeFactory(employee_id="E1", email="e1@acme.example", level=3)
    response = upload(hr_client, make_csv(person("E1", level="4"), person("E2")))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", hr_client.get(response.url).content.decode()))
    assert "1 person to update" in text and "1 new person" in text and "1 level change" in text and "2 rows in the file" in text
    assert "1 people" not in text


@pytest.fixture
def previewed_import(db):
    from mentoring.roster import roster_import_create

    return roster_import_create(data=GOOD_FILE, filename="roster.csv")


@pytest.mark.parametrize("client_fixture", ["participant_client", "executive_client"])
def test_other_roles_get_403(request, client_fixture, previewed_import):
    client = request.getfixturevalue(client_fixture)

    assert client.get(reverse("roster_import")).status_code == 403
    assert upload(client, GOOD_FILE).status_code == 403
    assert client.get(reverse("roster_import_detail", args=[previewed_import.pk])).status_code == 403
    assert client.post(reverse("roster_import_apply", args=[previewed_import.pk])).status_code == 403
    previewed_import.refresh_from_db()
    assert previewed_import.status == RosterImport.Status.PREVIEWED
    assert RosterImport.objects.count() == 1


def test_anonymous_is_sent_to_login(client, previewed_import):
    login = reverse("account_login")
    for response in (
        client.get(reverse("roster_import")),
        upload(client, GOOD_FILE),
        client.get(reverse("roster_import_detail", args=[previewed_import.pk])),
        client.post(reverse("roster_import_apply", args=[previewed_import.pk])),
    ):
        assert response.status_code == 302 and response.url.startswith(login)
    previewed_import.refresh_from_db()
    assert previewed_import.status == RosterImport.Status.PREVIEWED


def test_pairs_ended_by_an_import_are_logged_as_the_hr_admin_who_applied_it(hr_client, hr_user):
    """Found in QA: the audit log said 'System' for the pairs a roster import ended."""
    from mentoring.models import AuditEvent
    from tests.factories import make_active_pair

    pair = make_active_pair()
    leaver = pair.mentor.employee
    upload(hr_client, make_csv(person(leaver.employee_id, email=leaver.email, first_name=leaver.first_name, last_name=leaver.last_name, left_date=(datetime.date.today() - datetime.timedelta(days=1)).isoformat(), hire_date="2015-01-01")))
    hr_client.post(reverse("roster_import_apply", args=[RosterImport.objects.get().pk]))
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.PAIR_ENDED)
    assert event.actor == hr_user and event.after["reason"] == "left_company"


def test_the_preview_says_what_a_leaving_ends_before_it_is_applied(hr_client, hr_user):
    """Found in QA: a leaver's row said only 'Leaves on ...'; their live pair ended on apply."""
    from mentoring.models import Role
    from tests.factories import make_active_pair, make_person

    exec_user = make_person(level=8, roles=[Role.EXECUTIVE, Role.PARTICIPANT])
    pair = make_active_pair(mentee_user=exec_user)
    leaver = pair.mentee.employee
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    upload(hr_client, make_csv(person(leaver.employee_id, email=leaver.email, first_name=leaver.first_name, last_name=leaver.last_name, left_date=yesterday, hire_date="2015-01-01", level=str(leaver.level))))
    page = re.sub(r"\s+", " ", hr_client.get(reverse("roster_import_detail", args=[RosterImport.objects.get().pk])).content.decode())
    assert "Their live pair ends; the partner is told." in page and "Loses the role: Executive." in page

    hr_client.post(reverse("roster_import_apply", args=[RosterImport.objects.get().pk]))
    page = re.sub(r"\s+", " ", hr_client.get(reverse("roster_import_detail", args=[RosterImport.objects.get().pk])).content.decode())
    assert f"Left on {yesterday}" in page and "Their live pair ended; the partner was told." in page and "Lost the role: Executive." in page


def test_an_hr_admin_cannot_apply_a_file_that_makes_them_a_leaver(hr_client, hr_user):
    """Found in QA: it applied, closed their login midway and answered 'Bad Request (400)'."""
    from mentoring.models import Role
    from tests.factories import make_person

    make_person(level=6, roles=[Role.HR_ADMIN])  # another HR admin: the last-admin rule does not apply
    me = hr_user.employee
    row = person(me.employee_id, first_name=me.first_name, last_name=me.last_name, email=me.email, level=str(me.level), left_date=(datetime.date.today() - datetime.timedelta(days=1)).isoformat(), hire_date="2015-01-01")
    upload(hr_client, make_csv(row))
    response = hr_client.post(reverse("roster_import_apply", args=[RosterImport.objects.get().pk]), follow=True)
    assert response.status_code == 200
    assert any("This file makes you a leaver" in m for m in messages_of(response))
    me.refresh_from_db()
    assert me.left_date is None


def test_the_upload_is_kept_only_while_it_waits_to_be_applied(hr_client, django_capture_on_commit_callbacks):
    """A whole HRIS export is personal data: a file with errors is not stored, and an applied
    one is removed once applied (its preview stays)."""
    upload(hr_client, make_csv(person("E1", level="abc")))
    rejected = RosterImport.objects.get()
    assert rejected.status == RosterImport.Status.REJECTED and not rejected.file
    upload(hr_client, GOOD_FILE)
    waiting = RosterImport.objects.exclude(pk=rejected.pk).get()
    name = waiting.file.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        hr_client.post(reverse("roster_import_apply", args=[waiting.pk]))
    waiting.refresh_from_db()
    assert waiting.status == RosterImport.Status.APPLIED and not waiting.file and not default_storage.exists(name)
    assert "Bea Reporter" in hr_client.get(reverse("roster_import_detail", args=[waiting.pk])).content.decode()


def test_a_manager_change_in_the_preview_names_both_managers(hr_client):
    """Found in QA: 'manager: D00021 becomes D00046' while new people's rows named theirs."""
    old_boss = EmployeeFactory(employee_id="M1", first_name="Olu", last_name="Reyes")
    new_boss = EmployeeFactory(employee_id="M2", first_name="Farid", last_name="Haddad")
    EmployeeFactory(employee_id="E7", email="e7@acme.example", manager=old_boss)
    upload(hr_client, make_csv(person("E7", manager_id="M2")))
    page = hr_client.get(reverse("roster_import_detail", args=[RosterImport.objects.get().pk])).content.decode()
    assert "<del>Olu Reyes (M1)</del>" in page and "<ins>Farid Haddad (M2)</ins>" in page
    assert new_boss.pk


def test_a_preview_the_directory_has_moved_past_is_refreshed_not_applied(hr_client):
    """QA previewed two files, applied the first, then applied the second from its stale
    preview ('3 new people, level 1 -> 3'): it did something else (0 added, level 2 -> 3)."""
    first = make_csv(person("E1", level="2"))
    second = make_csv(person("E1", level="3"))
    upload(hr_client, first)
    upload(hr_client, second)
    one, two = RosterImport.objects.order_by("pk")
    assert two.summary["counts"]["creates"] == 1  # previewed before E1 existed
    hr_client.post(reverse("roster_import_apply", args=[one.pk]))
    assert Employee.objects.get(employee_id="E1").level == 2

    refused = hr_client.post(reverse("roster_import_apply", args=[two.pk]))

    assert any("changed since this preview" in m for m in messages_of(refused))
    two.refresh_from_db()
    assert two.status == RosterImport.Status.PREVIEWED and Employee.objects.get(employee_id="E1").level == 2  # nothing written
    assert two.summary["counts"]["creates"] == 0 and two.summary["level_changes"] == [{"employee_id": "E1", "name": "Ann PersonE1", "from": 2, "to": 3}]
    page = hr_client.get(reverse("roster_import_detail", args=[two.pk])).content.decode()
    assert reverse("roster_import_apply", args=[two.pk]) in page

    hr_client.post(reverse("roster_import_apply", args=[two.pk]))  # what the page now shows
    assert Employee.objects.get(employee_id="E1").level == 3

import csv
import datetime
import io
import json

import openpyxl
import pytest

from mentoring.models import Department, Employee, EmployeeEvent, MAX_CHAIN_DEPTH
from mentoring.roster import RosterError, roster_apply, roster_preview
from tests.factories import DepartmentFactory, EmployeeFactory, EnrollmentFactory, make_person

COLUMNS = [
    "employee_id", "email", "first_name", "last_name", "title", "department", "level", "level_label",
    "manager_id", "location", "time_zone", "hire_date", "left_date",
]


def person(eid, **fields) -> dict:
    """One roster row; every column filled with something valid unless overridden."""
    row = {
        "employee_id": eid,
        "email": f"{eid.lower()}@acme.example",
        "first_name": "Ann",
        "last_name": f"Person{eid}",
        "title": "Engineer",
        "department": "Engineering",
        "level": "3",
        "level_label": "IC2",
        "manager_id": "",
        "location": "London",
        "time_zone": "Europe/London",
        "hire_date": "2021-04-01",
        "left_date": "",
    }
    row.update(fields)
    return row


def make_csv(*rows: dict, columns=COLUMNS, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=delimiter, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def make_xlsx(header: list, *rows: list) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def directory_state():
    return (
        Employee.objects.count(),
        Department.objects.count(),
        EmployeeEvent.objects.count(),
        list(Employee.objects.order_by("pk").values_list("pk", "updated_at")),
    )


def assert_rejected(data: bytes, *, line: int, column: str, reason: str, filename="roster.csv"):
    """The preview lists the error at that line, and applying writes nothing."""
    before = directory_state()
    plan = roster_preview(data=data, filename=filename)
    matching = [e for e in plan.errors if e.line == line and e.column == column and reason in e.message]
    assert matching, f"no error at line {line}, {column} containing {reason!r}; got {plan.errors}"
    with pytest.raises(RosterError, match="nothing was imported"):
        roster_apply(data=data, filename=filename)
    assert directory_state() == before
    return plan


pytestmark = pytest.mark.django_db


# --- Reading files ----------------------------------------------------------------------------


def test_csv_headers_are_case_and_space_insensitive_with_aliases_and_a_full_name():
    data = (
        "\ufeffEmployee ID;Work Email;Full Name;Department;LEVEL;Grade;Manager;TZ\n"
        "E1;Mary.Ann@Acme.example;Mary Ann Smith;Sales;4;M1;;europe/paris\n"
    ).encode()

    plan = roster_preview(data=data, filename="export.CSV")

    assert plan.errors == []
    [create] = plan.creates
    assert create.employee_id == "E1"
    assert create.values["first_name"] == "Mary Ann"
    assert create.values["last_name"] == "Smith"
    assert create.values["email"] == "mary.ann@acme.example"
    assert create.values["level_label"] == "M1"
    assert create.values["time_zone"] == "Europe/Paris"


def test_csv_in_windows_1252_and_tab_separated_is_read():
    data = make_csv(person("E1", first_name="Zoë", location="Zürich"), delimiter="\t", encoding="cp1252")

    roster_apply(data=data, filename="roster.csv")

    employee = Employee.objects.get(employee_id="E1")
    assert (employee.first_name, employee.location) == ("Zoë", "Zürich")


@pytest.mark.parametrize(
    "data",
    [
        b"sep=;\nemployee_id;email;name;department;level\nE1;a@acme.example;Al Alder;Ops;3\n",
        "employee_id\temail\tname\tdepartment\tlevel\nE1\ta@acme.example\tAl Alder\tOps\t3\n".encode("utf-16"),
    ],
    ids=["excel-sep-line", "utf-16"],
)
def test_other_excel_text_exports_are_read(data):
    plan = roster_preview(data=data, filename="roster.csv")

    assert plan.errors == [] and [c.employee_id for c in plan.creates] == ["E1"]


def test_line_numbers_are_file_lines_and_blank_rows_are_skipped():
    data = make_csv(person("E1"), person("E2")).replace(b"\nE2", b"\n,,,,,,,,,,,,\n\nE2").replace(b"e2@", b"bad-email@@")

    plan = roster_preview(data=data, filename="roster.csv")

    assert plan.row_count == 2
    assert [(e.line, e.column) for e in plan.errors] == [(5, "email")]


def test_xlsx_with_date_and_number_cells_is_imported():
    data = make_xlsx(
        ["Employee ID", "Email", "First name", "Last name", "Department", "Level", "Manager ID", "Hire date", "Left date"],
        [1002, "b@acme.example", "Bo", "Berg", "Ops", 5.0, 1001, datetime.datetime(2019, 5, 6), None],
        [1001, "a@acme.example", "Al", "Alder", "Ops", 8, None, datetime.date(2015, 1, 2), "2024-12-31"],
    )

    plan = roster_apply(data=data, filename="roster.xlsx")

    assert plan.errors == [] and len(plan.creates) == 2
    report = Employee.objects.get(employee_id="1002")
    assert report.level == 5
    assert report.hire_date == datetime.date(2019, 5, 6)
    assert report.manager.employee_id == "1001"
    assert Employee.objects.get(employee_id="1001").left_date == datetime.date(2024, 12, 31)


def test_xlsx_rows_past_a_wrong_sheet_size_are_still_read():
    import re
    import zipfile

    original = make_xlsx(["employee_id", "email", "name", "department", "level"], *[[f"E{i}", f"e{i}@acme.example", "Al Alder", "Ops", 3] for i in range(3)])
    # Some exporters write a sheet size that covers only the first rows.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:E2"', content)
            target.writestr(item, content)

    plan = roster_preview(data=out.getvalue(), filename="roster.xlsx")

    assert [c.employee_id for c in plan.creates] == ["E0", "E1", "E2"]


def test_xlsx_errors_carry_sheet_row_numbers():
    data = make_xlsx(
        ["employee_id", "email", "name", "department", "level", "hire_date"],
        ["E1", "a@acme.example", "Al Alder", "Ops", 3, "31/12/2020"],
    )

    assert_rejected(data, line=2, column="hire_date", reason="not a date", filename="roster.xlsx")


@pytest.mark.parametrize(
    ("filename", "data", "reason"),
    [
        ("roster.pdf", b"%PDF-1.7 not a roster", "is not a CSV or XLSX file"),
        ("roster.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old excel", "old-style Excel file"),
        ("roster.xlsx", b"employee_id,email\nE1,a@acme.example\n", "is not an Excel workbook"),
        ("roster.csv", b"PK\x03\x04 a zip", "is an Excel workbook saved with a .csv name"),
        ("roster.xlsx", b"PK\x03\x04 broken zip", "cannot be opened as an Excel workbook"),
        ("roster.csv", b"", "is empty"),
        ("roster.csv", b"\n\n  \n", "has no rows"),
        ("roster.csv", make_csv(), "has a header row but no people"),
        ("roster.csv", b"\x00\x01\x02binary", "not a readable text file"),
    ],
)
def test_unreadable_files_are_rejected_with_a_clear_message(filename, data, reason):
    with pytest.raises(RosterError, match=reason):
        roster_preview(data=data, filename=filename)
    with pytest.raises(RosterError, match=reason):
        roster_apply(data=data, filename=filename)
    assert Employee.objects.count() == 0


def test_oversize_file_is_rejected(settings):
    settings.ROSTER_IMPORT_MAX_BYTES = 100
    data = make_csv(person("E1"), person("E2"))

    with pytest.raises(RosterError, match=r"the limit is 100\sbytes"):
        roster_preview(data=data, filename="roster.csv")


# --- Row errors: each lists line and reason, and nothing is written ---------------------------


def test_missing_required_column_is_reported_once_on_line_1_and_nothing_else():
    columns = [c for c in COLUMNS if c != "level"]
    data = make_csv(person("E1", email="not-an-email"), person("E1"), columns=columns)

    plan = assert_rejected(data, line=1, column="level", reason="required column “level” is missing")

    assert len(plan.errors) == 1


def test_missing_name_columns_are_reported():
    columns = [c for c in COLUMNS if c != "last_name"]

    plan = assert_rejected(make_csv(person("E1"), columns=columns), line=1, column="last name", reason="“last_name” is missing")

    assert len(plan.errors) == 1


@pytest.mark.parametrize(("column", "label"), [("employee_id", "employee_id"), ("email", "email"), ("first_name", "first_name"), ("department", "department"), ("level", "level")])
def test_empty_required_field(column, label):
    data = make_csv(person("E1"), person("E2", **{column: ""}))

    assert_rejected(data, line=3, column=label, reason="is empty")


def test_bad_email():
    assert_rejected(make_csv(person("E1", email="ann.acme.example")), line=2, column="email", reason="not a valid email address")


def test_duplicate_employee_id_names_both_lines():
    data = make_csv(person("E1"), person("E2"), person("E1", email="other@acme.example"))

    plan = assert_rejected(data, line=4, column="employee_id", reason="E1 is on line 2 and again on line 4")

    assert len(plan.errors) == 1


def test_duplicate_email_in_file_names_both_lines():
    data = make_csv(person("E1", email="same@acme.example"), person("E2", email="SAME@acme.example"))

    assert_rejected(data, line=3, column="email", reason="same@acme.example is on line 2 and again on line 3")


def test_email_of_another_existing_employee():
    EmployeeFactory(employee_id="E9", email="taken@acme.example", first_name="Tess", last_name="Taken")

    assert_rejected(make_csv(person("E1", email="taken@acme.example")), line=2, column="email", reason="belongs to Tess Taken (E9)")


@pytest.mark.parametrize(
    ("level", "reason"),
    [
        ("senior", "Level “senior” is not a whole number of 0 or more"),
        ("-1", "Level “-1” is not a whole number of 0 or more"),
        ("2.5", "Level “2.5” is not a whole number of 0 or more"),
        ("99999", "Level 99999 is too high (the most is 32767)"),
    ],
)
def test_level_must_be_a_whole_number(level, reason):
    assert_rejected(make_csv(person("E1", level=level)), line=2, column="level", reason=reason)


def test_level_written_as_a_spreadsheet_number_is_accepted():
    plan = roster_preview(data=make_csv(person("E1", level="4.0")), filename="roster.csv")

    assert plan.errors == [] and plan.creates[0].values["level"] == 4


def test_unknown_time_zone():
    assert_rejected(make_csv(person("E1", time_zone="Mars/Olympus")), line=2, column="time_zone", reason="not a known time zone")


@pytest.mark.parametrize(("column", "value"), [("hire_date", "03/04/2021"), ("left_date", "2021-02-30"), ("hire_date", "yesterday")])
def test_bad_date(column, value):
    assert_rejected(make_csv(person("E1", **{column: value})), line=2, column=column, reason="not a date; write dates as YYYY-MM-DD")


def test_left_date_before_hire_date():
    data = make_csv(person("E1", hire_date="2022-05-01", left_date="2022-04-30"))

    assert_rejected(data, line=2, column="left_date", reason="before the hire date")


def test_unknown_manager():
    data = make_csv(person("E1"), person("E2", manager_id="E404"))

    assert_rejected(data, line=3, column="manager_id", reason="Manager “E404” is neither in this file nor in the directory")


def test_own_manager():
    assert_rejected(make_csv(person("E1", manager_id="E1")), line=2, column="manager_id", reason="their own manager")


def test_two_person_manager_cycle_flags_both_rows_with_the_same_error():
    data = make_csv(person("A", first_name="Ada", last_name="Ames", manager_id="B"), person("B", first_name="Ben", last_name="Burr", manager_id="A"))

    plan = assert_rejected(data, line=2, column="manager_id", reason="Manager cycle: Ada Ames (A) → Ben Burr (B) → Ada Ames (A)")

    assert [e.line for e in plan.errors] == [2, 3]
    assert plan.errors[0].message == plan.errors[1].message
    assert plan.creates == []  # neither half of the loop is listed as a new person


def test_longer_manager_cycle_flags_every_row_in_it_and_not_the_people_below_it():
    data = make_csv(
        person("TOP"),
        person("D", manager_id="A"),  # below the loop: fine once the loop is fixed
        person("A", manager_id="C"),
        person("B", manager_id="A"),
        person("C", manager_id="B"),
    )

    plan = assert_rejected(data, line=4, column="manager_id", reason="(A) → Ann PersonC (C) → Ann PersonB (B) → Ann PersonA (A)")

    assert [e.line for e in plan.errors] == [4, 5, 6]
    assert len({e.message for e in plan.errors}) == 1
    assert sorted(c.employee_id for c in plan.creates) == ["D", "TOP"]


def test_cycle_through_a_directory_person_who_is_not_in_the_file():
    boss = EmployeeFactory(employee_id="X1", first_name="Xena", last_name="Exec")
    EmployeeFactory(employee_id="X2", first_name="Yuri", last_name="Yates", manager=boss)

    # The file makes Xena report to Hana, and Hana report to Yuri, who reports to Xena.
    data = make_csv(
        person("H1", first_name="Hana", last_name="Ho", manager_id="X2"),
        person("X1", email=boss.email, first_name="Xena", last_name="Exec", manager_id="H1"),
    )

    plan = assert_rejected(data, line=2, column="manager_id", reason="Hana Ho (H1) → Yuri Yates (X2) → Xena Exec (X1) → Hana Ho (H1)")

    assert [e.line for e in plan.errors] == [2, 3]
    assert plan.errors[0].message == plan.errors[1].message


def test_reporting_line_deeper_than_the_chain_limit_is_rejected():
    rows = [person("P0")] + [person(f"P{i}", manager_id=f"P{i - 1}") for i in range(1, MAX_CHAIN_DEPTH + 2)]

    plan = assert_rejected(make_csv(*rows), line=MAX_CHAIN_DEPTH + 3, column="manager_id", reason="reporting line is too deep")

    assert len(plan.errors) == 1


def test_a_leaver_who_manages_people_is_fine():
    data = make_csv(person("M1", left_date="2024-06-30"), person("R1", manager_id="M1"))

    plan = roster_apply(data=data, filename="roster.csv")

    assert plan.errors == []
    assert Employee.objects.get(employee_id="R1").manager.employee_id == "M1"


def test_every_bad_row_is_listed_in_line_order():
    data = make_csv(person("E1", email="x"), person("E2"), person("E3", level="high", time_zone="Nowhere/Land"), person("E4", manager_id="E99"))

    plan = roster_preview(data=data, filename="roster.csv")

    assert [(e.line, e.column) for e in plan.errors] == [(2, "email"), (4, "level"), (4, "time_zone"), (5, "manager_id")]


def test_summary_caps_stored_errors_and_keeps_the_total():
    rows = [person(f"E{i}", email=f"bad-{i}") for i in range(600)]

    summary = roster_preview(data=make_csv(*rows), filename="roster.csv").to_summary()

    assert summary["counts"]["errors"] == 600
    assert len(summary["errors"]) == 500
    assert summary["errors"][0] == {"line": 2, "column": "email", "message": "“bad-0” is not a valid email address."}
    json.dumps(summary)


# --- Applying ------------------------------------------------------------------------------------


def test_apply_creates_people_with_managers_listed_after_their_reports():
    data = make_csv(
        person("E3", manager_id="E2", hire_date="2023-02-01"),
        person("E2", manager_id="E1"),
        person("E1", department="Executive", hire_date=""),
    )

    plan = roster_apply(data=data, filename="roster.csv", effective_date=datetime.date(2025, 1, 15))

    assert len(plan.creates) == 3
    e1, e2, e3 = (Employee.objects.select_related("manager", "department").get(employee_id=i) for i in ("E1", "E2", "E3"))
    assert (e1.manager, e2.manager, e3.manager) == (None, e1, e2)
    assert e1.department.name == "Executive" and e3.department.name == "Engineering"
    joined = dict(EmployeeEvent.objects.filter(kind=EmployeeEvent.Kind.JOINED).values_list("employee__employee_id", "effective_date"))
    assert joined == {"E1": datetime.date(2025, 1, 15), "E2": datetime.date(2021, 4, 1), "E3": datetime.date(2023, 2, 1)}


def test_reimporting_the_same_file_changes_nothing():
    user = make_person(level=4, employee_id="E7")
    data = make_csv(
        person("E1"), person("E2", manager_id="E1", level="5"), person("E7", email=user.email, manager_id="E2", left_date="2025-03-01"),
        person("E8", manager_id="E1", left_date="2024-01-31"),
    )
    roster_apply(data=data, filename="roster.csv")
    before = directory_state()

    plan = roster_apply(data=data, filename="roster.csv")

    assert (len(plan.creates), len(plan.updates), len(plan.level_changes), len(plan.leavers)) == (0, 0, 0, 0)
    assert plan.unchanged == 4
    assert directory_state() == before


def test_level_change_is_recorded_with_from_and_to():
    EmployeeFactory(employee_id="E1", email="e1@acme.example", level=3)

    plan = roster_apply(data=make_csv(person("E1", level="4")), filename="roster.csv", effective_date=datetime.date(2025, 4, 1))

    assert [(c.employee_id, c.from_level, c.to_level) for c in plan.level_changes] == [("E1", 3, 4)]
    event = EmployeeEvent.objects.get(kind=EmployeeEvent.Kind.LEVEL_CHANGE)
    assert (event.employee.employee_id, event.from_level, event.to_level, event.effective_date) == ("E1", 3, 4, datetime.date(2025, 4, 1))
    assert event.is_promotion
    assert Employee.objects.get(employee_id="E1").level == 4


def test_update_lists_changed_fields_old_and_new():
    EmployeeFactory(employee_id="E1", email="e1@acme.example", title="Analyst", department=DepartmentFactory(name="Finance"),
                    level=3, level_label="IC2", location="London", time_zone="Europe/London", hire_date=datetime.date(2021, 4, 1))

    plan = roster_preview(data=make_csv(person("E1", title="Senior Analyst", department="finance")), filename="roster.csv")

    [update] = plan.updates
    assert update.changes == {"title": ("Analyst", "Senior Analyst"), "first_name": update.changes["first_name"], "last_name": update.changes["last_name"]}
    assert "department" not in update.changes  # matched case-insensitively


def test_leaver_stays_in_directory_with_left_event_and_cannot_sign_in():
    user = make_person(level=3, employee_id="E5", hire_date=datetime.date(2019, 1, 1))
    EmployeeFactory(employee_id="E6", email="e6@acme.example", manager=user.employee)
    data = make_csv(person("E5", email=user.email, left_date="2025-02-28", hire_date="2019-01-01"), person("E6", manager_id="E5"))

    plan = roster_apply(data=data, filename="roster.csv")

    assert [leaver.employee_id for leaver in plan.leavers] == ["E5"]
    leaver = Employee.objects.get(employee_id="E5")
    assert leaver.left_date == datetime.date(2025, 2, 28)
    assert leaver.direct_reports.get().employee_id == "E6"
    event = EmployeeEvent.objects.get(kind=EmployeeEvent.Kind.LEFT)
    assert (event.employee, event.effective_date) == (leaver, datetime.date(2025, 2, 28))
    user.refresh_from_db()
    assert user.is_active is False


def test_a_left_date_still_to_come_is_shown_not_recorded_until_an_import_on_that_day():
    """HRIS exports carry notice periods: a leaving on 15 January imported on 4 December must
    not end the person's login and pairs six weeks early."""
    from pairing.models import Pair
    from tests.factories import make_active_pair

    user = make_person(level=3, employee_id="E5", hire_date=datetime.date(2019, 1, 1))
    pair = make_active_pair(mentor_user=user)
    application = EnrollmentFactory(employee=user.employee, status="applied")  # to a program still to come
    data = make_csv(person("E5", email=user.email, left_date="2027-01-15", hire_date="2019-01-01"), person("N1", left_date="2027-02-01"))

    plan = roster_apply(data=data, filename="roster.csv", effective_date=datetime.date(2026, 12, 4))

    assert plan.leavers == [] and [(eid, left) for eid, _name, left in plan.leaving_later] == [("E5", datetime.date(2027, 1, 15)), ("N1", datetime.date(2027, 2, 1))]
    assert Employee.objects.get(employee_id="E5").left_date is None and Employee.objects.get(employee_id="N1").left_date is None
    assert not EmployeeEvent.objects.filter(kind=EmployeeEvent.Kind.LEFT).exists()
    user.refresh_from_db()
    pair.refresh_from_db()
    assert user.is_active and pair.status == Pair.Status.ACTIVE
    application.refresh_from_db()  # ... but nobody leaving is matched anew
    assert application.status == "withdrawn" and "Leaving the company on 2027-01-15" in application.withdrawal_reason
    assert plan.to_summary()["leaving_later"][0] == {"employee_id": "E5", "name": plan.leaving_later[0][1], "left_date": "2027-01-15"}

    # The same file imported on the day records the leaving, with everything it brings.
    plan = roster_apply(data=data, filename="roster.csv", effective_date=datetime.date(2027, 1, 15))
    assert [leaver.employee_id for leaver in plan.leavers] == ["E5"] and [eid for eid, _n, _l in plan.leaving_later] == ["N1"]
    assert Employee.objects.get(employee_id="E5").left_date == datetime.date(2027, 1, 15)
    user.refresh_from_db()
    pair.refresh_from_db()
    assert not user.is_active and pair.status == Pair.Status.ENDED


def test_a_leaver_loses_hr_admin_and_executive_rights_so_a_rejoiner_is_a_participant_again(hr_user):
    """Found in QA: an executive imported as a leaver, then as a rejoiner, was straight back on
    the executive dashboard (an HR admin would have been back in the console)."""
    from mentoring.models import AuditEvent, Role

    user = make_person(level=8, employee_id="E5", hire_date=datetime.date(2019, 1, 1), roles=[Role.EXECUTIVE, Role.HR_ADMIN, Role.PARTICIPANT])
    row = person("E5", email=user.email, hire_date="2019-01-01", level="8")
    roster_apply(data=make_csv({**row, "left_date": "2025-02-28"}), filename="roster.csv", effective_date=datetime.date(2025, 3, 1))
    assert sorted(user.groups.values_list("name", flat=True)) == [Role.PARTICIPANT]
    assert set(AuditEvent.objects.filter(action=AuditEvent.Action.ROLE_REVOKED, object_id=user.pk).values_list("summary", flat=True)) == {"Role HR admin revoked", "Role Executive revoked"}
    roster_apply(data=make_csv(row), filename="roster.csv", effective_date=datetime.date(2025, 6, 2))
    user.refresh_from_db()
    assert user.is_active and not user.has_role(Role.EXECUTIVE) and not user.has_role(Role.HR_ADMIN)


def test_a_new_address_in_the_directory_is_the_persons_only_sign_in_address_from_then_on(client, password, settings):
    from allauth.account.models import EmailAddress
    from django.urls import reverse

    settings.MFA_REQUIRED_ROLES = []
    user = make_person(level=3, employee_id="E7", hire_date=datetime.date(2021, 4, 1))
    old = user.email
    # An address added on allauth's page before the directory owned addresses.
    EmailAddress.objects.create(user=user, email="ann.private@elsewhere.example", verified=True, primary=False)

    roster_apply(data=make_csv(person("E7", email="Ann.Married@acme.example")), filename="roster.csv")

    user.refresh_from_db()
    assert user.email == "ann.married@acme.example" == Employee.objects.get(employee_id="E7").email
    assert list(EmailAddress.objects.filter(user=user).values_list("email", "verified", "primary")) == [("ann.married@acme.example", True, True)]
    assert client.post(reverse("account_login"), {"login": old, "password": password}).status_code == 200  # refused, form again
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("account_login"), {"login": "ann.married@acme.example", "password": password})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


def test_the_old_address_is_told_when_an_import_moves_a_login(deliver_outbox):
    """A change nobody asked for (a typo, or someone with the roster taking an account over)
    does not go unnoticed: the address resets went to until now hears of it."""
    from django.core import mail

    user = make_person(level=3, employee_id="E9", hire_date=datetime.date(2021, 4, 1))
    old = user.email
    roster_apply(data=make_csv(person("E9", email="someone.else@acme.example")), filename="roster.csv")
    assert deliver_outbox() == 1
    [message] = mail.outbox
    assert message.to == [old]
    assert "someone.else@acme.example" in message.body and "tell your HR team at once" in message.body
    # Re-importing the same file moves nothing and tells nobody again.
    roster_apply(data=make_csv(person("E9", email="someone.else@acme.example")), filename="roster.csv")
    assert deliver_outbox() == 0


def test_a_new_address_that_is_already_another_logins_is_a_row_error_and_nothing_is_written():
    from tests.factories import UserFactory

    user = make_person(level=3, employee_id="E8", hire_date=datetime.date(2021, 4, 1))
    UserFactory(email="taken@acme.example")  # an account of nobody in the directory (an admin's, say)
    other = UserFactory(email="other@acme.example")
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=other, email="second@acme.example", verified=True, primary=False)  # a confirmed second address
    data = make_csv(person("E8", email="taken@acme.example"))
    plan = roster_preview(data=make_csv(person("E8", email="second@acme.example")), filename="roster.csv")
    assert [e.column for e in plan.errors] == ["email"]

    plan = roster_preview(data=data, filename="roster.csv")

    [error] = plan.errors
    assert (error.line, error.column) == (2, "email") and "already the sign-in address of another Upward account" in error.message
    with pytest.raises(RosterError):
        roster_apply(data=data, filename="roster.csv")
    user.refresh_from_db()
    assert Employee.objects.get(employee_id="E8").email == user.email != "taken@acme.example"


def test_rejoiner_gets_a_rejoined_event_and_can_sign_in_again():
    user = make_person(employee_id="E5", left_date=datetime.date(2023, 5, 1))
    user.is_active = False
    user.save()

    plan = roster_apply(data=make_csv(person("E5", email=user.email)), filename="roster.csv", effective_date=datetime.date(2025, 6, 2))

    assert [r.employee_id for r in plan.rejoiners] == ["E5"]
    assert Employee.objects.get(employee_id="E5").left_date is None
    assert EmployeeEvent.objects.get(kind=EmployeeEvent.Kind.REJOINED).effective_date == datetime.date(2025, 6, 2)
    user.refresh_from_db()
    assert user.is_active is True


def test_people_missing_from_the_file_are_reported_and_left_alone():
    absent = EmployeeFactory(employee_id="OLD", first_name="Olga", last_name="Old")
    EmployeeFactory(employee_id="GONE", left_date=datetime.date(2020, 1, 1))

    plan = roster_apply(data=make_csv(person("E1")), filename="roster.csv")

    assert plan.not_in_file == 1
    assert plan.not_in_file_people == [("OLD", "Olga Old")]
    absent.refresh_from_db()
    assert absent.left_date is None
    assert Employee.objects.count() == 3


def test_columns_absent_from_the_file_leave_those_fields_alone():
    EmployeeFactory(employee_id="E1", email="e1@acme.example", location="Lisbon", time_zone="Europe/Lisbon", title="Analyst", level=3)
    columns = ["employee_id", "email", "first_name", "last_name", "department", "level"]

    roster_apply(data=make_csv(person("E1", level="4"), columns=columns), filename="roster.csv")

    employee = Employee.objects.get(employee_id="E1")
    assert (employee.level, employee.location, employee.time_zone, employee.title) == (4, "Lisbon", "Europe/Lisbon", "Analyst")


def test_manager_can_move_to_a_person_created_by_the_same_import():
    old_boss = EmployeeFactory(employee_id="B1", email="b1@acme.example")
    EmployeeFactory(employee_id="E1", email="e1@acme.example", manager=old_boss)

    roster_apply(data=make_csv(person("E1", manager_id="NEW"), person("NEW")), filename="roster.csv")

    assert Employee.objects.get(employee_id="E1").manager.employee_id == "NEW"


def test_preview_warns_about_the_departments_the_import_will_create():
    DepartmentFactory(name="Engineering")
    EmployeeFactory(employee_id="E1", email="e1@acme.example", department=DepartmentFactory(name="Finance"))
    data = make_csv(
        person("E1", department="Quantum Research"),
        person("E2", department="quantum research"),
        person("E3", department="engineering"),
        person("E4", department="Legal"),
    )

    plan = roster_preview(data=data, filename="roster.csv")

    assert plan.errors == []  # new departments are legitimate: a warning, not an error
    assert plan.new_departments == [("Legal", 1), ("Quantum Research", 2)]
    summary = plan.to_summary()
    assert summary["new_departments"] == [{"name": "Legal", "people": 1}, {"name": "Quantum Research", "people": 2}]
    assert summary["counts"]["new_departments"] == 2

    roster_apply(data=data, filename="roster.csv")

    assert set(Department.objects.values_list("name", flat=True)) == {"Engineering", "Finance", "Legal", "Quantum Research"}
    assert roster_preview(data=data, filename="roster.csv").new_departments == []


def test_preview_flags_new_and_changed_levels_far_above_everyone_elses():
    for k in range(12):
        EmployeeFactory(employee_id=f"D{k}", email=f"d{k}@acme.example", level=2 + k % 6)  # levels 2 to 7
    EmployeeFactory(employee_id="CEO", email="ceo@acme.example", level=9)
    EmployeeFactory(employee_id="T1", email="t1@acme.example", level=4)
    data = make_csv(
        person("N1", first_name="Nina", last_name="Typo", level="77"),  # 7 with a finger slip
        person("N2", first_name="Noor", last_name="Fine", level="9"),  # as senior as the CEO: usual
        person("T1", first_name="Tariq", last_name="Typo", level="40"),
        person("CEO", first_name="Cleo", last_name="Chief", level="10"),  # a promotion, one above
    )

    plan = roster_preview(data=data, filename="roster.csv")

    assert plan.errors == []  # a warning: a company's scale may be unusual
    assert plan.unusual_levels == [("N1", "Nina Typo", 77, 7), ("T1", "Tariq Typo", 40, 7)]
    assert plan.to_summary()["unusual_levels"][0] == {"employee_id": "N1", "name": "Nina Typo", "level": 77, "usual_top": 7}

    roster_apply(data=data, filename="roster.csv")
    assert Employee.objects.get(employee_id="N1").level == 77
    # Already in the directory and unchanged: not flagged on every later import.
    assert roster_preview(data=data, filename="roster.csv").unusual_levels == []


def test_a_whole_company_on_a_new_scale_is_not_unusual_and_few_people_are_never_judged():
    for k in range(12):
        EmployeeFactory(employee_id=f"D{k}", email=f"d{k}@acme.example", level=2 + k % 6)
    rescaled = [person(f"D{k}", level=str(60 + k % 6)) for k in range(12)]
    assert roster_preview(data=make_csv(*rescaled), filename="roster.csv").unusual_levels == []

    Employee.objects.all().delete()
    small = [person(f"S{k}", level="3") for k in range(8)] + [person("S9", level="300")]
    assert roster_preview(data=make_csv(*small), filename="roster.csv").unusual_levels == []


def test_department_move_creates_the_new_department():
    EmployeeFactory(employee_id="E1", email="e1@acme.example", department=DepartmentFactory(name="Finance"))

    plan = roster_apply(data=make_csv(person("E1", department="Research")), filename="roster.csv")

    assert plan.updates[0].changes["department"] == ("Finance", "Research")
    assert Employee.objects.get(employee_id="E1").department.name == "Research"
    assert set(Department.objects.values_list("name", flat=True)) == {"Finance", "Research"}


def test_new_person_with_a_blank_time_zone_gets_utc_and_departments_are_created_once():
    data = make_csv(person("E1", time_zone="", department="Design"), person("E2", department="design"))

    roster_apply(data=data, filename="roster.csv")

    assert Employee.objects.get(employee_id="E1").time_zone == "UTC"
    assert list(Department.objects.values_list("name", flat=True)) == ["Design"]


# --- Blank cells ---------------------------------------------------------------------------------


def test_blank_cells_in_optional_columns_keep_the_stored_values():
    # A sparse HRIS export: the columns are there, but these cells are empty.
    hired = datetime.date(2025, 8, 28)
    EmployeeFactory(employee_id="E1", email="e1@acme.example", first_name="Ann", last_name="PersonE1", department=DepartmentFactory(name="Engineering"),
                    title="Engineer", level=3, level_label="IC2", location="London", time_zone="Europe/London", hire_date=hired)
    employee = Employee.objects.get(employee_id="E1")
    EmployeeEvent.objects.create(employee=employee, kind=EmployeeEvent.Kind.JOINED, effective_date=hired)
    data = make_csv(person("E1", title="", level_label="", location="", time_zone="", hire_date=""))

    plan = roster_apply(data=data, filename="roster.csv")

    assert (plan.updates, plan.unchanged) == ([], 1)
    assert plan.kept_blank == {"title": 1, "level_label": 1, "location": 1, "time_zone": 1, "hire_date": 1}
    employee.refresh_from_db()
    assert (employee.title, employee.level_label, employee.location, employee.time_zone, employee.hire_date) == (
        "Engineer", "IC2", "London", "Europe/London", hired)
    # The history page's "Joined" and the hire date still agree.
    assert EmployeeEvent.objects.get(employee=employee, kind=EmployeeEvent.Kind.JOINED).effective_date == employee.hire_date


def test_blank_cells_keep_values_while_filled_cells_in_the_same_row_change():
    EmployeeFactory(employee_id="E1", email="e1@acme.example", first_name="Ann", last_name="PersonE1", department=DepartmentFactory(name="Engineering"),
                    title="Engineer", level=3, level_label="IC2", location="London", time_zone="Europe/London", hire_date=datetime.date(2021, 4, 1))

    plan = roster_preview(data=make_csv(person("E1", title="Staff Engineer", time_zone="", hire_date="")), filename="roster.csv")

    [update] = plan.updates
    assert update.changes == {"title": ("Engineer", "Staff Engineer")}
    assert plan.to_summary()["kept_blank"] == [{"field": "time zone", "count": 1}, {"field": "hire date", "count": 1}]


def test_blank_manager_still_puts_the_person_at_the_top_of_the_tree():
    boss = EmployeeFactory(employee_id="B1", email="b1@acme.example")
    EmployeeFactory(employee_id="E1", email="e1@acme.example", manager=boss)

    plan = roster_apply(data=make_csv(person("E1", manager_id="")), filename="roster.csv")

    assert plan.updates[0].changes["manager_id"] == ("B1", None)
    assert Employee.objects.get(employee_id="E1").manager is None


def test_left_date_before_the_hire_date_kept_from_the_directory_is_rejected():
    EmployeeFactory(employee_id="E1", email="e1@acme.example", hire_date=datetime.date(2021, 4, 1))

    assert_rejected(make_csv(person("E1", hire_date="", left_date="2020-01-31")), line=2, column="left_date",
                    reason="before the hire date 2021-04-01 in the directory")


def test_preview_makes_a_fixed_number_of_queries_and_writes_nothing(django_assert_max_num_queries):
    for i in range(50):
        EmployeeFactory(employee_id=f"E{i}", email=f"e{i}@acme.example")
    rows = [person(f"E{i}", manager_id=f"E{i // 2}" if i else "", level=str(3 + i % 3)) for i in range(300)]
    before = directory_state()

    with django_assert_max_num_queries(3):  # directory, departments, erased people's fingerprints
        plan = roster_preview(data=make_csv(*rows), filename="roster.csv")

    assert plan.errors == []
    assert (len(plan.creates), len(plan.updates)) == (250, 50)
    assert directory_state() == before


@pytest.mark.django_db(transaction=True)
def test_two_admins_applying_at_once_apply_once(settings):
    import threading

    from django.db import connection

    from mentoring.roster import roster_import_apply, roster_import_create

    if connection.vendor != "postgresql":
        pytest.skip("needs real concurrent writers: SQLite's in-memory test database locks tables instead of waiting")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    roster_import = roster_import_create(data=make_csv(person("E1"), person("E2", manager_id="E1")), filename="roster.csv")
    barrier = threading.Barrier(2)
    outcomes = []

    def apply():
        try:
            barrier.wait()
            roster_import_apply(roster_import_id=roster_import.pk)
            outcomes.append("applied")
        except RosterError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["applied", "“roster.csv” has already been applied."]
    assert Employee.objects.count() == 2
    assert EmployeeEvent.objects.count() == 2


def test_managers_can_be_given_by_email_address_in_a_manager_email_column():
    """Found in QA: a "Manager Email" column was ignored (its people got no manager), and
    addresses in the "Manager" column were 'neither in this file nor in the directory'."""
    boss = EmployeeFactory(employee_id="B1", email="jun.silva@acme.example")
    columns = [c if c != "manager_id" else "Manager Email" for c in COLUMNS]
    rows = [
        {**person("N1"), "Manager Email": "Jun.Silva@acme.example"},  # in the directory, any case
        {**person("N2"), "Manager Email": "n3@acme.example"},  # later in this file
        {**person("N3"), "Manager Email": ""},
    ]
    plan = roster_apply(data=make_csv(*rows, columns=columns), filename="roster.csv")
    assert not plan.errors
    managers = dict(Employee.objects.filter(employee_id__in=["N1", "N2", "N3"]).values_list("employee_id", "manager__employee_id"))
    assert managers == {"N1": boss.employee_id, "N2": "N3", "N3": None}

    unknown = roster_preview(data=make_csv({**person("N4"), "Manager Email": "nobody@acme.example"}, columns=columns), filename="roster.csv")
    assert [e.message for e in unknown.errors] == ["Manager “nobody@acme.example”: nobody in this file or in the directory has that email address."]


def test_a_manager_email_column_beside_the_id_fills_blank_ids_and_ones_own_address_is_refused():
    """From a review: a file with both columns must still import (the id wins, the address
    fills a blank id), a column that usually holds a name ("Supervisor") stays ignored, and a
    person given their own address as manager is an error in the preview (it hung the apply)."""
    EmployeeFactory(employee_id="B1", email="boss@acme.example")
    columns = [*COLUMNS, "Manager Email", "Supervisor"]
    rows = [
        {**person("N1", manager_id="B1"), "Manager Email": "n2@acme.example", "Supervisor": "Jun Silva"},
        {**person("N2", manager_id=""), "Manager Email": "boss@acme.example", "Supervisor": "Jun Silva"},
    ]
    plan = roster_apply(data=make_csv(*rows, columns=columns), filename="roster.csv")
    assert not plan.errors and plan.ignored_columns == ("Supervisor",)
    assert dict(Employee.objects.filter(employee_id__in=["N1", "N2"]).values_list("employee_id", "manager__employee_id")) == {"N1": "B1", "N2": "B1"}

    own = roster_preview(data=make_csv({**person("N3", manager_id=""), "Manager Email": "n3@acme.example"}, columns=[*COLUMNS, "Manager Email"]), filename="roster.csv")
    assert [e.message for e in own.errors] == ["“n3@acme.example” is this person's own address: someone cannot be their own manager."]


def test_the_migration_takes_admin_roles_from_people_who_had_already_left(hr_user):
    """From a review: only leavers recorded after the rule lost their roles; an earlier leaver
    rejoining would have been an administrator again."""
    import importlib

    from django.apps import apps

    from mentoring.models import Role

    earlier = make_person(level=8, employee_id="OLD1", left_date=datetime.date(2024, 1, 31), roles=[Role.EXECUTIVE, Role.HR_ADMIN, Role.PARTICIPANT])
    staying = make_person(level=8, roles=[Role.EXECUTIVE])
    importlib.import_module("mentoring.migrations.0010_leavers_lose_admin_roles").forwards(apps, None)
    assert sorted(earlier.groups.values_list("name", flat=True)) == [Role.PARTICIPANT]
    assert staying.has_role(Role.EXECUTIVE) and hr_user.has_role(Role.HR_ADMIN)

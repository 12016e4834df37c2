import datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mentoring.models import Employee, EmployeeEvent, RosterImport
from tests.factories import EmployeeFactory
from tests.mentoring.test_roster import make_csv, person

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "roster-sample.csv"


@pytest.fixture(autouse=True)
def _in_memory_storage(settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_roster", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_dry_run_prints_the_summary_and_writes_nothing(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("E1"), person("E2", manager_id="E1")))

    out, _err = run(path, "--dry-run")

    assert "2 rows, 2 to create, 0 to update, 0 level changes, 0 leavers" in out
    assert "Dry run: nothing was written." in out
    assert not Employee.objects.exists() and not RosterImport.objects.exists() and not EmployeeEvent.objects.exists()


def test_dry_run_names_new_departments_and_blank_cells_that_keep_values(tmp_path):
    EmployeeFactory(employee_id="E1", email="e1@acme.example", hire_date=datetime.date(2020, 1, 6))
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("E1", hire_date=""), person("E2", department="Quantum Reserch")))

    out, _err = run(path, "--dry-run")

    assert "New department (check the spelling): Quantum Reserch (1 person)" in out
    assert "Blank hire_date cells keep the current value for 1 person." in out


def test_dry_run_names_unusual_levels(tmp_path):
    for k in range(10):
        EmployeeFactory(employee_id=f"D{k}", email=f"d{k}@acme.example", level=4)
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("E2", first_name="Eli", last_name="Slip", level="44")))

    out, _err = run(path, "--dry-run")

    assert "Unusual level (check it is not a typo): E2 Eli Slip: level 44, where 95% of people are at level 4 or below" in out


def test_import_applies_and_records_the_import(tmp_path):
    EmployeeFactory(employee_id="E1", email="e1@acme.example", level=3)
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("E1", level="4"), person("E2", manager_id="E1")))

    out, _err = run(path, "--effective-date", "2025-03-01")

    assert "1 to create, 1 to update, 1 level changes" in out
    roster_import = RosterImport.objects.get()
    assert roster_import.status == RosterImport.Status.APPLIED and roster_import.uploaded_by is None
    assert Employee.objects.get(employee_id="E2").manager.employee_id == "E1"
    change = EmployeeEvent.objects.get(kind=EmployeeEvent.Kind.LEVEL_CHANGE)
    assert (change.effective_date, change.roster_import) == (datetime.date(2025, 3, 1), roster_import)

    out, _err = run(path)  # the same file again

    assert "0 to create, 0 to update, 0 level changes, 0 leavers, 0 rejoiners, 2 unchanged" in out
    assert EmployeeEvent.objects.count() == 2


def test_errors_are_printed_with_line_and_column_and_exit_non_zero(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("E1"), person("E2", email="bad"), person("E3", manager_id="E404")))
    err = StringIO()

    with pytest.raises(CommandError, match=r"2 error\(s\) in roster.csv; nothing was imported"):
        call_command("import_roster", str(path), stdout=StringIO(), stderr=err)

    assert "line 3, email: “bad” is not a valid email address." in err.getvalue()
    assert "line 4, manager_id: Manager “E404” is neither in this file nor in the directory." in err.getvalue()
    assert not Employee.objects.exists() and not RosterImport.objects.exists()


def test_dry_run_with_errors_also_exits_non_zero(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("A", manager_id="B"), person("B", manager_id="A")))

    with pytest.raises(CommandError):
        run(path, "--dry-run")


def test_exit_code_is_non_zero_from_the_command_line(tmp_path, monkeypatch):
    from django.core.management import ManagementUtility
    from django.core.management.base import connections

    # run_from_argv closes every connection when it ends, the test database's included.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("E1", level="x")))

    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "import_roster", str(path), "--dry-run"]).execute()

    assert exited.value.code != 0


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("roster.txt", b"employee_id\n", "is not a CSV or XLSX file"),
        ("roster.xlsx", b"not a zip", "is not an Excel workbook"),
    ],
)
def test_unsupported_file_is_a_command_error(tmp_path, name, data, message):
    path = tmp_path / name
    path.write_bytes(data)

    with pytest.raises(CommandError, match=message):
        run(path)


def test_missing_file_and_bad_effective_date_are_command_errors(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "nope.csv")
    path = tmp_path / "roster.csv"
    path.write_bytes(make_csv(person("E1")))
    with pytest.raises(CommandError, match="not a date; use YYYY-MM-DD"):
        run(path, "--effective-date", "01/03/2025")
    assert not Employee.objects.exists()


def test_the_documented_sample_file_imports_cleanly():
    out, _err = run(SAMPLE)

    assert "10 rows, 10 to create" in out
    leaver = Employee.objects.get(employee_id="E1021")
    assert leaver.left_date == datetime.date(2025, 6, 30)
    assert Employee.objects.get(employee_id="E1012").manager.employee_id == "E1010"
    assert Employee.objects.get(employee_id="E1012").first_name == "Lucas"

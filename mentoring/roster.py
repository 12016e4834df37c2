"""The HRIS roster import: read a CSV/XLSX export, preview it, then apply it atomically.

`roster_preview` reads the file and the directory (a fixed number of queries, whatever the
file's size) and writes nothing. `roster_apply` re-runs the preview inside one transaction
and, when the file is clean, upserts people by employee id (managers may come anywhere in
the file) and records the roster history (EmployeeEvent). Nobody is ever deleted: leavers
get a left date. A blank cell in an optional column keeps the stored value, as a missing
column does. Applying the same file twice changes nothing the second time.

`roster_import_create` / `roster_import_apply` wrap these for the HR console: the upload is
kept in the default storage with its preview, and applied at most once.
"""

from __future__ import annotations

import csv
import datetime
import functools
import itertools
import json
import io
import re
import zipfile
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import validate_email
from django.db import connection, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .auth_policy import user_sessions_end
from .audit import audit_record
from .models import MAX_CHAIN_DEPTH, MAX_LEVEL, AuditEvent, Department, Employee, EmployeeEvent, ErasedIdentity, Role, RosterImport, User


class RosterError(Exception):
    """The file cannot be imported; the message says why in words an HR admin can act on."""


# --- Columns --------------------------------------------------------------------------------

# Canonical column -> accepted header spellings (compared lower-case, with spaces, underscores
# and hyphens collapsed to one space).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "employee_id": ("employee id", "id", "emp id", "employee number"),
    "email": ("email", "work email", "email address", "e mail"),
    "first_name": ("first name", "firstname", "given name"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "name": ("name", "full name"),
    "title": ("title", "job title"),
    "department": ("department", "dept"),
    "level": ("level",),
    "level_label": ("level label", "grade"),
    "manager_id": ("manager id", "manager employee id", "manager"),
    # An HRIS may name the manager by address instead: used where the id is absent or blank.
    "manager_email": ("manager email", "manager e mail", "manager's email", "line manager email", "supervisor email"),
    "location": ("location", "office"),
    "time_zone": ("time zone", "timezone", "tz"),
    "hire_date": ("hire date", "start date"),
    "left_date": ("left date", "leave date", "termination date"),
}
_HEADER_TO_COLUMN = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}

REQUIRED_COLUMNS = ("employee_id", "email", "department", "level")
DATE_COLUMNS = ("hire_date", "left_date")
# Employee fields the import owns, in display order. A column missing from the file leaves
# that field alone for people already in the directory.
FIELDS = (
    "email", "first_name", "last_name", "title", "department", "level", "level_label",
    "manager_id", "location", "time_zone", "hire_date", "left_date",
)
# A blank cell in these columns keeps the stored value (new people get the model's default):
# sparse HRIS exports leave cells empty for what they don't hold, and clearing hire dates or
# time zones on that would damage retention figures and everyone's local times. A blank
# manager_id still means "top of the tree" and a blank left_date "has not left" (which is
# how a leaver rejoins); the required columns must not be blank at all.
KEEP_WHEN_BLANK = ("title", "level_label", "location", "time_zone", "hire_date")
FIELD_LABELS = {
    "employee_id": "employee id", "email": "email", "first_name": "first name", "last_name": "last name",
    "name": "name", "title": "title", "department": "department", "level": "level",
    "level_label": "level label", "manager_id": "manager", "manager_email": "manager's email", "location": "location",
    "time_zone": "time zone", "office_time_zone": "office time zone", "hire_date": "hire date", "left_date": "left date",
}
MAX_LENGTHS = {
    "employee_id": 64, "email": 254, "first_name": 100, "last_name": 100, "title": 200,
    "department": 120, "level_label": 60, "location": 120,
}
# Below this many people with a level, none is called unusual (too few to know the scale).
UNUSUAL_LEVEL_MIN_PEOPLE = 10
MAX_DATA_ROWS = 50_000
MAX_COLUMNS = 200
# Stored in RosterImport.summary; the counts always hold the totals.
SUMMARY_LIST_LIMIT = 500

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls, or a password-protected workbook
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _normalise_header(text) -> str:
    return re.sub(r"[\s_\-]+", " ", str(text or "").strip().lower()).strip()


@functools.cache
def _time_zones() -> dict[str, str]:
    """lower-case name -> IANA name."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


# --- Plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self):
        return f"line {self.line}, {self.column}: {self.message}"


@dataclass
class RosterRow:
    """One valid-looking row. `values` leaves out fields whose column is absent from the file
    and the KEEP_WHEN_BLANK fields whose cell is blank (listed in `blank`)."""

    line: int
    employee_id: str
    values: dict
    blank: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return f"{self.values.get('first_name') or ''} {self.values.get('last_name') or ''}".strip()


@dataclass
class PlannedCreate:
    line: int
    employee_id: str
    name: str
    values: dict
    manager: str = ""  # "Name (id)" for the preview, from the file or the directory


@dataclass
class PlannedUpdate:
    line: int
    employee_id: str
    name: str
    changes: dict  # field -> (old, new)
    pk: int = field(default=0, repr=False)
    user_id: int | None = field(default=None, repr=False)


@dataclass
class LevelChange:
    employee_id: str
    name: str
    from_level: int | None
    to_level: int


@dataclass
class Leaver:
    employee_id: str
    name: str
    left_date: datetime.date
    is_new: bool = False
    live_pairs: int = 0  # that end when the leaving is recorded
    roles: tuple[str, ...] = ()  # HR admin / executive roles taken away with it


@dataclass
class Rejoiner:
    employee_id: str
    name: str
    previous_left_date: datetime.date


@dataclass
class RosterPlan:
    filename: str
    file_format: str
    row_count: int = 0
    columns: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    errors: list[RowError] = field(default_factory=list)
    creates: list[PlannedCreate] = field(default_factory=list)
    updates: list[PlannedUpdate] = field(default_factory=list)
    level_changes: list[LevelChange] = field(default_factory=list)
    leavers: list[Leaver] = field(default_factory=list)
    rejoiners: list[Rejoiner] = field(default_factory=list)
    erased_lines: list[int] = field(default_factory=list)  # rows of erased people, left out
    # Employee id -> "Name (id)" for the managers in planned changes: the preview names them.
    manager_labels: dict[str, str] = field(default_factory=dict)
    unchanged: int = 0
    not_in_file: int = 0
    not_in_file_people: list[tuple[str, str]] = field(default_factory=list)
    # Warnings, not errors: departments the import creates as (name, people in the file), and
    # field -> how many people keep a stored value because their cell is blank.
    new_departments: list[tuple[str, int]] = field(default_factory=list)
    kept_blank: dict[str, int] = field(default_factory=dict)
    # People whose file time zone differs from the one they chose themselves (kept).
    kept_chosen: int = 0
    # Left dates after the import's day, as (employee id, name, date): not written yet (a
    # leaver loses their login and their pairs end), recorded by an import on or after it.
    leaving_later: list[tuple[str, str, datetime.date]] = field(default_factory=list)
    # New or changed levels far above everyone else's, as (employee id, name, level, usual top
    # level): likely typos, shown but not refused (see _unusual_levels).
    unusual_levels: list[tuple[str, str, int, int]] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    @property
    def has_changes(self) -> bool:
        return bool(self.creates or self.updates)

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.row_count,
            "errors": len(self.errors),
            "creates": len(self.creates),
            "updates": len(self.updates),
            "level_changes": len(self.level_changes),
            "leavers": len(self.leavers),
            "rejoiners": len(self.rejoiners),
            "unchanged": self.unchanged,
            "not_in_file": self.not_in_file,
            "new_departments": len(self.new_departments),
            "erased": len(self.erased_lines),
        }

    def to_summary(self) -> dict:
        """A JSON-able digest for RosterImport.summary (lists capped, counts complete)."""
        limit = SUMMARY_LIST_LIMIT
        return {
            "version": 1,
            "filename": self.filename,
            "format": self.file_format,
            "columns": list(self.columns),
            "ignored_columns": list(self.ignored_columns),
            "counts": self.counts(),
            "errors": [{"line": e.line, "column": e.column, "message": e.message} for e in self.errors[:limit]],
            "creates": [
                {
                    "line": c.line,
                    "employee_id": c.employee_id,
                    "name": c.name,
                    "email": c.values.get("email") or "",
                    "department": c.values.get("department") or "",
                    "level": c.values.get("level"),
                    "manager_id": c.values.get("manager_id") or "",
                    "manager": c.manager,
                }
                for c in self.creates[:limit]
            ],
            "updates": [
                {
                    "line": u.line,
                    "employee_id": u.employee_id,
                    "name": u.name,
                    "changes": [
                        {"field": FIELD_LABELS[f], "old": _display(self.manager_labels.get(old, old) if f == "manager_id" else old), "new": _display(self.manager_labels.get(new, new) if f == "manager_id" else new)}
                        for f, (old, new) in u.changes.items()
                    ],
                }
                for u in self.updates[:limit]
            ],
            "level_changes": [
                {"employee_id": c.employee_id, "name": c.name, "from": c.from_level, "to": c.to_level} for c in self.level_changes[:limit]
            ],
            "leavers": [
                {"employee_id": c.employee_id, "name": c.name, "left_date": c.left_date.isoformat(), "is_new": c.is_new, "live_pairs": c.live_pairs, "roles": list(c.roles)}
                for c in self.leavers[:limit]
            ],
            "rejoiners": [
                {"employee_id": c.employee_id, "name": c.name, "previous_left_date": c.previous_left_date.isoformat()}
                for c in self.rejoiners[:limit]
            ],
            "not_in_file": [{"employee_id": eid, "name": name} for eid, name in self.not_in_file_people[:limit]],
            "new_departments": [{"name": name, "people": people} for name, people in self.new_departments[:limit]],
            "blank_keeps": bool(set(self.columns) & set(KEEP_WHEN_BLANK)),
            "kept_blank": [{"field": FIELD_LABELS[name], "count": self.kept_blank[name]} for name in FIELDS if name in self.kept_blank],
            "kept_chosen": self.kept_chosen,
            "leaving_later": [{"employee_id": eid, "name": name, "left_date": left.isoformat()} for eid, name, left in self.leaving_later[:limit]],
            # Line numbers only: the preview must not hold the erased person's name again.
            "erased_lines": self.erased_lines[:limit],
            "unusual_levels": [
                {"employee_id": eid, "name": name, "level": level, "usual_top": top} for eid, name, level, top in self.unusual_levels[:limit]
            ],
        }


def _display(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


# --- Reading the file -------------------------------------------------------------------------


def _check_size(data: bytes, filename: str) -> None:
    if not data:
        raise RosterError(_("“%(name)s” is empty.") % {"name": filename})
    limit = settings.ROSTER_IMPORT_MAX_BYTES
    if len(data) > limit:
        raise RosterError(
            _("“%(name)s” is %(size)s; the limit is %(limit)s. Split the roster or remove unused columns.")
            % {"name": filename, "size": filesizeformat(len(data)), "limit": filesizeformat(limit)}
        )


def read_table(*, data: bytes, filename: str) -> tuple[str, list[tuple[int, list]]]:
    """("csv" | "xlsx", [(line number, [cell, ...]), ...]) with blank rows left out.

    The format must agree with both the file name and the content, so a renamed file gets a
    message that says what it really is.
    """
    _check_size(data, filename)
    suffix = PurePath(filename).suffix.lower()
    looks_like_zip = data.startswith(XLSX_MAGIC)
    if suffix == ".xlsx":
        if not looks_like_zip:
            raise RosterError(
                _("“%(name)s” is named .xlsx but is not an Excel workbook. Save it from Excel as “Excel Workbook (.xlsx)” or as “CSV UTF-8”.")
                % {"name": filename}
            )
        return "xlsx", _read_xlsx(data, filename)
    if suffix == ".csv":
        if looks_like_zip:
            raise RosterError(
                _("“%(name)s” is an Excel workbook saved with a .csv name. Rename it to .xlsx, or export it as “CSV UTF-8”.") % {"name": filename}
            )
        if data.startswith(OLE_MAGIC):
            raise RosterError(
                _("“%(name)s” is an old-style or password-protected Excel file, not a CSV. Export it as “CSV UTF-8” or save it as .xlsx without a password.")
                % {"name": filename}
            )
        return "csv", _read_csv(data, filename)
    if suffix == ".xls" or data.startswith(OLE_MAGIC):
        raise RosterError(
            _("“%(name)s” is an old-style Excel file (.xls). Save it as “Excel Workbook (.xlsx)” or “CSV UTF-8” and upload that.") % {"name": filename}
        )
    raise RosterError(_("“%(name)s” is not a CSV or XLSX file. Export the roster from your HRIS as CSV or Excel (.xlsx).") % {"name": filename})


def _decode(data: bytes, filename: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    elif b"\x00" not in data:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                return data.decode("cp1252")
            except UnicodeDecodeError:
                pass
    raise RosterError(
        _("“%(name)s” is not a readable text file. Export the roster as “CSV UTF-8”, or upload the Excel workbook (.xlsx).") % {"name": filename}
    )


def _read_csv(data: bytes, filename: str) -> list[tuple[int, list]]:
    text = _decode(data, filename)
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise RosterError(_("“%(name)s” has no rows.") % {"name": filename})
    skip_lines = 0
    header_line = lines[first]
    # Excel writes "sep=;" as the first line when asked to keep a non-default separator.
    if header_line.lower().startswith("sep=") and len(header_line.strip()) == 5:
        delimiter = header_line.strip()[4]
        skip_lines = first + 1
    else:
        counts = {d: header_line.count(d) for d in (",", ";", "\t")}
        delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list]] = []
    previous_line = 0
    try:
        for cells in reader:
            line, previous_line = previous_line + 1, reader.line_num
            if line <= skip_lines:
                continue
            cells = [c.strip() for c in cells]
            if any(cells):
                rows.append((line, cells))
                if len(rows) > MAX_DATA_ROWS + 1:
                    raise RosterError(_("“%(name)s” has more than %(max)d rows; split it into smaller files.") % {"name": filename, "max": MAX_DATA_ROWS})
    except csv.Error as exc:
        raise RosterError(_("Line %(line)d of “%(name)s” cannot be read as CSV (%(error)s).") % {"line": reader.line_num, "name": filename, "error": exc})
    return rows


def _xlsx_cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date() if value.time() == datetime.time(0) else value
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(data: bytes, filename: str) -> list[tuple[int, list]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise RosterError(
            _("“%(name)s” cannot be opened as an Excel workbook (%(error)s). Save it again from Excel, or export it as “CSV UTF-8”.")
            % {"name": filename, "error": exc.__class__.__name__}
        ) from exc
    try:
        if not workbook.worksheets:
            raise RosterError(_("“%(name)s” has no sheets.") % {"name": filename})
        sheet = workbook.worksheets[0]
        # Exporters often write a wrong sheet size, and read-only mode would trust it and
        # silently drop the rows past it.
        sheet.reset_dimensions()
        rows: list[tuple[int, list]] = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_xlsx_cell(v) for v in values[:MAX_COLUMNS]]
            if any(c != "" for c in cells):
                rows.append((line, cells))
                if len(rows) > MAX_DATA_ROWS + 1:
                    raise RosterError(_("“%(name)s” has more than %(max)d rows; split it into smaller files.") % {"name": filename, "max": MAX_DATA_ROWS})
        return rows
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise RosterError(
            _("“%(name)s” cannot be read as an Excel workbook (%(error)s). Save it again from Excel, or export it as “CSV UTF-8”.")
            % {"name": filename, "error": exc.__class__.__name__}
        ) from exc
    finally:
        workbook.close()


# --- Checking rows ------------------------------------------------------------------------------


def _map_header(cells: list) -> tuple[dict[str, int], dict[str, str], list[str], list[RowError]]:
    """(column -> index, column -> header as written, ignored headers, header errors)."""
    index: dict[str, int] = {}
    written: dict[str, str] = {}
    ignored: list[str] = []
    errors: list[RowError] = []
    for i, cell in enumerate(cells):
        text = str(cell).strip()
        if not text:
            continue
        column = _HEADER_TO_COLUMN.get(_normalise_header(text))
        if column is None:
            ignored.append(text)
        elif column in index:
            errors.append(
                RowError(1, text, _("Column “%(a)s” and column “%(b)s” both hold the %(what)s; keep one.")
                         % {"a": written[column], "b": text, "what": FIELD_LABELS[column]})
            )
        else:
            index[column] = i
            written[column] = text
    missing = [c for c in REQUIRED_COLUMNS if c not in index]
    if not ("first_name" in index and "last_name" in index) and "name" not in index:
        missing += [c for c in ("first_name", "last_name") if c not in index]
    for column in missing:
        errors.append(
            RowError(1, FIELD_LABELS[column], _("The required column “%(column)s” is missing. Required columns: %(required)s.")
                     % {"column": column, "required": "employee_id, email, first_name, last_name (or name), department, level"})
        )
    return index, written, ignored, errors


def _parse_date(value) -> datetime.date | None | str:
    """A date, None for blank, or the string "bad"."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    # Spreadsheets often write midnight after a date that went through a datetime cell.
    text = re.sub(r"[T ]00:00(:00)?$", "", text)
    if not ISO_DATE.match(text):
        return "bad"
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return "bad"


def _check_row(line: int, cells: list, index: dict[str, int], written: dict[str, str]) -> tuple[RosterRow | None, list[RowError]]:
    errors: list[RowError] = []

    def raw(column):
        i = index.get(column)
        if i is None or i >= len(cells):
            return "" if i is not None else None
        return cells[i]

    def text(column) -> str | None:
        value = raw(column)
        if value is None:
            return None
        if isinstance(value, datetime.date):
            value = value.isoformat()
        return re.sub(r"\s+", " ", str(value)).strip()

    def error(column, message):
        errors.append(RowError(line, written.get(column, FIELD_LABELS[column]), message))

    values: dict = {}
    employee_id = text("employee_id")
    if not employee_id:
        error("employee_id", _("The employee id is empty."))

    email = text("email")
    if not email:
        error("email", _("The email is empty."))
    else:
        email = email.lower()
        try:
            validate_email(email)
        except ValidationError:
            error("email", _("“%(value)s” is not a valid email address.") % {"value": email})
    values["email"] = email

    if "first_name" in index and "last_name" in index:
        first, last = text("first_name"), text("last_name")
        if not first:
            error("first_name", _("The first name is empty."))
        if not last:
            error("last_name", _("The last name is empty."))
    else:
        full = text("name")
        first, _sep, last = (full or "").rpartition(" ")
        if not full:
            error("name", _("The name is empty."))
        elif not first:
            error("name", _("“%(value)s” needs a first and a last name separated by a space.") % {"value": full})
    values["first_name"], values["last_name"] = first, last

    department = text("department")
    if not department:
        error("department", _("The department is empty."))
    values["department"] = department

    level_text = text("level")
    level = None
    if not level_text:
        error("level", _("The level is empty."))
    else:
        # "4" or "4.0" (a spreadsheet's number), but not "4.5", "-1" or "L4".
        whole = re.fullmatch(r"(\d+)(?:\.0*)?", level_text, flags=re.ASCII)
        if whole is None:
            error("level", _("Level “%(value)s” is not a whole number of 0 or more (like 3).") % {"value": level_text})
        elif int(whole[1]) > MAX_LEVEL:
            error("level", _("Level %(value)s is too high (the most is %(max)d).") % {"value": level_text, "max": MAX_LEVEL})
        else:
            level = int(whole[1])
    values["level"] = level

    blank: set[str] = set()
    for column in ("title", "level_label", "location"):
        if column in index:
            if value := text(column):
                values[column] = value
            else:
                blank.add(column)

    if "manager_id" in index or "manager_email" in index:
        values["manager_id"] = (text("manager_id") if "manager_id" in index else None) or (text("manager_email") if "manager_email" in index else None) or None
        if employee_id and values["manager_id"] == employee_id:
            error("manager_id", _("%(id)s is listed as their own manager.") % {"id": employee_id})

    if "time_zone" in index:
        tz = text("time_zone")
        if not tz:
            blank.add("time_zone")
        elif tz.lower() in _time_zones():
            values["time_zone"] = _time_zones()[tz.lower()]
        else:
            error("time_zone", _("“%(value)s” is not a known time zone; use a name like Europe/Paris or America/New_York.") % {"value": tz})

    for column in DATE_COLUMNS:
        if column in index:
            value = _parse_date(raw(column))
            if value == "bad":
                error(column, _("“%(value)s” is not a date; write dates as YYYY-MM-DD (like 2024-03-31).") % {"value": text(column)})
            elif value is None and column in KEEP_WHEN_BLANK:
                blank.add(column)
            else:
                values[column] = value
    hire, left = values.get("hire_date"), values.get("left_date")
    if hire and left and left < hire:
        error("left_date", _("The left date %(left)s is before the hire date %(hire)s.") % {"left": left.isoformat(), "hire": hire.isoformat()})

    lengths = {**values, "employee_id": employee_id}
    for column, limit in MAX_LENGTHS.items():
        if len(lengths.get(column) or "") > limit:
            # First and last names may have come from a single `name` column.
            where = column if column in index else "name"
            error(where, _("The %(what)s is longer than %(max)d characters.") % {"what": FIELD_LABELS[column], "max": limit})

    return (RosterRow(line, employee_id, values, blank) if employee_id else None), errors


def _check_dates_against_directory(row: RosterRow, person: dict | None, written: dict[str, str]) -> list[RowError]:
    """A left date before the hire date, when one of the two is the directory's, kept because
    the file has no value for it (the row check already compared two dates from the file)."""
    if person is None or ("hire_date" in row.values and "left_date" in row.values):
        return []
    hire = row.values.get("hire_date", person["hire_date"])
    left = row.values.get("left_date", person["left_date"])
    if not (hire and left and left < hire):
        return []
    dates = {"left": left.isoformat(), "hire": hire.isoformat()}
    if "left_date" in row.values:
        return [RowError(row.line, written["left_date"], _("The left date %(left)s is before the hire date %(hire)s in the directory "
                                                           "(a blank hire date keeps the directory's).") % dates)]
    return [RowError(row.line, written["hire_date"], _("The hire date %(hire)s is after the left date %(left)s in the directory.") % dates)]


def _directory_snapshot() -> tuple[dict[str, dict], dict[str, str]]:
    """Everyone in the directory keyed by employee id, and department names by lower-case name.

    Two queries, whatever the size of the file or the directory.
    """
    people = {
        row["employee_id"]: row
        for row in Employee.objects.values(
            "pk", "employee_id", "email", "first_name", "last_name", "title", "department__name", "level",
            "level_label", "manager__employee_id", "location", "time_zone", "hire_date", "left_date", "user_id",
            "time_zone_chosen", "office_time_zone", "erased_at",
        )
    }
    departments = {name.lower(): name for name in Department.objects.values_list("name", flat=True)}
    return people, departments


def _existing_value(person: dict, name: str):
    key = {"department": "department__name", "manager_id": "manager__employee_id"}.get(name, name)
    return person[key]


def _person_label(employee_id: str, rows: dict[str, RosterRow], people: dict[str, dict]) -> str:
    if employee_id in rows and rows[employee_id].name:
        return f"{rows[employee_id].name} ({employee_id})"
    if employee_id in people:
        person = people[employee_id]
        return f"{person['first_name']} {person['last_name']} ({employee_id})"
    return employee_id


def _leave_erased_out(rows: dict[str, RosterRow], errors: list[RowError]) -> tuple[list[int], list[RowError]]:
    """Rows of people erased from Upward (their employee id or address matches an erased
    identity's fingerprint) are left out, by line number only: importing them would bring the
    person back under their name. Someone else's manager given as an erased person's id or
    address points at the erased record, as the directory already does."""
    erased = dict(ErasedIdentity.objects.values_list("digest", "employee__employee_id"))
    if not erased:
        return [], errors

    def erased_id(kind: str, value) -> str | None:
        if not value:
            return None
        return next((erased[d] for d in ErasedIdentity.digests_of(kind, value) if d in erased), None)

    lines = []
    for eid, row in list(rows.items()):
        if erased_id("employee_id", eid) or erased_id("email", row.values.get("email")):
            lines.append(row.line)
            del rows[eid]
    for row in rows.values():
        manager = row.values.get("manager_id")
        if manager and (now := erased_id("email" if "@" in manager else "employee_id", manager)):
            row.values["manager_id"] = now
    skipped = set(lines)
    return sorted(lines), [e for e in errors if e.line not in skipped]


def _managers_by_email(rows: dict[str, RosterRow], email_owner: dict[str, str], manager_written: str) -> list[RowError]:
    """A manager given by email address becomes their employee id: someone in this file by
    that address first, else the directory's. An address nobody has is an error here."""
    in_file = {row.values["email"]: eid for eid, row in rows.items() if row.values.get("email")}
    errors = []
    for row in rows.values():
        manager = row.values.get("manager_id")
        if not manager or "@" not in manager:
            continue
        eid = in_file.get(manager.lower()) or email_owner.get(manager.lower())
        if eid is None:
            errors.append(RowError(row.line, manager_written, _("Manager “%(email)s”: nobody in this file or in the directory has that email address.") % {"email": manager}))
            del row.values["manager_id"]  # reported once, not again as an unknown id
        elif eid == row.employee_id:
            # Checked here, not with the ids in _check_row: the address was not an id yet.
            errors.append(RowError(row.line, manager_written, _("“%(email)s” is this person's own address: someone cannot be their own manager.") % {"email": manager}))
            del row.values["manager_id"]
        else:
            row.values["manager_id"] = eid
    return errors


def _check_reporting_lines(rows: dict[str, RosterRow], people: dict[str, dict], manager_written: str) -> list[RowError]:
    """Unknown managers, cycles and over-deep chains, on the directory as it would be after the import."""
    errors: list[RowError] = []
    manager_of: dict[str, str | None] = {eid: p["manager__employee_id"] for eid, p in people.items()}
    for eid, row in rows.items():
        if "manager_id" not in row.values:
            manager_of.setdefault(eid, None)
            continue
        manager_id = row.values["manager_id"]
        if manager_id is not None and manager_id != eid and manager_id not in rows and manager_id not in people:
            errors.append(RowError(row.line, manager_written, _("Manager “%(id)s” is neither in this file nor in the directory.") % {"id": manager_id}))
            manager_id = None
        manager_of[eid] = None if manager_id == eid else manager_id

    # Each person has at most one manager, so following the links from anyone either reaches
    # the top of the tree or runs into a loop.
    depth: dict[str, int] = {}
    in_cycle: set[str] = set()
    for start in rows:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node = start
        while node is not None and node not in depth and node not in in_cycle and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = manager_of.get(node)
        if node is not None and node in on_path:
            cycle = path[on_path[node]:]
            in_cycle.update(cycle)
            path = path[: on_path[node]]
            node_depth = None
            file_members = [eid for eid in cycle if eid in rows]
            if file_members:
                # Every row of the loop gets the same message: any of them may be the one to fix,
                # and none of them may look like a clean new person in the preview.
                first = min(file_members, key=lambda eid: rows[eid].line)
                at = cycle.index(first)
                ordered = cycle[at:] + cycle[:at] + [first]
                message = _("Manager cycle: %(chain)s. Someone in this loop needs a manager outside it, or none.") % {
                    "chain": " → ".join(_person_label(eid, rows, people) for eid in ordered)
                }
                errors += [RowError(rows[eid].line, manager_written, message) for eid in file_members]
        elif node is None:
            node_depth = -1  # above the top of the tree
        elif node in in_cycle:
            node_depth = None
        else:
            node_depth = depth[node]
        for eid in reversed(path):
            if node_depth is None:
                in_cycle.add(eid)  # below a loop: not an error of its own, but has no depth
                continue
            node_depth += 1
            depth[eid] = node_depth
    for eid, row in rows.items():
        if depth.get(eid, 0) > MAX_CHAIN_DEPTH:
            errors.append(
                RowError(row.line, manager_written, _("%(person)s has more than %(max)d managers above them; the reporting line is too deep.")
                         % {"person": _person_label(eid, rows, people), "max": MAX_CHAIN_DEPTH})
            )
    return errors


def roster_preview(*, data: bytes, filename: str, today: datetime.date | None = None) -> RosterPlan:
    """What importing this file would do on `today` (the import's effective day). Writes
    nothing; raises RosterError for an unreadable file."""
    today = today or timezone.localdate()
    file_format, table = read_table(data=data, filename=filename)
    if not table:
        raise RosterError(_("“%(name)s” has no rows.") % {"name": filename})
    (header_line, header), body = table[0], table[1:]
    index, written, ignored, header_errors = _map_header(header)
    plan = RosterPlan(filename=filename, file_format=file_format, row_count=len(body), columns=tuple(index), ignored_columns=tuple(ignored))
    if header_errors:
        plan.errors = [RowError(header_line, e.column, e.message) for e in header_errors]
        return plan
    if not body:
        raise RosterError(_("“%(name)s” has a header row but no people in it.") % {"name": filename})

    people, departments = _directory_snapshot()
    errors: list[RowError] = []
    rows: dict[str, RosterRow] = {}
    email_lines: dict[str, int] = {}
    email_owner = {p["email"].lower(): eid for eid, p in people.items()}
    for line, cells in body:
        row, row_errors = _check_row(line, cells, index, written)
        errors += row_errors
        if row is None:
            continue
        if not row_errors:
            errors += _check_dates_against_directory(row, people.get(row.employee_id), written)
        if row.employee_id in rows:
            errors.append(RowError(line, written["employee_id"], _("Employee id %(id)s is on line %(first)d and again on line %(line)d.")
                                   % {"id": row.employee_id, "first": rows[row.employee_id].line, "line": line}))
            continue
        email = row.values["email"]
        if email and not any(e.column == written["email"] for e in row_errors):
            if email in email_lines:
                errors.append(RowError(line, written["email"], _("Email %(email)s is on line %(first)d and again on line %(line)d.")
                                       % {"email": email, "first": email_lines[email], "line": line}))
            else:
                email_lines[email] = line
                owner = email_owner.get(email)
                if owner is not None and owner != row.employee_id:
                    errors.append(RowError(line, written["email"], _("Email %(email)s belongs to %(person)s in the directory, not to %(id)s.")
                                           % {"email": email, "person": _person_label(owner, {}, people), "id": row.employee_id}))
        rows[row.employee_id] = row
    plan.erased_lines, errors = _leave_erased_out(rows, errors)
    manager_written = written.get("manager_id") or written.get("manager_email") or "manager_id"
    errors += _managers_by_email(rows, email_owner, manager_written)
    errors += _check_reporting_lines(rows, people, manager_written)
    plan.errors = sorted(errors, key=lambda e: e.line)

    # Department names match case-insensitively; the directory's spelling wins, and among new
    # names the file's first spelling. A new one is legitimate but may be a typo: HR sees it.
    existing_departments = set(departments)
    new_departments: dict[str, int] = defaultdict(int)
    for row in rows.values():
        if row.values.get("department"):
            key = row.values["department"].lower()
            row.values["department"] = departments.setdefault(key, row.values["department"])
            if key not in existing_departments:
                new_departments[row.values["department"]] += 1
    plan.new_departments = sorted(new_departments.items(), key=lambda item: item[0].lower())

    # A left date still to come (HRIS exports carry notice periods) is not a leaving yet:
    # writing it now would end the person's login and pairs weeks early. It is left out of
    # this import and shown; an import on or after the date records it.
    for row in rows.values():
        left = row.values.get("left_date")
        if left and left > today:
            del row.values["left_date"]
            plan.leaving_later.append((row.employee_id, row.name, left))
    plan.leaving_later.sort(key=lambda item: (item[2], item[1]))

    # The changes the clean rows would make (a file with errors cannot be applied, but the
    # preview still shows them).
    bad_lines = {e.line for e in plan.errors}
    file_ids = set(rows)
    for row in rows.values():
        if row.line in bad_lines:
            continue
        person = people.get(row.employee_id)
        if person is None:
            manager_id = row.values.get("manager_id") or ""
            plan.creates.append(PlannedCreate(row.line, row.employee_id, row.name, row.values, _person_label(manager_id, rows, people) if manager_id else ""))
            if row.values.get("left_date"):
                plan.leavers.append(Leaver(row.employee_id, row.name, row.values["left_date"], is_new=True))
            continue
        for name in row.blank:
            if _existing_value(person, name) not in (None, ""):
                plan.kept_blank[name] = plan.kept_blank.get(name, 0) + 1
        changes = {}
        for name in FIELDS:
            if name not in row.values:
                continue
            old, new = _existing_value(person, name), row.values[name]
            if old != new and not (old in (None, "") and new in (None, "")):
                changes[name] = (old, new)
        if person["time_zone_chosen"] and "time_zone" in row.values:
            # The person chose their own zone in Upward: it stays; the directory's is kept
            # aside as their office's, for when they go back to it (even when it now equals
            # the chosen one: they moved there).
            if changes.pop("time_zone", None):
                plan.kept_chosen += 1
            office = row.values["time_zone"]
            if office != person["office_time_zone"]:
                changes["office_time_zone"] = (person["office_time_zone"], office)
        if not changes:
            plan.unchanged += 1
            continue
        plan.updates.append(PlannedUpdate(row.line, row.employee_id, row.name, changes, pk=person["pk"], user_id=person["user_id"]))
        for manager in changes.get("manager_id", ()):
            if manager:
                plan.manager_labels[manager] = _person_label(manager, rows, people)
        if "level" in changes:
            plan.level_changes.append(LevelChange(row.employee_id, row.name, *changes["level"]))
        if "left_date" in changes:
            old_left, new_left = changes["left_date"]
            if old_left is None:
                plan.leavers.append(Leaver(row.employee_id, row.name, new_left))
            elif new_left is None:
                plan.rejoiners.append(Rejoiner(row.employee_id, row.name, old_left))
    absent = sorted(
        ((eid, f"{p['first_name']} {p['last_name']}") for eid, p in people.items() if eid not in file_ids and p["left_date"] is None and p["erased_at"] is None),
        key=lambda item: item[1],
    )
    plan.not_in_file = len(absent)
    plan.not_in_file_people = absent[:SUMMARY_LIST_LIMIT]
    plan.errors += _sign_in_address_clashes(plan, written.get("email", "email"))
    plan.unusual_levels = _unusual_levels(plan, rows, people)
    _what_leaving_ends(plan)
    plan.errors += _last_hr_admins_leaving(plan, rows, written.get("left_date", "left_date"))
    plan.errors.sort(key=lambda e: e.line)
    return plan


def _what_leaving_ends(plan: RosterPlan) -> None:
    """Per leaver already in the directory: their live pairs (they end, partners are told) and
    the roles they lose, for HR to see before applying. Two queries, whatever the count."""
    known = [leaver for leaver in plan.leavers if not leaver.is_new]
    if not known:
        return
    from django.db.models import Q  # noqa: PLC0415
    from pairing.models import Pair  # noqa: PLC0415 - pairing depends on this app

    from .services import LEAVER_REVOKED_ROLES  # noqa: PLC0415 - services imports this module

    ids = [leaver.employee_id for leaver in known]
    pairs: dict[str, int] = defaultdict(int)
    live = Pair.objects.filter(Q(mentor__employee__employee_id__in=ids) | Q(mentee__employee__employee_id__in=ids), status__in=(Pair.Status.ACTIVE, Pair.Status.PAUSED))
    for mentor_eid, mentee_eid in live.values_list("mentor__employee__employee_id", "mentee__employee__employee_id"):
        for eid in {mentor_eid, mentee_eid} & set(ids):
            pairs[eid] += 1
    roles: dict[str, list[str]] = defaultdict(list)
    for eid, role in Employee.objects.filter(employee_id__in=ids, user__groups__name__in=LEAVER_REVOKED_ROLES).values_list("employee_id", "user__groups__name"):
        roles[eid].append(str(Role(role).label))
    for leaver in known:
        leaver.live_pairs = pairs.get(leaver.employee_id, 0)
        leaver.roles = tuple(sorted(roles[leaver.employee_id]))


def _sign_in_address_clashes(plan: RosterPlan, column: str) -> list[RowError]:
    """A new address in the directory becomes the person's sign-in address (roster_apply):
    one that is already another login's (its address, or one of its confirmed addresses)
    cannot."""
    from allauth.account.models import EmailAddress  # noqa: PLC0415

    moved = {u.user_id: u for u in plan.updates if u.user_id and "email" in u.changes}
    if not moved:
        return []
    wanted = [u.changes["email"][1] for u in moved.values()]
    taken = set(User.objects.filter(email__in=wanted).exclude(pk__in=moved).values_list("email", flat=True))
    taken |= {e.lower() for e in EmailAddress.objects.filter(email__in=wanted, verified=True).exclude(user_id__in=moved).values_list("email", flat=True)}
    return [
        RowError(u.line, column, _("%(email)s is already the sign-in address of another Upward account, so %(name)s could not sign in with it. Ask your Upward administrator to close or rename that account, then import again.")
                 % {"email": u.changes["email"][1], "name": u.name})
        for u in moved.values()
        if u.changes["email"][1] in taken
    ]


def _sign_in_addresses_follow(moved: dict[int, tuple[str, str]]) -> None:
    """The directory owns each person's address (nobody changes their own in Upward): a new
    one in the roster is their sign-in address from now on, verified (the company vouches for
    it, as for SSO), and the only one on their login: a password reset or a confirmation code
    goes there, not to the address they had before.  The old address is told, in this
    transaction (the outbox), so that a change nobody asked for does not go unnoticed."""
    from allauth.account.models import EmailAddress  # noqa: PLC0415

    from .mail import render_templated  # noqa: PLC0415

    users = User.objects.in_bulk(list(moved))
    told = {pk: sorted({moved[pk][0], user.email} - {moved[pk][1], ""}) for pk, user in users.items()}  # where resets went until now
    for pk, user in users.items():
        user.email = moved[pk][1]
    User.objects.bulk_update(list(users.values()), ["email"], batch_size=500)
    EmailAddress.objects.filter(user_id__in=list(users)).delete()
    EmailAddress.objects.bulk_create([EmailAddress(user_id=pk, email=moved[pk][1], verified=True, primary=True) for pk in users], batch_size=500)
    now = timezone.now()
    for employee in Employee.objects.filter(user_id__in=list(users)):
        if told[employee.user_id]:
            message = render_templated(to=employee, template="mentoring/email/sign_in_address_changed", context={"new_email": moved[employee.user_id][1], "when": now})
            message.to = told[employee.user_id]
            message.send()


def _last_hr_admins_leaving(plan: RosterPlan, rows: dict[str, RosterRow], column: str) -> list[RowError]:
    """A file that makes every active HR admin a leaver would close the last HR login (a
    leaver's account is closed on import): nobody could administer Upward, nor undo it. The
    same rule as taking the role away by hand."""
    leaving = {leaver.employee_id for leaver in plan.leavers}
    if not leaving:
        return []
    from .services import active_hr_admins  # noqa: PLC0415 - services imports this module

    admins = list(active_hr_admins().values_list("employee__employee_id", "full_name"))
    if not admins or any(eid not in leaving for eid, _name in admins):
        return []
    return [
        RowError(rows[eid].line, column, _("%(name)s is the last active HR admin: as a leaver they could no longer sign in, and nobody could administer Upward. Make another person HR admin first.") % {"name": name or eid})
        for eid, name in admins
    ]


def _unusual_levels(plan: RosterPlan, rows: dict[str, RosterRow], people: dict[str, dict]) -> list[tuple[str, str, int, int]]:
    """New or changed levels far above the directory's, as (employee id, name, level, usual top).

    A typo such as 77 for 7 is a valid number but makes that person the most senior in the
    company: eligible as a mentee everywhere and past every seniority gap. The usual top is
    the 95th percentile of the levels this import leaves alone (so the few at the very top
    are not flagged, nor are the typos their own yardstick); when the import sets most
    levels (a first import, a company moving to a new scale), of all levels after it.
    """
    candidates = [(c.employee_id, c.name, c.values.get("level")) for c in plan.creates]
    candidates += [(c.employee_id, c.name, c.to_level) for c in plan.level_changes]
    candidates = [item for item in candidates if item[2] is not None]
    moving = {eid for eid, _name, _level in candidates}
    after = {eid: row.values["level"] for eid, row in rows.items() if row.values.get("level") is not None}
    after |= {eid: p["level"] for eid, p in people.items() if eid not in rows and p["left_date"] is None and p["erased_at"] is None and p["level"] is not None}
    levels = sorted(level for eid, level in after.items() if eid not in moving)
    if len(levels) < UNUSUAL_LEVEL_MIN_PEOPLE:
        levels = sorted(after.values())
    if len(levels) < UNUSUAL_LEVEL_MIN_PEOPLE:
        return []
    usual_top = levels[(len(levels) - 1) * 95 // 100]
    ceiling = usual_top + max(3, usual_top // 2)
    return sorted(
        ((eid, name, level, usual_top) for eid, name, level in candidates if level > ceiling),
        key=lambda item: (-item[2], item[1]),
    )


# --- Applying -------------------------------------------------------------------------------------

# One roster import at a time (two imports racing could both create the same person).
_ROSTER_LOCK_KEY = 0x5570_726F  # "Upro"


def _lock_roster() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ROSTER_LOCK_KEY])
    # SQLite: the IMMEDIATE transaction already holds the database's only write lock.


def _manager_first_layers(creates: list[PlannedCreate]) -> list[list[PlannedCreate]]:
    """New people grouped so that each group's managers are in earlier groups or already exist."""
    new = {c.employee_id: c for c in creates}
    depth: dict[str, int] = {}
    for create in creates:
        path = []
        eid = create.employee_id
        while eid in new and eid not in depth:
            path.append(eid)
            eid = new[eid].values.get("manager_id")
        base = depth.get(eid, -1)
        for i, person in enumerate(reversed(path), start=1):
            depth[person] = base + i
    layers: list[list[PlannedCreate]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for create in creates:
        layers[depth[create.employee_id]].append(create)
    return layers


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _error_message(plan: RosterPlan) -> str:
    first = plan.errors[0]
    return ngettext(
        "The file has %(count)d error, so nothing was imported (line %(line)d, %(column)s: %(message)s).",
        "The file has %(count)d errors, so nothing was imported (the first: line %(line)d, %(column)s: %(message)s).",
        len(plan.errors),
    ) % {"count": len(plan.errors), "line": first.line, "column": first.column, "message": first.message}


@transaction.atomic
def roster_apply(
    *,
    data: bytes,
    filename: str,
    effective_date: datetime.date | None = None,
    roster_import: RosterImport | None = None,
    by: User | None = None,
    previewed: dict | None = None,
) -> RosterPlan:
    """Import the file: upsert by employee id, set managers, record the roster history.

    Raises RosterError (and writes nothing) when the file has any error, or when
    ``previewed`` (the summary HR read) is no longer what the file would do.
    """
    _lock_roster()
    # Taking the HR admin role away by hand locks this row to count the admins left: an import
    # that makes one a leaver counts after it (or before), never beside it.
    from django.contrib.auth.models import Group  # noqa: PLC0415

    from .services import role_group  # noqa: PLC0415 - services imports this module

    Group.objects.select_for_update().filter(pk=role_group(Role.HR_ADMIN).pk).first()
    today = effective_date or timezone.localdate()
    plan = roster_preview(data=data, filename=filename, today=today)
    if plan.errors:
        raise RosterError(_error_message(plan))
    if previewed is not None and json.loads(json.dumps(plan.to_summary(), cls=DjangoJSONEncoder)) != previewed:
        # Another import or an edit since the preview: HR approved what the page showed, not this.
        raise RosterError(_("The directory has changed since this preview, so the file would now do something else. The preview is up to date again: check it and apply."))
    mine = getattr(getattr(by, "employee", None), "employee_id", None)
    if mine is not None and any(leaver.employee_id == mine for leaver in plan.leavers):
        # Their login would close (and their session end) in the middle of their own request.
        raise RosterError(_("This file makes you a leaver: applying it would close your own login. Ask another HR admin to apply it."))
    now = timezone.now()

    # Departments, created by name.
    wanted = {c.values["department"] for c in plan.creates} | {u.changes["department"][1] for u in plan.updates if "department" in u.changes}
    department_ids = dict(Department.objects.filter(name__in=wanted).values_list("name", "pk")) if wanted else {}
    missing = wanted - set(department_ids)
    if missing:
        Department.objects.bulk_create([Department(name=name) for name in sorted(missing)])
        department_ids = dict(Department.objects.filter(name__in=wanted).values_list("name", "pk"))

    # New people, managers first: every row's manager then has a primary key when the row is
    # inserted, whatever the order of the file (cycles were rejected, so the layers end).
    pk_of = dict(Employee.objects.values_list("employee_id", "pk"))
    plain = [f for f in FIELDS if f not in ("department", "manager_id")]
    for layer in _manager_first_layers(plan.creates):
        people = [
            Employee(
                employee_id=c.employee_id,
                department_id=department_ids[c.values["department"]],
                manager_id=pk_of[c.values["manager_id"]] if c.values.get("manager_id") else None,
                # Columns absent from the file take the model's defaults.
                **{f: c.values[f] for f in plain if f in c.values},
            )
            for c in layer
        ]
        Employee.objects.bulk_create(people, batch_size=500)
        if any(p.pk is None for p in people):  # a database that cannot return the new keys
            pk_of = dict(Employee.objects.values_list("employee_id", "pk"))
        else:
            pk_of.update((p.employee_id, p.pk) for p in people)

    # People already in the directory, one field at a time. Big changes usually repeat values
    # (a new level scale, a reorganised department), and one UPDATE per value is much cheaper
    # than bulk_update's per-row CASE; values that don't repeat (emails, names) use the CASE.
    new_values: dict[str, dict[int, object]] = defaultdict(dict)
    for update in plan.updates:
        for name, (_old, new) in update.changes.items():
            if name == "department":
                new_values["department_id"][update.pk] = department_ids[new]
            elif name == "manager_id":
                new_values["manager_id"][update.pk] = pk_of[new] if new else None
            else:
                new_values[name][update.pk] = new
    for attname, values in new_values.items():
        by_value: dict[object, list[int]] = defaultdict(list)
        for pk, value in values.items():
            by_value[value].append(pk)
        if len(by_value) <= max(10, len(values) // 20):
            for value, pks in by_value.items():
                for chunk in _chunks(pks):
                    Employee.objects.filter(pk__in=chunk).update(**{attname: value})
        else:
            stubs = [Employee(pk=pk, **{attname: value}) for pk, value in values.items()]
            field_name = {"department_id": "department", "manager_id": "manager"}.get(attname, attname)
            Employee.objects.bulk_update(stubs, [field_name], batch_size=500)
    for pks in _chunks([u.pk for u in plan.updates]):
        Employee.objects.filter(pk__in=pks).update(updated_at=now)

    # History.
    Kind = EmployeeEvent.Kind
    events = []
    for c in plan.creates:
        joined = c.values.get("hire_date") or today
        left = c.values.get("left_date")
        events.append(EmployeeEvent(employee_id=pk_of[c.employee_id], kind=Kind.JOINED, effective_date=min(joined, left) if left else joined))
    for change in plan.level_changes:
        events.append(EmployeeEvent(employee_id=pk_of[change.employee_id], kind=Kind.LEVEL_CHANGE, effective_date=today,
                                    from_level=change.from_level, to_level=change.to_level))
    for leaver in plan.leavers:
        events.append(EmployeeEvent(employee_id=pk_of[leaver.employee_id], kind=Kind.LEFT, effective_date=leaver.left_date))
    for rejoiner in plan.rejoiners:
        events.append(EmployeeEvent(employee_id=pk_of[rejoiner.employee_id], kind=Kind.REJOINED, effective_date=today))
    for event in events:
        event.roster_import = roster_import
        event.recorded_at = now
    EmployeeEvent.objects.bulk_create(events, batch_size=500)

    # A leaver cannot sign in any more; a rejoiner can again.
    leaver_users = [u.user_id for u in plan.updates if u.user_id and "left_date" in u.changes and u.changes["left_date"][0] is None]
    rejoiner_users = [u.user_id for u in plan.updates if u.user_id and "left_date" in u.changes and u.changes["left_date"][1] is None]
    if leaver_users:
        User.objects.filter(pk__in=leaver_users, is_active=True).update(is_active=False)
        # ... and is signed out everywhere now, not at their next request.
        user_sessions_end(user_ids=leaver_users)
        # Their HR admin or executive rights go too (audited): someone who rejoins, maybe
        # years later, is a participant again, not silently an administrator.
        from .services import LEAVER_REVOKED_ROLES, user_revoke_role  # noqa: PLC0415 - services imports this module

        for user in User.objects.filter(pk__in=leaver_users, groups__name__in=LEAVER_REVOKED_ROLES).distinct():
            for role in set(user.groups.values_list("name", flat=True)) & set(LEAVER_REVOKED_ROLES):
                user_revoke_role(user=user, role=role)
    leaver_ids = [pk_of[leaver.employee_id] for leaver in plan.leavers]
    if leaver_ids:
        from pairing.services import pairs_end_for_leavers  # noqa: PLC0415 - pairing builds on the directory
        from programs.services import enrollments_withdraw_for_leavers  # noqa: PLC0415
        from sessions_log.models import CalendarFeed  # noqa: PLC0415

        pairs_end_for_leavers(employee_ids=leaver_ids)
        enrollments_withdraw_for_leavers(employee_ids=leaver_ids)  # after: an approved place with an ended pair is kept
        CalendarFeed.objects.filter(employee_id__in=leaver_ids).delete()
    if plan.leaving_later:
        # Leaving soon: a pair under way runs until the day, but nobody leaving is matched
        # anew (an open application, or an approved place without a pair, is withdrawn).
        from programs.services import enrollments_withdraw_for_leavers  # noqa: PLC0415

        for left, people in itertools.groupby(sorted(plan.leaving_later, key=lambda item: item[2]), key=lambda item: item[2]):
            enrollments_withdraw_for_leavers(
                employee_ids=[pk_of[eid] for eid, _name, _left in people], reason=_("Leaving the company on %(date)s (recorded by a roster import).") % {"date": left.isoformat()}
            )
    if rejoiner_users:
        User.objects.filter(pk__in=rejoiner_users, is_active=False).update(is_active=True)
    moved = {u.user_id: u.changes["email"] for u in plan.updates if u.user_id and "email" in u.changes}
    if moved:
        _sign_in_addresses_follow(moved)

    if roster_import is not None:
        roster_import.status = RosterImport.Status.APPLIED
        roster_import.applied_at = now
        roster_import.summary = {**plan.to_summary(), "applied": True, "effective_date": today.isoformat()}
        # The upload has done its work: the whole HRIS export is not kept beyond it (the
        # preview summary stays). Removed from storage once the import has committed.
        if roster_import.file:
            storage, name = roster_import.file.storage, roster_import.file.name
            transaction.on_commit(lambda: storage.delete(name))
            roster_import.file = ""
        roster_import.save(update_fields=["status", "applied_at", "summary", "file"])
    _audit_roster(plan=plan, pk_of=pk_of, roster_import=roster_import, effective_date=today)
    return plan


# Nothing that identifies a person is written to the audit log (it cannot be erased later):
# a change to their email, name, HRIS id, title, location or hire date is recorded as changed,
# without the values. Level, department, manager (as an id) and dates of leaving stay.
_AUDIT_HIDDEN_FIELDS = {"email", "first_name", "last_name", "employee_id", "title", "location", "hire_date"}
# People per audit event. A larger import is recorded as several events ("part 2 of 3"), each
# listing its share of the people: a row stays a bounded size, and every person is a key of
# one event's "employees", which is how the log filtered to a person finds the import.
_AUDIT_MAX_PEOPLE = 2000


def _audit_value(name: str, value, pk_of: dict[str, int]):
    if name in _AUDIT_HIDDEN_FIELDS:
        return "(changed)"
    if name == "manager_id":
        return pk_of.get(value) if value else None
    return value.isoformat() if isinstance(value, datetime.date) else value


def _audit_roster(*, plan: RosterPlan, pk_of: dict[str, int], roster_import: RosterImport | None, effective_date: datetime.date) -> None:
    # (key, before, after) per person: the people it updated, then those it created.
    people = [
        (
            str(u.pk),
            {name: _audit_value(name, old, pk_of) for name, (old, _new) in u.changes.items()},
            {name: _audit_value(name, new, pk_of) for name, (_old, new) in u.changes.items()},
        )
        for u in plan.updates
    ]
    people += [(str(pk_of[c.employee_id]), None, {"created": True}) for c in plan.creates]
    parts = [people[start : start + _AUDIT_MAX_PEOPLE] for start in range(0, len(people), _AUDIT_MAX_PEOPLE)] or [[]]
    summary = f"Roster applied: {len(plan.creates)} added, {len(plan.updates)} updated, {len(plan.leavers)} {'leaver' if len(plan.leavers) == 1 else 'leavers'}"
    for number, part in enumerate(parts, start=1):
        after = {"counts": plan.counts(), "effective_date": effective_date.isoformat(), "employees": {key: values for key, _before, values in part}}
        if len(parts) > 1:
            after["part"] = [number, len(parts)]
        audit_record(
            action=AuditEvent.Action.ROSTER_IMPORTED,
            target=roster_import,
            summary=summary + (f" (part {number} of {len(parts)})" if len(parts) > 1 else ""),
            before={"employees": {key: values for key, values, _after in part if values is not None}},
            after=after,
        )


# --- Uploads kept for review (the HR console) -----------------------------------------------------


@transaction.atomic
def roster_import_create(*, data: bytes, filename: str, uploaded_by: User | None = None) -> RosterImport:
    """Store an uploaded file with its preview: `previewed`, or `rejected` when it has errors.

    An unreadable file raises RosterError and stores nothing.
    """
    _lock_roster()  # not beside an erasure, whose scrubbing would miss this new preview
    plan = roster_preview(data=data, filename=filename)
    roster_import = RosterImport(
        filename=PurePath(filename).name[:255],
        uploaded_by=uploaded_by,
        status=RosterImport.Status.REJECTED if plan.errors else RosterImport.Status.PREVIEWED,
        summary=plan.to_summary(),
    )
    # Through the FileField, i.e. the default storage: the apply request may reach another
    # machine. A file with errors cannot be applied: only its preview is kept.
    if not plan.errors:
        roster_import.file.save(PurePath(filename).name, ContentFile(data), save=False)
    roster_import.save()
    return roster_import


@transaction.atomic
def roster_import_apply(*, roster_import_id: int, effective_date: datetime.date | None = None, by: User | None = None) -> tuple[RosterImport, RosterPlan]:
    """Apply a previewed upload exactly once; on any error the import stays as it was."""
    # The conditional update is the claim: a second click, or a second HR admin, waits for the
    # first transaction and then matches no row.
    claimed = RosterImport.objects.filter(pk=roster_import_id, status=RosterImport.Status.PREVIEWED).update(status=RosterImport.Status.APPLIED)
    roster_import = RosterImport.objects.get(pk=roster_import_id)
    if not claimed:
        if roster_import.status == RosterImport.Status.APPLIED:
            raise RosterError(_("“%(name)s” has already been applied.") % {"name": roster_import.filename})
        raise RosterError(_("“%(name)s” has errors, so it cannot be applied. Fix the file and upload it again.") % {"name": roster_import.filename})
    try:
        with roster_import.file.open("rb") as handle:
            data = handle.read()
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise RosterError(_("The uploaded file “%(name)s” is no longer available; upload it again.") % {"name": roster_import.filename}) from exc
    plan = roster_apply(data=data, filename=roster_import.filename, effective_date=effective_date, roster_import=roster_import, by=by, previewed=roster_import.summary)
    return roster_import, plan


def roster_import_refresh(*, roster_import_id: int) -> None:
    """After an apply was refused because the file is no longer clean (the directory moved on
    since the preview: someone else's import, a role change), store the fresh preview: the
    page then lists the problems and offers no Apply, instead of a stale "0 problems"."""
    roster_import = RosterImport.objects.filter(pk=roster_import_id, status=RosterImport.Status.PREVIEWED).first()
    if roster_import is None or not roster_import.file:
        return
    try:
        with roster_import.file.open("rb") as handle:
            plan = roster_preview(data=handle.read(), filename=roster_import.filename)
    except (FileNotFoundError, OSError, ValueError, RosterError):
        return
    # Only while still a preview: an apply that committed meanwhile is not turned back. A file
    # that now has errors cannot be applied: like a rejected upload, it is not kept.
    changes = {"summary": plan.to_summary(), "status": RosterImport.Status.REJECTED if plan.errors else RosterImport.Status.PREVIEWED}
    if plan.errors:
        changes["file"] = ""
    updated = RosterImport.objects.filter(pk=roster_import.pk, status=RosterImport.Status.PREVIEWED).update(**changes)
    if updated and plan.errors:
        roster_import.file.storage.delete(roster_import.file.name)

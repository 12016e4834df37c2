"""Reads of the org directory that more than one caller needs."""

import functools
import re
import unicodedata

from django.db.models import Count, Q, QuerySet

from .models import Department, Employee, EmployeeEvent


@functools.cache
def _accented() -> dict[str, str]:
    """Base letter -> the letter and its accented forms in Latin-1 and Latin Extended-A
    (a -> aàáâãäåāăą), both cases, for matching names whatever their accents."""
    variants: dict[str, set[str]] = {}
    for code in range(0x00C0, 0x0180):
        char = chr(code)
        base = unicodedata.normalize("NFD", char)[0]
        if base.isascii() and base.isalpha():
            variants.setdefault(base.lower(), {base.lower(), base.upper()}).update({char.lower(), char.upper()})
    # Letters with a stroke have no decomposition: ø, ł, đ read as o, l, d.
    for base, extra in (("o", "øØ"), ("l", "łŁ"), ("d", "đĐ")):
        variants[base].update(extra)
    return {base: "".join(sorted(chars)) for base, chars in variants.items()}


# After each letter: any combining accents, for names stored decomposed (NFD, as some Mac
# exports write them): "Tomás" as "Toma" + U+0301 + "s".
_MARKS = "[\u0300-\u036f]*".encode().decode("unicode_escape")


def accent_insensitive(word: str) -> str:
    """A case- and accent-insensitive regular expression for ``word``: "tomas" and "Tomás"
    both find "Tomás Ruiz" (directory search; icontains compares accents exactly)."""
    folded = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
    table = _accented()
    return "".join(f"[{table[c.lower()]}]{_MARKS}" if c.lower() in table else re.escape(c) for c in folded)


# Employee.objects.current() as a condition, for counts and filters across relations.
CURRENT = Q(left_date__isnull=True, erased_at__isnull=True)


def employees_for_directory(*, query: str = "", department_id: int | None = None, status: str = "current") -> QuerySet[Employee]:
    qs = Employee.objects.select_related("department", "manager", "user")
    if status == "current":
        qs = qs.filter(CURRENT)
    elif status == "left":
        qs = qs.filter(left_date__isnull=False)
    elif status == "erased":
        qs = qs.filter(erased_at__isnull=False)
    if department_id:
        qs = qs.filter(department_id=department_id)
    if query:
        for word in query.split():
            names = accent_insensitive(word)
            qs = qs.filter(
                Q(first_name__iregex=names) | Q(last_name__iregex=names) | Q(email__icontains=word) | Q(employee_id__istartswith=word) | Q(title__iregex=names)
            )
    return qs.order_by("last_name", "first_name", "id")


def departments_with_headcount() -> QuerySet[Department]:
    return Department.objects.annotate(headcount=Count("employees", filter=Q(employees__left_date__isnull=True, employees__erased_at__isnull=True))).order_by("name")


def directory_summary() -> dict:
    totals = Employee.objects.aggregate(
        current=Count("id", filter=CURRENT),
        left=Count("id", filter=Q(left_date__isnull=False)),
        erased=Count("id", filter=Q(erased_at__isnull=False)),
        with_login=Count("id", filter=CURRENT & Q(user__isnull=False)),
    )
    totals["departments"] = Department.objects.count()
    totals["level_changes"] = EmployeeEvent.objects.filter(kind=EmployeeEvent.Kind.LEVEL_CHANGE).count()
    return totals

"""Reads of the org directory that more than one caller needs."""

from django.db.models import Count, Q, QuerySet

from .models import Department, Employee, EmployeeEvent


def employees_for_directory(*, query: str = "", department_id: int | None = None, status: str = "current") -> QuerySet[Employee]:
    qs = Employee.objects.select_related("department", "manager", "user")
    if status == "current":
        qs = qs.filter(left_date__isnull=True)
    elif status == "left":
        qs = qs.filter(left_date__isnull=False)
    if department_id:
        qs = qs.filter(department_id=department_id)
    if query:
        for word in query.split():
            qs = qs.filter(
                Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word) | Q(employee_id__istartswith=word) | Q(title__icontains=word)
            )
    return qs.order_by("last_name", "first_name", "id")


def departments_with_headcount() -> QuerySet[Department]:
    return Department.objects.annotate(headcount=Count("employees", filter=Q(employees__left_date__isnull=True))).order_by("name")


def directory_summary() -> dict:
    totals = Employee.objects.aggregate(
        current=Count("id", filter=Q(left_date__isnull=True)),
        left=Count("id", filter=Q(left_date__isnull=False)),
        with_login=Count("id", filter=Q(user__isnull=False, left_date__isnull=True)),
    )
    totals["departments"] = Department.objects.count()
    totals["level_changes"] = EmployeeEvent.objects.filter(kind=EmployeeEvent.Kind.LEVEL_CHANGE).count()
    return totals

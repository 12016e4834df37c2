from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .admin_safety import StrictLookupAdmin
from .audit import audit_record
from .models import AuditEvent, Department, Employee, EmployeeEvent, OutboxMessage, Role, RosterImport, User


@admin.register(User)
class UserAdmin(StrictLookupAdmin, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "last_login"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["full_name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def save_related(self, request, form, formsets, change):
        # Roles are groups: a change made here is audited like one made by set_role.
        before = sorted(form.instance.groups.values_list("name", flat=True)) if change else []
        super().save_related(request, form, formsets, change)
        after = sorted(form.instance.groups.values_list("name", flat=True))
        for role in sorted(set(after) - set(before)):
            audit_record(action=AuditEvent.Action.ROLE_GRANTED, target=form.instance, summary=f"Role {dict(Role.choices).get(role, role)} granted in the Django admin", before={"roles": before}, after={"roles": after})
        for role in sorted(set(before) - set(after)):
            audit_record(action=AuditEvent.Action.ROLE_REVOKED, target=form.instance, summary=f"Role {dict(Role.choices).get(role, role)} revoked in the Django admin", before={"roles": before}, after={"roles": after})


@admin.register(Department)
class DepartmentAdmin(StrictLookupAdmin):
    search_fields = ["name"]


@admin.register(Employee)
class EmployeeAdmin(StrictLookupAdmin):
    list_display = ["employee_id", "first_name", "last_name", "email", "department", "level", "left_date"]
    list_filter = ["department", "level"]
    search_fields = ["employee_id", "email", "first_name", "last_name"]
    list_select_related = ["department"]
    raw_id_fields = ["manager", "user"]


@admin.register(EmployeeEvent)
class EmployeeEventAdmin(StrictLookupAdmin):
    list_display = ["employee", "kind", "effective_date", "from_level", "to_level"]
    list_filter = ["kind"]
    list_select_related = ["employee"]
    raw_id_fields = ["employee", "roster_import"]


@admin.register(RosterImport)
class RosterImportAdmin(StrictLookupAdmin):
    list_display = ["filename", "status", "uploaded_by", "created_at", "applied_at"]
    readonly_fields = ["summary"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(StrictLookupAdmin):
    # Subjects and recipients only: message bodies may carry personal content.
    list_display = ["id", "subject", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    exclude = ["body_text", "alternatives", "attachments"]
    readonly_fields = ["message_id", "to", "subject", "status", "attempts", "last_error", "sent_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(StrictLookupAdmin):
    """Read-only: the audit log is append-only, for superusers too (and on PostgreSQL the
    database refuses changes anyway)."""

    list_display = ["occurred_at", "action", "actor", "object_type", "object_id", "summary", "ip"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor"]
    date_hierarchy = "occurred_at"
    actions = None
    readonly_fields = ["occurred_at", "actor", "action", "object_type", "object_id", "summary", "before", "after", "ip"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

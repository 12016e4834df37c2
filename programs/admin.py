"""Django admin for programs: a read-only window for support staff.

HR works in the HR console (programs/views.py), where every change goes through the
services and their rules. Here nothing can be added or changed, and the confidential
"please not with" list is never shown.
"""

from django.contrib import admin

from mentoring.admin_safety import StrictLookupAdmin

from .models import Enrollment, EnrollmentTopic, Program, ProgramTransition, Resource, Topic


class ReadOnlyAdmin(StrictLookupAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Topic)
class TopicAdmin(ReadOnlyAdmin):
    list_display = ["name", "active"]
    list_filter = ["active"]
    search_fields = ["name"]


class TransitionInline(ReadOnlyInline):
    model = ProgramTransition
    fields = ["at", "from_status", "to_status", "by", "note"]


class ResourceInline(ReadOnlyInline):
    model = Resource
    fields = ["title", "url", "file", "audience", "order"]


@admin.register(Program)
class ProgramAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "status", "enrollment_opens_on", "enrollment_closes_on", "starts_on", "ends_on"]
    list_filter = ["status", "mode"]
    search_fields = ["name", "slug"]
    inlines = [TransitionInline, ResourceInline]


class TopicRatingInline(ReadOnlyInline):
    model = EnrollmentTopic
    fields = ["topic", "kind", "level"]


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["employee", "program", "role", "status", "applied_at", "decided_at"]
    list_filter = ["status", "role", "program"]
    search_fields = ["employee__first_name", "employee__last_name", "employee__email", "program__name"]
    list_select_related = ["employee", "program"]
    # Confidential: the pairing engine's "please not with" list is never shown, not even here.
    exclude = ["not_with"]
    inlines = [TopicRatingInline]

"""Admin for pairing, read-mostly: HR works in the HR console, where the services keep the rules.

The run's raw inputs are never shown: they carry everyone's confidential "please not with" list.
"""

from django.contrib import admin

from mentoring.admin_safety import StrictLookupAdmin

from .models import MatchRun, Pair, PairingOverride


class ReadOnlyAdmin(StrictLookupAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "program", "kind", "status", "started_by", "created_at", "published_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["program", "started_by"]
    search_fields = ["program__name", "program__slug"]
    exclude = ["inputs", "result"]
    readonly_fields = [
        "program", "kind", "status", "started_by", "created_at", "started_at", "finished_at", "progress", "progress_note",
        "stats", "error", "published_by", "published_at",
    ]


@admin.register(PairingOverride)
class PairingOverrideAdmin(ReadOnlyAdmin):
    list_display = ["id", "program", "kind", "mentor", "mentee", "created_by", "created_at"]
    list_filter = ["kind"]
    list_select_related = ["program", "mentor__employee", "mentee__employee", "mentor__program", "mentee__program", "created_by"]
    raw_id_fields = ["program", "mentor", "mentee", "created_by"]


@admin.register(Pair)
class PairAdmin(ReadOnlyAdmin):
    list_display = ["id", "program", "mentor_name", "mentee_name", "status", "source", "score", "started_at", "ended_at", "end_reason"]
    list_filter = ["status", "source", "end_reason"]
    list_select_related = ["program", "mentor__employee", "mentee__employee"]
    search_fields = ["mentor__employee__last_name", "mentee__employee__last_name", "program__slug"]
    raw_id_fields = ["program", "mentor", "mentee", "match_run", "created_by", "ended_by"]
    readonly_fields = ["breakdown", "reasons"]

    @admin.display(description="mentor", ordering="mentor__employee__last_name")
    def mentor_name(self, obj):
        return obj.mentor.employee.full_name

    @admin.display(description="mentee", ordering="mentee__employee__last_name")
    def mentee_name(self, obj):
        return obj.mentee.employee.full_name

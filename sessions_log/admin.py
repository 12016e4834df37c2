"""Django admin for pairs at work: a read-only window for support staff.

Participants change these records through the pages and services (with their rules: who may
act, ICS invites, versions); here nothing can be added, changed or deleted.

Confidential rows are deliberately NOT registered: private notes (author only), safety pulses
(HR only ever sees an alert) and feedback (the partner never sees it). A concern's text and
HR's note on it (for HR's care page only) and calendar feed tokens (secrets) are not shown.
"""

from django.contrib import admin

from mentoring.admin_safety import StrictLookupAdmin

from .models import ActionItem, Agreement, AgreementGoal, CalendarFeed, Concern, Insight, Meeting, MeetingChange, PulseAlert, Reflection, SessionLog, SurveyResponse


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

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AgreementGoalInline(ReadOnlyInline):
    model = AgreementGoal


@admin.register(Agreement)
class AgreementAdmin(ReadOnlyAdmin):
    list_display = ("pair", "version", "mentor_acknowledged_version", "mentee_acknowledged_version", "updated_at")
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee")
    raw_id_fields = ("pair", "updated_by")
    inlines = [AgreementGoalInline]


class MeetingChangeInline(ReadOnlyInline):
    model = MeetingChange


@admin.register(Meeting)
class MeetingAdmin(ReadOnlyAdmin):
    list_display = ("pair", "starts_at", "duration_minutes", "status", "sequence")
    list_filter = ("status",)
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee")
    date_hierarchy = "starts_at"
    raw_id_fields = ("pair", "scheduled_by")
    inlines = [MeetingChangeInline]


@admin.register(SessionLog)
class SessionLogAdmin(ReadOnlyAdmin):
    list_display = ("pair", "held_on", "minutes", "author")
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee", "author")
    date_hierarchy = "held_on"
    raw_id_fields = ("pair", "meeting", "author")


@admin.register(Concern)
class ConcernAdmin(ReadOnlyAdmin):
    list_display = ("pair", "raised_by", "status", "created_at")
    list_filter = ("status",)
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee", "raised_by")
    raw_id_fields = ("pair", "raised_by", "hr_note_by")
    # Confidential: the mentor wrote it for HR, who read it on the HR care page, and HR's note
    # of what they did is for HR there too; neither is for the admin.
    exclude = ("text", "hr_note")


@admin.register(PulseAlert)
class PulseAlertAdmin(ReadOnlyAdmin):
    list_display = ("pair", "created_at", "resolved_at")
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee")
    raw_id_fields = ("pair",)


@admin.register(Insight)
class InsightAdmin(ReadOnlyAdmin):
    list_display = ("pair", "topic", "created_at")
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee", "topic")
    raw_id_fields = ("pair", "created_by")


@admin.register(ActionItem)
class ActionItemAdmin(ReadOnlyAdmin):
    list_display = ("pair", "text", "status", "due_on")
    list_filter = ("status",)
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee")
    raw_id_fields = ("pair", "insight", "session_log", "committed_by")


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ("enrollment", "kind", "submitted_at")
    list_filter = ("kind",)
    list_select_related = ("enrollment__employee", "enrollment__program")
    raw_id_fields = ("enrollment",)


@admin.register(Reflection)
class ReflectionAdmin(ReadOnlyAdmin):
    list_display = ("pair", "author", "created_at")
    list_select_related = ("pair__mentor__employee", "pair__mentee__employee", "author__employee")
    raw_id_fields = ("pair", "author")


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdmin):
    list_display = ("employee", "created_at")
    list_select_related = ("employee",)
    raw_id_fields = ("employee",)
    exclude = ("token",)

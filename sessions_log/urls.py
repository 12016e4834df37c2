from django.urls import path

from . import views

# Everything about one pair hangs off /pairs/<pk>/ (emails and calendar invites link there);
# a meeting, log, goal or action id is only ever looked up inside that pair.
P = "pairs/<int:pk>/"

urlpatterns = [
    path(P, views.pair_detail, name="pair_detail"),
    path(P + "agreement/", views.agreement_edit, name="agreement_edit"),
    path(P + "agreement/acknowledge/", views.agreement_acknowledge, name="agreement_acknowledge"),
    path(P + "goals/<int:goal_id>/progress/", views.goal_progress, name="goal_progress"),
    path(P + "meetings/new/", views.meeting_schedule, name="meeting_schedule"),
    path(P + "meetings/<int:meeting_id>/reschedule/", views.meeting_reschedule, name="meeting_reschedule"),
    path(P + "meetings/<int:meeting_id>/cancel/", views.meeting_cancel, name="meeting_cancel"),
    path(P + "meetings/<int:meeting_id>/meeting.ics", views.meeting_ics, name="meeting_ics"),
    path(P + "meetings/<int:meeting_id>/details/", views.meeting_details, name="meeting_details"),
    path(P + "logs/new/", views.session_log_create, name="session_log_create"),
    path(P + "logs/<int:log_id>/edit/", views.session_log_edit, name="session_log_edit"),
    path(P + "logs/<int:log_id>/note/", views.private_note_edit, name="private_note_edit"),
    path(P + "logs/<int:log_id>/pulse/", views.pulse_submit, name="pulse_submit"),
    path(P + "logs/<int:log_id>/feedback/", views.feedback_submit, name="feedback_submit"),
    path(P + "concern/", views.concern_raise, name="concern_raise"),
    path(P + "insights/", views.insight_add, name="insight_add"),
    path(P + "insights/<int:insight_id>/edit/", views.insight_edit, name="insight_edit"),
    path(P + "actions/", views.action_commit, name="action_commit"),
    path(P + "actions/<int:action_id>/edit/", views.action_edit, name="action_edit"),
    path(P + "actions/<int:action_id>/done/", views.action_set_done, name="action_set_done"),
    path(P + "end/", views.pair_close, name="pair_close"),
    path(P + "reflection/", views.reflection_save, name="reflection_save"),
    # The signed-in participant's own pages.
    path("me/pairs/", views.my_pairs, name="my_pairs"),
    path("me/surveys/", views.survey_list, name="survey_list"),
    path("me/surveys/<int:enrollment_id>/<slug:kind>/", views.survey_answer, name="survey_answer"),
    path("me/calendar/", views.calendar_settings, name="calendar_settings"),
    path("me/calendar/revoke/", views.calendar_revoke, name="calendar_revoke"),
    # No login: calendar apps fetch the feed with the secret token alone.
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]

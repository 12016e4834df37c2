from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from sessions_log import care_views, reminder_views

from . import account_views, privacy_views, role_views, roster_views, views

# The admin signs in through allauth: the same rate limits and MFA as everywhere else.
admin.site.login = secure_admin_login(admin.site.login)

handler403 = "mentoring.views.error_403"
handler404 = "mentoring.views.error_404"
handler500 = "mentoring.views.error_500"

urlpatterns = [
    path("", views.home, name="home"),
    path("me/", views.participant_home, name="participant_home"),
    path("hr/", views.hr_home, name="hr_home"),
    path("hr/directory/", views.directory, name="directory"),
    path("hr/directory/<int:pk>/", views.employee_detail, name="employee_detail"),
    path("hr/directory/<int:pk>/roles/", role_views.employee_role_change, name="employee_role_change"),
    path("hr/directory/<int:pk>/erase/", privacy_views.employee_erase, name="employee_erase"),
    path("hr/directory/<int:pk>/export/", privacy_views.employee_export, name="employee_export"),
    path("hr/audit/", privacy_views.audit_log, name="audit_log"),
    path("me/data/", privacy_views.my_data, name="my_data"),
    path("me/time-zone/", views.time_zone_settings, name="time_zone_settings"),
    path("hr/roster/", roster_views.roster_import, name="roster_import"),
    path("hr/roster/<int:pk>/", roster_views.roster_import_detail, name="roster_import_detail"),
    path("hr/roster/<int:pk>/apply/", roster_views.roster_import_apply, name="roster_import_apply"),
    path("executive/", views.executive_home, name="executive_home"),
    path("healthz", views.healthz, name="healthz"),
    path("reminders/unsubscribe/<str:token>/", reminder_views.reminder_unsubscribe, name="reminder_unsubscribe"),
    path("hr/care/", care_views.hr_care, name="hr_care"),
    path("hr/care/alerts/<int:pk>/resolve/", care_views.hr_alert_resolve, name="hr_alert_resolve"),
    path("hr/care/concerns/<int:pk>/status/", care_views.hr_concern_status, name="hr_concern_status"),
    path("me/reminders/", reminder_views.reminder_preferences, name="reminder_preferences"),
    path("hr/reminders/", include([path("", reminder_views.hr_reminders, name="hr_reminders"), path("retry/", reminder_views.hr_reminders_retry, name="hr_reminders_retry")])),
    path("", include("programs.urls")),
    path("", include("pairing.urls")),
    path("", include("sessions_log.urls")),
    # Ahead of allauth's route of the same name: a link opened again says it was used.
    path("accounts/confirm-email/<str:key>/", account_views.confirm_email, name="account_confirm_email"),
    # Ahead of allauth's address management: the directory owns the address (see the view).
    path("accounts/email/", account_views.email_address, name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

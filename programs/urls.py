from django.urls import path

from . import views

urlpatterns = [
    # HR console
    path("hr/topics/", views.topic_list, name="topic_list"),
    path("hr/topics/new/", views.topic_create, name="topic_create"),
    path("hr/topics/<int:pk>/edit/", views.topic_edit, name="topic_edit"),
    path("hr/programs/", views.program_list, name="program_list"),
    path("hr/programs/new/", views.program_create, name="program_create"),
    path("hr/programs/<int:pk>/", views.program_detail, name="program_detail"),
    path("hr/programs/<int:pk>/edit/", views.program_edit, name="program_edit"),
    path("hr/programs/<int:pk>/clone/", views.program_clone, name="program_clone"),
    path("hr/programs/<int:pk>/transition/", views.program_transition, name="program_transition"),
    path("hr/programs/<int:pk>/resources/", views.resource_add, name="resource_add"),
    path("hr/programs/<int:pk>/resources/<int:resource_pk>/remove/", views.resource_remove, name="resource_remove"),
    path("hr/programs/<int:pk>/invite/", views.program_invite, name="program_invite"),
    path("hr/programs/<int:pk>/review/", views.program_review, name="program_review"),
    path("hr/programs/<int:pk>/review/decide/", views.program_review_decide, name="program_review_decide"),
    path("hr/programs/<int:pk>/enrollments/<int:enrollment_pk>/reopen/", views.enrollment_reopen, name="enrollment_reopen"),
    # Participants
    path("resources/<int:pk>/download/", views.resource_download, name="resource_download"),
    path("programs/<slug:slug>/apply/", views.program_apply, name="program_apply"),
    path("me/enrollments/<int:pk>/withdraw/", views.enrollment_withdraw, name="enrollment_withdraw"),
    path("me/enrollments/<int:pk>/availability/", views.enrollment_availability, name="enrollment_availability"),
    path("me/enrollments/<int:pk>/resources/<int:resource_pk>/", views.resource_mark, name="resource_mark"),
]

from . import dashboards  # noqa: E402

urlpatterns += [
    path("hr/programs/<int:pk>/dashboard/", dashboards.program_dashboard, name="program_dashboard"),
    path("hr/programs/<int:pk>/dashboard/refresh/", dashboards.program_dashboard_refresh, name="program_dashboard_refresh"),
    path("hr/programs/<int:pk>/dashboard/runs/<int:run_id>/", dashboards.program_dashboard_progress, name="program_dashboard_progress"),
    path("hr/programs/<int:pk>/export.csv", dashboards.program_export, name="program_export"),
]

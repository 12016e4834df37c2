from django.urls import path

from . import views

# HR console: everything hangs off the program's slug, so a run, pair or override id is only
# ever looked up inside that program.
P = "hr/programs/<slug:slug>/pairing/"

urlpatterns = [
    path(P, views.pairing_home, name="pairing_home"),
    path(P + "run/", views.match_run_start, name="match_run_start"),
    path(P + "overrides/", views.override_set, name="override_set"),
    path(P + "overrides/<int:override_id>/remove/", views.override_remove, name="override_remove"),
    path(P + "runs/<int:run_id>/", views.match_run_review, name="match_run_review"),
    path(P + "runs/<int:run_id>/progress/", views.match_run_progress, name="match_run_progress"),
    path(P + "runs/<int:run_id>/alternatives/<int:enrollment_id>/", views.match_run_alternatives, name="match_run_alternatives"),
    path(P + "runs/<int:run_id>/pair/", views.proposal_pair_manually, name="proposal_pair_manually"),
    path(P + "runs/<int:run_id>/swap/", views.proposal_swap, name="proposal_swap"),
    path(P + "runs/<int:run_id>/pairs/<int:pair_id>/unpair/", views.proposal_unpair, name="proposal_unpair"),
    path(P + "runs/<int:run_id>/publish/", views.match_run_publish, name="match_run_publish"),
    path(P + "pairs/", views.pairs_list, name="pairs_list"),
    path(P + "pairs/<int:pair_id>/", views.hr_pair, name="hr_pair"),
    path(P + "pairs/<int:pair_id>/end/", views.pair_end, name="pair_end"),
    path(P + "pairs/<int:pair_id>/pause/", views.hr_pair_pause, name="hr_pair_pause"),
    path(P + "pairs/<int:pair_id>/resume/", views.hr_pair_resume, name="hr_pair_resume"),
    path(P + "pairs/<int:pair_id>/check-in/", views.hr_pair_check_in, name="hr_pair_check_in"),
]

"""Signed-in pages are never stored by a browser or proxy; static files and anonymous pages
keep their own caching. (Every signed-in page of the matrix is checked too.)"""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sessions_log import services
from sessions_log.services import LogInput
from tests.factories import make_active_pair, make_person

pytestmark = pytest.mark.django_db


def directives(response) -> set[str]:
    return {d.strip() for d in response.headers.get("Cache-Control", "").split(",") if d.strip()}


@pytest.fixture
def pair_with_a_log():
    mentor_user, mentee_user = make_person(level=2), make_person(level=7)
    pair = make_active_pair(mentor_user=mentor_user, mentee_user=mentee_user)
    log = services.session_log_create(
        pair=pair, me=mentor_user.employee, data=LogInput(held_on=timezone.localdate() - datetime.timedelta(days=1), minutes=30, topics=[], shared_notes="We met", private_note="my private words")
    )
    return pair, log, mentor_user, mentee_user


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_private_note_and_feedback_pages_are_not_stored(pair_with_a_log):
    pair, log, mentor_user, mentee_user = pair_with_a_log
    mentor, mentee = signed_in(mentor_user), signed_in(mentee_user)
    for client, url in (
        (mentor, reverse("pair_detail", args=[pair.pk])),
        (mentor, reverse("private_note_edit", args=[pair.pk, log.pk])),
        (mentee, reverse("feedback_submit", args=[pair.pk, log.pk])),
        (mentee, reverse("my_pairs")),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert {"no-store", "private"} <= directives(response), url
    assert "my private words" in mentor.get(reverse("pair_detail", args=[pair.pk])).content.decode()


def test_a_view_that_sets_its_own_caching_keeps_it(pair_with_a_log):
    _pair, _log, mentor_user, _mentee_user = pair_with_a_log
    response = signed_in(mentor_user).get(reverse("healthz"))
    # never_cache's header, as the view set it: not rewritten or doubled by the middleware.
    assert response.headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_anonymous_pages_are_left_alone(pair_with_a_log):
    from sessions_log.models import Reminder
    from sessions_log.reminders import unsubscribe_token

    _pair, _log, mentor_user, _mentee_user = pair_with_a_log
    token = unsubscribe_token(employee=mentor_user.employee, kind=Reminder.Kind.GIVE_FEEDBACK)
    response = Client().get(reverse("reminder_unsubscribe", args=[token]))
    assert response.status_code == 200
    assert "Cache-Control" not in response.headers
    response = Client().get(reverse("healthz"))
    assert response.headers["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


def test_static_files_keep_their_cache_headers_for_signed_in_people(settings, pair_with_a_log):
    settings.WHITENOISE_USE_FINDERS = True  # serve static/ without collectstatic, as in development
    settings.WHITENOISE_AUTOREFRESH = True
    _pair, _log, mentor_user, _mentee_user = pair_with_a_log
    response = signed_in(mentor_user).get("/" + settings.STATIC_URL.lstrip("/") + "css/upward.css")
    assert response.status_code == 200
    assert "no-store" not in directives(response)
    assert any(d.startswith("max-age=") for d in directives(response))

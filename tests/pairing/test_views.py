"""HR pairing pages: runs, review of a proposal, alternatives, overrides, publishing, live pairs."""

import re
from datetime import timedelta

import pytest
from django.utils.html import escape
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pairing import services
from pairing.models import MatchRun, Pair, PairingOverride
from programs.models import Enrollment, Program
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory

from tests.pairing.helpers import mentee, mentor, run_now

pytestmark = pytest.mark.django_db
A = Enrollment.Status.APPROVED


@pytest.fixture
def program():
    return ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2, ban_same_manager=True)




def url(name, program, *args):
    return reverse(name, args=[program.slug, *args])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def text(response) -> str:
    return response.content.decode()


def shown(body: str) -> str:
    """What a sighted reader sees: no tags, no text for screen readers only, spaces collapsed."""
    body = re.sub(r'<span class="visually-hidden">[^<]*</span>', "", body)
    return " ".join(re.sub(r"<[^>]+>", "", body).split())


def read_aloud(body: str) -> str:
    """What a screen reader says: no tags, no text hidden from it (aria-hidden), spaces collapsed."""
    body = re.sub(r'<span[^>]*aria-hidden="true"[^>]*>[^<]*</span>', "", body)
    return " ".join(re.sub(r"<[^>]+>", "", body).split())


# --- Who may do what --------------------------------------------------------------------------------


@pytest.fixture
def world(program, hr_user, django_capture_on_commit_callbacks):
    """A program with a live pair, a proposed re-match with its pair, and an override; another
    program with the same."""

    def populate(p):
        mentor(p), mentee(p)
        services.match_run_publish(run=run_now(p, hr_user, django_capture_on_commit_callbacks), by=hr_user)
        m, e = mentor(p), mentee(p)
        run = run_now(p, hr_user, django_capture_on_commit_callbacks)
        override = services.override_set(program=p, mentor=m, mentee=e, kind=PairingOverride.Kind.EXCLUDE, by=hr_user)
        live = Pair.objects.get(program=p, status=Pair.Status.ACTIVE)
        return {"run": run, "pair": Pair.objects.get(match_run=run), "live_pair": live, "override": override, "enrollment": e}

    other = ProgramFactory(status=Program.Status.MATCHING, min_score=0)
    return {"program": program, "mine": populate(program), "other": populate(other)}


# name, method, the objects after the slug (None: no object in the URL)
VIEWS = [
    ("pairing_home", "get", ()),
    ("pairs_list", "get", ()),
    ("match_run_review", "get", ("run",)),
    ("match_run_progress", "get", ("run",)),
    ("match_run_alternatives", "get", ("run", "enrollment")),
    ("match_run_start", "post", ()),
    ("override_set", "post", ()),
    ("override_remove", "post", ("override",)),
    ("proposal_pair_manually", "post", ("run",)),
    ("proposal_swap", "post", ("run",)),
    ("proposal_unpair", "post", ("run", "pair")),
    ("match_run_publish", "post", ("run",)),
    ("pair_end", "post", ("live_pair",)),
    ("hr_pair", "get", ("live_pair",)),
    ("hr_pair_pause", "post", ("live_pair",)),
    ("hr_pair_resume", "post", ("live_pair",)),
    ("hr_pair_check_in", "post", ("live_pair",)),
]
IDS = [v[0] for v in VIEWS]


def view_url(world, name, parts, owner="mine"):
    return url(name, world["program"], *[world[owner][p].pk for p in parts])


def state():
    return (
        list(Pair.objects.order_by("id").values_list("id", "mentor_id", "mentee_id", "status")),
        list(PairingOverride.objects.order_by("id").values_list("id", "kind")),
        list(MatchRun.objects.order_by("id").values_list("id", "status")),
    )


@pytest.mark.parametrize(("name", "method", "parts"), VIEWS, ids=IDS)
def test_only_hr_reaches_each_view_and_only_inside_the_program(world, client, participant_client, executive_client, hr_client, name, method, parts):
    """Anonymous -> login; participant and executive -> 403; wrong method -> 405; another
    program's run, pair, override or person -> 404 and nothing changes; HR -> the page."""
    target = view_url(world, name, parts)
    before = state()

    anonymous = getattr(client, method)(target)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("account_login"))
    assert getattr(participant_client, method)(target).status_code == 403
    assert getattr(executive_client, method)(target).status_code == 403
    assert getattr(hr_client, "post" if method == "get" else "get")(target).status_code == 405
    if parts:
        assert getattr(hr_client, method)(view_url(world, name, parts, owner="other")).status_code == 404
    assert state() == before

    assert getattr(hr_client, method)(target).status_code == (200 if method == "get" else 302)


def test_unknown_program_is_404(hr_client):
    assert hr_client.get(reverse("pairing_home", args=["no-such-program"])).status_code == 404


# --- Running the engine -----------------------------------------------------------------------------


def test_run_matching_from_the_page_creates_a_proposal(program, hr_client, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    with django_capture_on_commit_callbacks(execute=True):
        response = hr_client.post(url("match_run_start", program))
    run = MatchRun.objects.get(program=program)
    assert response.status_code == 302 and response["Location"] == url("match_run_review", program, run.pk)
    assert run.status == "proposed" and run.kind == "initial"
    assert list(Pair.objects.filter(match_run=run).values_list("mentor_id", "mentee_id")) == [(m1.pk, e1.pk)]

    body = text(hr_client.get(response["Location"]))
    assert m1.employee.full_name in body and e1.employee.full_name in body
    assert "levels apart" in body  # a readable reason
    assert "Publish 1 pair" in body


def test_run_matching_is_refused_before_enrollment_closes(hr_client):
    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN)
    response = hr_client.post(url("match_run_start", program), follow=True)
    assert any("enrollment has closed" in m for m in messages_of(response))
    assert not MatchRun.objects.exists()


def test_a_second_run_while_one_is_in_progress_is_refused(program, hr_client, hr_user):
    MatchRun.objects.create(program=program, status=MatchRun.Status.RUNNING, started_by=hr_user)
    response = hr_client.post(url("match_run_start", program), follow=True)
    assert any("already in progress" in m for m in messages_of(response))
    assert MatchRun.objects.count() == 1


def test_in_an_active_program_the_run_is_a_rematch(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    m2, e2 = mentor(program), mentee(program)
    page = hr_client.get(url("pairing_home", program))
    assert "Re-match the remaining pool" in text(page)
    with django_capture_on_commit_callbacks(execute=True):
        hr_client.post(url("match_run_start", program))
    rematch = MatchRun.objects.filter(program=program).first()
    assert rematch.kind == "rematch" and rematch.status == "proposed"
    assert list(Pair.objects.filter(match_run=rematch).values_list("mentor_id", "mentee_id")) == [(m2.pk, e2.pk)]


def test_home_lists_runs_with_their_stats(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program), mentee(program, level=3)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    body = text(hr_client.get(url("pairing_home", program)))
    assert f"Run #{run.pk}" in body and "Proposed" in body and "50%" in body
    assert hr_user.get_full_name() in body
    # The proposal is waiting: the page says so and leads there, not "run matching".
    assert f"Run #{run.pk} is waiting for your review" in body and "Run matching to get a proposal" not in body
    page = hr_client.get(url("pairing_home", program)).content.decode()
    assert url("match_run_review", program, run.pk) in page


def test_home_without_runs_says_what_to_do(program, hr_client):
    body = text(hr_client.get(url("pairing_home", program)))
    assert "No match runs yet" in body and "Run matching" in body


def test_a_running_run_shows_progress_and_polls_until_finished(program, hr_user, hr_client):
    run = MatchRun.objects.create(program=program, status=MatchRun.Status.RUNNING, started_by=hr_user, progress=40, progress_note="Scoring and solving")
    for page in (hr_client.get(url("match_run_review", program, run.pk)), hr_client.get(url("pairing_home", program))):
        body = text(page)
        assert 'hx-trigger="every 2s"' in body and url("match_run_progress", program, run.pk) in body
        assert 'value="40"' in body and "Scoring and solving" in body
    assert "Run matching" not in text(hr_client.get(url("pairing_home", program)))

    partial = hr_client.get(url("match_run_progress", program, run.pk), headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in text(partial) and "HX-Refresh" not in partial
    assert 'hx-trigger="every 2s"' in text(partial)

    MatchRun.objects.filter(pk=run.pk).update(status=MatchRun.Status.PROPOSED, progress=100)
    partial = hr_client.get(url("match_run_progress", program, run.pk), headers={"HX-Request": "true"})
    assert partial["HX-Refresh"] == "true" and "hx-trigger" not in text(partial)


def test_a_failed_run_shows_its_error(program, hr_user, hr_client):
    run = MatchRun.objects.create(program=program, status=MatchRun.Status.FAILED, started_by=hr_user, error="pin (1, 2) cannot be honoured: capacity")
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    assert "This run failed" in body and "pin (1, 2) cannot be honoured: capacity" in body
    assert "Publish" not in body


# --- Reviewing a proposal -------------------------------------------------------------------------------


def test_review_shows_unmatched_people_with_the_reason(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    boss = EmployeeFactory(level=8, first_name="Beatrix", last_name="Bossington")
    junior = mentor(program, manager=boss)
    EnrollmentFactory(program=program, role="mentee", status=A, employee=boss)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    assert "No pairs in this proposal" in body
    assert "Beatrix Bossington" in body and junior.employee.full_name in body
    assert "No allowed partner" in body and "in the same reporting line" in body


def test_review_shows_the_score_distribution(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    assert "Score distribution" in body and "900–1000" in body
    assert body.count("<progress") == 10
    assert "100%" in body  # match rate


def test_alternatives_list_allowed_partners_with_scores_and_never_a_forbidden_one(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    senior = mentee(program)
    allowed = [mentor(program, first_name="Allowed", last_name=f"Mentor{i}") for i in range(3)]
    in_line = mentor(program, first_name="Reporting", last_name="Lineperson", manager=senior.employee)
    disliked = mentor(program, first_name="Unwanted", last_name="Partnerson")
    senior.not_with.set([disliked.employee])
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    current = Pair.objects.get(match_run=run, mentee=senior).mentor

    response = hr_client.get(url("match_run_alternatives", program, run.pk, senior.pk), headers={"HX-Request": "true"})
    body = text(response)
    assert response.status_code == 200 and "<html" not in body
    others = [m for m in allowed if m != current]
    assert all(m.employee.full_name in body for m in others)
    assert body.count("score ") == 3  # two alternatives, and the current pair to compare them with
    assert "Reporting Lineperson" not in body and "Unwanted Partnerson" not in body
    current_pair = Pair.objects.get(match_run=run, mentee=senior)
    assert f'Currently paired with <a href="#pair-{current_pair.pk}">{current.employee.full_name}</a>' in body
    assert f"Currently paired with {current.employee.full_name} (score {current_pair.score}/1000)" in shown(body)
    assert f"(score {current_pair.score} out of 1000)" in read_aloud(body)
    assert all(f"score {row.score}/1000" in shown(body) for row in response.context["alternatives"].rows)
    alternatives = response.context["alternatives"]
    assert all(row.score >= 0 for row in alternatives.rows) and len(alternatives.rows) == 2
    # Drawbacks are set apart from the reasons, as on the review page.
    for row in alternatives.rows:
        assert "no shared language" not in row.reasons and set(row.drawbacks).isdisjoint(row.reasons)
        assert all(d in ("no time in the week when both are free", "no shared language") or d.startswith("time zones") for d in row.drawbacks)
    assert ("To watch:" in body) == any(row.drawbacks for row in alternatives.rows)

    page = hr_client.get(url("match_run_alternatives", program, run.pk, senior.pk))  # without htmx: a whole page
    assert "<html" in text(page) and "Alternatives for" in text(page)


def test_with_no_alternative_the_panel_says_which_rules_rule_the_others_out(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    ceo = mentee(program)
    mentor(program)  # the one the CEO gets
    for i in range(2):
        mentor(program, manager=ceo.employee)  # in the CEO's reporting line
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    body = text(hr_client.get(url("match_run_alternatives", program, run.pk, ceo.pk), headers={"HX-Request": "true"}))
    assert "No other mentor is allowed for this person" in body and "Ruled out: 2 in the same reporting line" in body


def test_alternatives_for_a_mentor_list_mentees(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    junior = mentor(program)
    seniors = [mentee(program) for _ in range(4)]
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    response = hr_client.get(url("match_run_alternatives", program, run.pk, junior.pk), headers={"HX-Request": "true"})
    rows = response.context["alternatives"].rows
    assert len(rows) == 3 and {r.enrollment for r in rows} <= set(seniors)
    assert "Other mentees for" in text(response)
    assert [r.score for r in rows] == sorted((r.score for r in rows), reverse=True)


def test_alternatives_warn_who_pairing_them_would_leave_alone(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    a, b = Pair.objects.filter(match_run=run).select_related("mentor__employee", "mentee__employee").order_by("id")
    body = text(hr_client.get(url("match_run_alternatives", program, run.pk, a.mentee.pk), headers={"HX-Request": "true"}))
    # a's mentee with b's mentor: a's mentor and b's mentee (b's mentor has room for one) lose their partner.
    names = " and ".join(sorted([a.mentor.employee.full_name, b.mentee.employee.full_name]))
    assert f"Pairing them leaves {names} without a partner." in body
    # What the warning says is what happens.
    response = hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": b.mentor.pk, "mentee": a.mentee.pk}, follow=True)
    assert any(names in m for m in messages_of(response))


def test_alternatives_say_a_full_mentor_must_be_freed_first(hr_user, hr_client, django_capture_on_commit_callbacks):
    program = ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2, mentees_per_mentor=2)
    m1 = mentor(program)
    mentees = [mentee(program) for _ in range(3)]
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    (left_over,) = [e for e in mentees if not Pair.objects.filter(match_run=run, mentee=e).exists()]
    body = text(hr_client.get(url("match_run_alternatives", program, run.pk, left_over.pk), headers={"HX-Request": "true"}))
    assert f"{m1.employee.full_name} already has as many mentees as they can take: unpair one of them first" in body
    assert "Pair them instead" not in body and "without a partner" not in body


def test_alternatives_say_a_mentor_at_the_cross_program_cap_cannot_take_one(hr_user, hr_client, django_capture_on_commit_callbacks):
    program = ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2, mentees_per_mentor=1, max_active_pairs_per_mentor=1)
    busy, senior = mentor(program), mentee(program)
    other = ProgramFactory(status=Program.Status.ACTIVE)
    elsewhere = EnrollmentFactory(program=other, employee=busy.employee, role="mentor", status=A)
    Pair.objects.create(program=other, mentor=elsewhere, mentee=EnrollmentFactory(program=other, role="mentee", status=A), status="active")
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert not Pair.objects.filter(match_run=run).exists()
    response = hr_client.get(url("match_run_alternatives", program, run.pk, senior.pk), headers={"HX-Request": "true"})
    body = text(response)
    assert response.status_code == 200
    assert f"{busy.employee.full_name} cannot take a mentee: they are at the limit of active pairs across programs." in body
    assert "Pair them instead" not in body


def test_alternatives_for_someone_outside_the_pool_say_so(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    late = mentee(program)
    body = text(hr_client.get(url("match_run_alternatives", program, run.pk, late.pk), headers={"HX-Request": "true"}))
    assert "was not in the run's pool" in body


def test_manual_pair_is_refused_with_the_reason(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    too_close = mentee(program, level=3)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    response = hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": m1.pk, "mentee": too_close.pk}, follow=True)
    assert any("Refused" in m and "level" in m for m in messages_of(response))
    assert list(Pair.objects.filter(match_run=run).values_list("mentor_id", "mentee_id")) == [(m1.pk, e1.pk)]
    # Back at the form, with the two people still chosen, to try another.
    # At the top, where the refusal is (a jump to the form hid it), with the choices kept.
    assert response.redirect_chain[-1][0].endswith(f"?mentor={m1.pk}&mentee={too_close.pk}")
    body = text(response)
    assert re.search(rf'<option value="{m1.pk}" selected>', body) and re.search(rf'<option value="{too_close.pk}" selected>', body)
    # Ids that are not the run's people are not put back.
    stranger = mentee(ProgramFactory(status=Program.Status.MATCHING))
    form = text(hr_client.get(url("match_run_review", program, run.pk), {"mentor": "x", "mentee": stranger.pk})).split('id="manual-heading"')[1].split("</form>")[0]
    assert not re.search(r'<option value="\d+" selected>', form)
    assert hr_client.get(url("match_run_review", program, run.pk), {"pair_b": "9" * 5000}).status_code == 200  # int() refuses 4,300+ digits


def test_manual_pair_replaces_the_mentees_pair(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, m2, e1 = mentor(program), mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    chosen = m2 if Pair.objects.get(match_run=run).mentor == m1 else m1
    former = Pair.objects.get(match_run=run).mentor.employee.full_name
    response = hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": chosen.pk, "mentee": e1.pk}, follow=True)
    assert any("now mentors" in m and f"{former} is unpaired now." in m for m in messages_of(response))
    pair = Pair.objects.get(match_run=run)
    assert (pair.mentor, pair.source, pair.created_by) == (chosen, "manual", response.wsgi_request.user)
    assert "by HR" in text(response)
    # The page reloads at the top, where the message is; the message links to the new row.
    page = text(response)
    assert f'href="{url("match_run_review", program, run.pk)}#pair-{pair.pk}">Show the pair</a>' in page and f'<tr id="pair-{pair.pk}"' in page


def test_edit_messages_link_to_the_row_in_the_view_hr_was_in_and_escape_names(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program, first_name="<b>Bold</b>"), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    a, b = Pair.objects.filter(match_run=run).order_by("id")
    response = hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": a.pk, "pair_b": b.pk, "show": "lowest"}, follow=True)
    page = text(response)
    review = url("match_run_review", program, run.pk)
    # Both new pairs are linked, each by its names.
    linked = dict(re.findall(rf'href="{re.escape(review)}\?show=lowest#pair-(\d+)">([^<]+)</a>', page))
    now = Pair.objects.filter(match_run=run).select_related("mentor__employee", "mentee__employee")
    assert linked == {str(p.pk): f"{escape(p.mentor.employee.full_name)} → {p.mentee.employee.full_name}" for p in now}
    assert not {a.pk, b.pk} & {p.pk for p in now}  # new pairs' rows
    assert all(f'<tr id="pair-{pk}"' in page for pk in linked)
    assert "&lt;b&gt;Bold&lt;/b&gt;" in page and "<b>Bold</b>" not in page
    first, second = sorted(p.pk for p in now)
    watch = text(hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": first, "pair_b": second, "show": "watch"}, follow=True))
    assert len(re.findall(rf'href="{re.escape(review)}#pair-\d+">', watch)) == 2  # the full list: "watch" may not list them


def test_manual_pair_with_someone_of_another_program_is_rejected(world, hr_client):
    run = world["mine"]["run"]
    stranger = world["other"]["enrollment"]
    response = hr_client.post(url("proposal_pair_manually", world["program"], run.pk), {"mentor": world["mine"]["pair"].mentor_id, "mentee": stranger.pk}, follow=True)
    assert any("valid choice" in m for m in messages_of(response))
    assert Pair.objects.filter(match_run=run).count() == 1


def test_swap_exchanges_the_mentors(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    a, b = Pair.objects.filter(match_run=run).order_by("id")
    response = hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": a.pk, "pair_b": b.pk}, follow=True)
    assert any(m.startswith("The two pairs swapped mentors: ") for m in messages_of(response))
    assert set(Pair.objects.filter(match_run=run).values_list("mentor_id", "mentee_id")) == {(a.mentor_id, b.mentee_id), (b.mentor_id, a.mentee_id)}


def test_swapping_a_pair_with_itself_is_refused(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pair = Pair.objects.get()
    response = hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": pair.pk, "pair_b": pair.pk}, follow=True)
    assert any("two different pairs" in m for m in messages_of(response))
    assert Pair.objects.get().pk == pair.pk


def test_swap_that_breaks_a_rule_is_refused(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    boss = EmployeeFactory(level=8)
    m_under_boss = mentor(program, manager=boss)
    m_free = mentor(program)
    e_boss = EnrollmentFactory(program=program, role="mentee", status=A, employee=boss)
    e_other = mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert set(Pair.objects.filter(match_run=run).values_list("mentor_id", "mentee_id")) == {(m_free.pk, e_boss.pk), (m_under_boss.pk, e_other.pk)}
    a, b = Pair.objects.filter(match_run=run)
    response = hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": a.pk, "pair_b": b.pk}, follow=True)
    assert any("Refused" in m and "reporting line" in m for m in messages_of(response))
    assert response.redirect_chain[-1][0].endswith(f"?pair_a={a.pk}&pair_b={b.pk}")
    swap_form = text(response).split('id="swap-heading"')[1].split("</form>")[0]
    assert len(re.findall(rf'<option value="(?:{a.pk}|{b.pk})" selected>', swap_form)) == 2
    assert set(Pair.objects.filter(match_run=run).values_list("pk", flat=True)) == {a.pk, b.pk}


def test_unpair_takes_a_pair_out_of_the_proposal(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pair = Pair.objects.get()
    response = hr_client.post(url("proposal_unpair", program, run.pk, pair.pk), follow=True)
    assert not Pair.objects.exists()
    assert any("no longer paired" in m and "keep them apart under Pins and exclusions" in m for m in messages_of(response))
    assert "Unpaired during review" in text(response) and e1.employee.full_name in text(response)


def test_an_unpair_can_be_undone_from_its_message_and_the_pair_keeps_the_engines_mark(program, hr_user, django_capture_on_commit_callbacks):
    from django.test import Client

    m1, e1 = mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pair = Pair.objects.get()
    assert pair.source == "engine"
    from tests.auth_helpers import login_with_mfa

    client = Client(enforce_csrf_checks=True)  # the undo form must carry a valid token
    login_with_mfa(client, hr_user)
    review = text(client.get(url("match_run_review", program, run.pk)))
    token = re.search(r"csrfmiddlewaretoken.{0,30}?value=\"([^\"]+)\"", review).group(1)
    page = text(client.post(url("proposal_unpair", program, run.pk, pair.pk), {"csrfmiddlewaretoken": token, "show": "lowest"}, follow=True))
    assert not Pair.objects.exists()
    form = re.search(r'<form method="post" action="([^"]+)" class="d-inline ms-1">(.*?)</form>', page)
    assert form and form.group(1) == url("proposal_pair_manually", program, run.pk) and ">Undo</button>" in form.group(2)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    assert (fields["mentor"], fields["mentee"], fields["show"]) == (str(m1.pk), str(e1.pk), "lowest")

    undone = client.post(form.group(1), fields, follow=True)
    restored = Pair.objects.get()
    assert (restored.mentor, restored.mentee, restored.source, restored.score) == (m1, e1, "engine", pair.score)
    assert "show=lowest" in undone.redirect_chain[-1][0]
    assert "by HR" not in text(undone).split('id="pairs-heading"')[1]


def test_undo_takes_nobodys_partner_and_does_nothing_twice(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, m2, e1 = mentor(program), mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pair = Pair.objects.get()
    other = m2 if pair.mentor == m1 else m1
    undo = {"mentor": pair.mentor_id, "mentee": pair.mentee_id, "undo": "1"}
    hr_client.post(url("proposal_unpair", program, run.pk, pair.pk))
    hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": other.pk, "mentee": e1.pk})  # HR pairs the mentee anew
    refused = hr_client.post(url("proposal_pair_manually", program, run.pk), undo, follow=True)
    assert any(m.startswith(f"Not undone: {e1.employee.full_name} has been paired with {other.employee.full_name} since.") for m in messages_of(refused))
    assert list(Pair.objects.values_list("mentor_id", "mentee_id")) == [(other.pk, e1.pk)]

    Pair.objects.all().delete()
    hr_client.post(url("proposal_pair_manually", program, run.pk), undo)
    first = Pair.objects.get()
    again = hr_client.post(url("proposal_pair_manually", program, run.pk), undo, follow=True)
    assert any("are already paired again" in m for m in messages_of(again))
    assert Pair.objects.get().pk == first.pk  # not recreated


def test_a_swap_swapped_back_is_the_engines_again(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    engine_pairs = set(Pair.objects.values_list("mentor_id", "mentee_id"))
    a, b = Pair.objects.order_by("id")
    hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": a.pk, "pair_b": b.pk})
    assert set(Pair.objects.values_list("source", flat=True)) == {"manual"}
    c, d = Pair.objects.order_by("id")
    hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": c.pk, "pair_b": d.pk})
    assert set(Pair.objects.values_list("mentor_id", "mentee_id")) == engine_pairs
    assert set(Pair.objects.values_list("source", flat=True)) == {"engine"}


def test_pin_and_exclude_from_the_review_page(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, m2, e1 = mentor(program), mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    review = url("match_run_review", program, run.pk)
    response = hr_client.post(url("override_set", program), {"mentor": m2.pk, "mentee": e1.pk, "kind": "pin", "next": review})
    assert response["Location"] == review
    assert PairingOverride.objects.get().kind == "pin"
    with django_capture_on_commit_callbacks(execute=True):
        hr_client.post(url("match_run_start", program))
    rerun = MatchRun.objects.filter(program=program).first()
    assert list(Pair.objects.filter(match_run=rerun).values_list("mentor_id", flat=True)) == [m2.pk]

    response = hr_client.post(url("override_set", program), {"mentor": m2.pk, "mentee": e1.pk, "kind": "exclude"}, follow=True)
    assert any("kept apart" in m and "This replaces their pin." in m for m in messages_of(response))
    assert PairingOverride.objects.get().kind == "exclude"
    with django_capture_on_commit_callbacks(execute=True):
        hr_client.post(url("match_run_start", program))
    rerun = MatchRun.objects.filter(program=program).first()
    assert list(Pair.objects.filter(match_run=rerun).values_list("mentor_id", flat=True)) == [m1.pk]

    # And back: their own exclusion does not stand in the way of pinning them again.
    response = hr_client.post(url("override_set", program), {"mentor": m2.pk, "mentee": e1.pk, "kind": "pin"}, follow=True)
    assert any("pinned together" in m and "This replaces their exclusion." in m for m in messages_of(response))
    assert PairingOverride.objects.get().kind == "pin"


def test_a_pin_that_breaks_a_hard_rule_is_refused_with_the_reason(program, hr_client):
    boss = EmployeeFactory(level=8)
    m = mentor(program, manager=boss)
    e = EnrollmentFactory(program=program, role="mentee", status=A, employee=boss)
    response = hr_client.post(url("override_set", program), {"mentor": m.pk, "mentee": e.pk, "kind": "pin"}, follow=True)
    assert any("Refused" in msg and "reporting line" in msg for msg in messages_of(response))
    assert not PairingOverride.objects.exists()


def test_remove_an_override(program, hr_user, hr_client):
    m, e = mentor(program), mentee(program)
    override = services.override_set(program=program, mentor=m, mentee=e, kind="exclude", by=hr_user)
    body = text(hr_client.get(url("pairing_home", program)))
    assert "Kept apart" in body and m.employee.full_name in body
    response = hr_client.post(url("override_remove", program, override.pk), {"next": "https://evil.example/"})
    assert response["Location"] == url("pairing_home", program)  # never an outside address
    assert not PairingOverride.objects.exists()


def test_override_needs_people_of_the_program(world, hr_client):
    stranger = world["other"]["enrollment"]
    m = world["mine"]["pair"].mentor
    response = hr_client.post(url("override_set", world["program"]), {"mentor": m.pk, "mentee": stranger.pk, "kind": "pin"}, follow=True)
    assert any("valid choice" in msg for msg in messages_of(response))
    assert not PairingOverride.objects.filter(mentee=stranger, program=world["program"]).exists()


# --- Publishing ---------------------------------------------------------------------------------------------


def test_publish_activates_pairs_tells_both_sides_and_starts_the_program(program, hr_user, hr_client, django_capture_on_commit_callbacks, deliver_outbox):
    m1, m2, e1, e2 = mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    response = hr_client.post(url("match_run_publish", program, run.pk), follow=True)
    assert "Published 2 pairs: everyone has been told by email." in messages_of(response)
    assert set(Pair.objects.values_list("status", flat=True)) == {"active"}
    program.refresh_from_db()
    run.refresh_from_db()
    assert program.status == "active" and run.status == "published" and run.published_by == hr_user
    assert deliver_outbox() == 4
    assert sorted(m.to[0] for m in mail.outbox) == sorted(e.employee.email for e in (m1, m2, e1, e2))

    body = text(response)  # read-only now
    assert "Published by" in body and "Unpair" not in body and "Pair them" not in body and "Swap mentors" not in body
    assert f'action="{url("match_run_publish", program, run.pk)}"' not in body

    again = hr_client.post(url("match_run_publish", program, run.pk), follow=True)
    assert any("already published by" in m and hr_user.get_full_name() in m for m in messages_of(again))
    assert deliver_outbox() == 0
    assert Pair.objects.count() == 2 and len(mail.outbox) == 4


def test_publishing_a_large_run_says_the_emails_are_on_their_way(program, hr_user, hr_client, settings, django_capture_on_commit_callbacks, deliver_outbox):
    settings.PAIRING_PUBLISH_SYNC_MAX_PAIRS = 1
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False) as nudges:
        response = hr_client.post(url("match_run_publish", program, run.pk), follow=True)
    assert "Published 2 pairs. The emails telling everyone are being written now and go out within minutes." in messages_of(response)
    assert "The emails telling everyone are being written; reload in a minute." in text(response)
    for nudge in nudges:
        nudge()
    assert deliver_outbox() == 4
    assert "being written" not in text(hr_client.get(url("match_run_review", program, run.pk)))


def test_a_published_run_refuses_edits(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    services.match_run_publish(run=run, by=hr_user)
    pair = Pair.objects.get()
    response = hr_client.post(url("proposal_unpair", program, run.pk, pair.pk), follow=True)
    assert any("Only an unpublished proposal can be changed" in m for m in messages_of(response))
    pair.refresh_from_db()
    assert pair.status == "active"


def test_a_superseded_run_is_read_only_and_points_to_the_newer_one(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    first = run_now(program, hr_user, django_capture_on_commit_callbacks)
    second = run_now(program, hr_user, django_capture_on_commit_callbacks)
    # A run that failed in between replaced nothing: the link skips it.
    MatchRun.objects.filter(pk=second.pk).update(created_at=second.created_at + timedelta(seconds=1))
    failed = MatchRun.objects.create(program=program, status=MatchRun.Status.FAILED, started_by=hr_user, error="boom", created_at=second.created_at)
    assert first.created_at < failed.created_at < MatchRun.objects.get(pk=second.pk).created_at
    body = text(hr_client.get(url("match_run_review", program, first.pk)))
    assert "A newer run replaced this proposal" in body and f"See run #{second.pk}" in body and f"See run #{failed.pk}" not in body
    assert "The pairs of a replaced proposal are not kept" in body and "Not paired" not in body
    assert "Publish" not in body and "Pair them" not in body
    # Found in QA: "24 pairs proposed" beside "Proposed pairs 0". The figures say whose they are.
    assert "pairs the engine proposed" in body and "before any change made in review" in body
    heading = body[body.index('id="pairs-heading"') : body.index("</h2>", body.index('id="pairs-heading"'))]
    assert "badge" not in heading
    home = text(hr_client.get(url("pairing_home", program)))
    row = home[home.index(f"Run #{first.pk}<") : home.index("</tr>", home.index(f"Run #{first.pk}<"))]
    assert "as proposed" in row
    response = hr_client.post(url("match_run_publish", program, first.pk), follow=True)
    assert any("Only a finished proposal can be published" in m for m in messages_of(response))


# --- Confidentiality ------------------------------------------------------------------------------------------


def test_the_please_not_with_list_never_appears(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    outsider = EmployeeFactory(first_name="Zebulon", last_name="Quillfeatherstone")
    m1, m2 = mentor(program), mentor(program)
    senior = mentee(program)
    senior.not_with.set([outsider, m2.employee])
    m1.not_with.set([outsider])
    lonely = mentee(program)  # unmatched for no reason but the two mentors' and its own requests
    lonely.not_with.set([m1.employee])
    m2.not_with.set([lonely.employee])
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pages = [
        hr_client.get(url("pairing_home", program)),
        hr_client.get(url("match_run_review", program, run.pk)),
        hr_client.get(url("match_run_alternatives", program, run.pk, senior.pk), headers={"HX-Request": "true"}),
        hr_client.get(url("match_run_alternatives", program, run.pk, m2.pk), headers={"HX-Request": "true"}),
        hr_client.get(url("match_run_alternatives", program, run.pk, m1.pk)),
    ]
    refused = hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": m2.pk, "mentee": senior.pk}, follow=True)
    pinned = hr_client.post(url("override_set", program), {"mentor": m2.pk, "mentee": senior.pk, "kind": "pin"}, follow=True)
    for page in (*pages, refused, pinned):
        body = text(page)
        assert "Quillfeatherstone" not in body
        assert "asked not to be paired" not in body and "not_with" not in body and "'not with'" not in body
        assert '"inputs"' not in body and '"mentors": [' not in body
    assert any("Refused" in m and "confidential preference" in m for m in messages_of(refused))
    assert any("Refused" in m and "confidential preference" in m for m in messages_of(pinned))
    assert m2.employee.full_name not in text(pages[2])  # not offered as an alternative either
    # The unmatched reason says a confidential preference, never how many.
    assert f"no mentor is allowed for {lonely.employee.full_name}: ruled out by a confidential preference" in text(pages[1])
    assert Pair.objects.get(match_run=run).mentor == m1


# --- Live pairs ----------------------------------------------------------------------------------------------------


def test_pairs_list_shows_live_and_ended_pairs_and_ends_one(program, hr_user, hr_client, django_capture_on_commit_callbacks, deliver_outbox):
    mentor(program), mentor(program), mentee(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    first, second = Pair.objects.order_by("id")
    services.pair_end(pair=second, reason=Pair.EndReason.NOT_A_FIT, by=hr_user, note="Different expectations")

    body = text(hr_client.get(url("pairs_list", program)))
    assert "1 live pair" in body and "Not a good fit" in body and "Different expectations" in body
    # Namesakes are told apart by their job title next to the department.
    assert f"{first.mentor.employee.title} · {first.mentor.employee.department.name}" in body
    assert body.count("End this pair") == 1 and f'action="{url("pair_end", program, first.pk)}"' in body
    assert f'href="{reverse("program_export", args=[program.pk])}"' in body  # the whole list as a spreadsheet

    response = hr_client.post(url("pair_end", program, first.pk), {"reason": "hr_decision", "note": "Reorganisation"}, follow=True)
    assert any("has ended" in m and "A re-match will not pair them again" in m for m in messages_of(response))
    home = text(hr_client.get(url("pairing_home", program)))
    assert home.count("their pair ended") == 2  # both endings left an exclusion HR can remove
    first.refresh_from_db()
    assert (first.status, first.end_reason, first.end_note, first.ended_by) == ("ended", "hr_decision", "Reorganisation", hr_user)
    assert first.ended_at is not None

    again = hr_client.post(url("pair_end", program, first.pk), {"reason": "other"}, follow=True)
    assert any("already ended" in m for m in messages_of(again))
    first.refresh_from_db()
    assert first.end_reason == "hr_decision"


def test_ending_a_pair_needs_a_known_reason(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    pair = Pair.objects.get()
    response = hr_client.post(url("pair_end", program, pair.pk), {"reason": "bored"}, follow=True)
    assert any("valid choice" in m for m in messages_of(response))
    pair.refresh_from_db()
    assert pair.status == "active"


def test_pairs_list_without_pairs_says_what_to_do(program, hr_client):
    body = text(hr_client.get(url("pairs_list", program)))
    assert "No pairs yet" in body and url("pairing_home", program) in body


def test_proposed_pairs_are_not_on_the_pairs_list(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m, e = mentor(program), mentee(program)
    run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert e.employee.full_name not in text(hr_client.get(url("pairs_list", program)))


def test_a_mentor_whose_mentee_withdrew_is_counted_and_offered_a_rematch(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    from programs.services import enrollment_withdraw

    m, e = mentor(program, first_name="Maya", last_name="Mentor"), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    pair = Pair.objects.get()
    enrollment_withdraw(enrollment=e, by_employee=e.employee, reason="No time")
    page = text(hr_client.get(url("pairing_home", program)))
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "1 approved mentor · 0 approved mentees · 1 approved person without a live pair (1 mentor, 0 mentees)" in plain
    waiting = page[page.index('data-testid="waiting-for-partner"') : page.index('id="runs-heading"')]
    assert "Maya Mentor" in waiting and reverse("employee_detail", args=[m.employee_id]) in waiting
    assert url("hr_pair", program, pair.pk) in waiting and "A participant withdrew" in waiting
    assert f'action="{url("match_run_start", program)}"' in waiting and "Re-match them" in waiting
    assert "No approved mentee is free" in waiting  # a re-match now would find nobody for her
    assert "No time" not in page  # the reason is on the pair page, not in this list
    pairs = text(hr_client.get(url("pairs_list", program)))
    assert f"{e.employee.full_name} withdrew" in pairs and url("hr_pair", program, pair.pk) in pairs and "No time" not in pairs

    # A late joiner approved: the re-match from here pairs the mentor again.
    late = mentee(program)
    with django_capture_on_commit_callbacks(execute=True):
        hr_client.post(url("match_run_start", program))
    rematch = MatchRun.objects.filter(program=program).first()
    assert rematch.kind == "rematch" and list(Pair.objects.filter(match_run=rematch).values_list("mentor_id", "mentee_id")) == [(m.pk, late.pk)]
    services.match_run_publish(run=rematch, by=hr_user)
    after = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text(hr_client.get(url("pairing_home", program)))))
    assert "0 approved people without a live pair (0 mentors, 0 mentees)" in after and "Waiting for a partner" not in after


def test_the_waiting_list_is_only_for_a_running_program(program, hr_client):
    mentor(program), mentee(program)  # in Matching: everyone is unpaired until the first run
    page = text(hr_client.get(url("pairing_home", program)))
    assert "without a live pair" not in page and 'data-testid="waiting-for-partner"' not in page


# --- Constant queries as rows grow ------------------------------------------------------------------------------------


def _grow(program, n):
    for _ in range(n):
        mentor(program), mentee(program)


def test_review_page_queries_do_not_grow_with_pairs(program, hr_user, hr_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    _grow(program, 2)
    small = run_now(program, hr_user, django_capture_on_commit_callbacks)
    PairingOverride.objects.create(program=program, kind="exclude", mentor=Pair.objects.filter(match_run=small).first().mentor, mentee=Pair.objects.filter(match_run=small).first().mentee)
    with CaptureQueriesContext(connection) as few:
        assert hr_client.get(url("match_run_review", program, small.pk)).status_code == 200
    _grow(program, 6)
    big = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert Pair.objects.filter(match_run=big).count() >= 7
    with django_assert_max_num_queries(len(few)):
        assert hr_client.get(url("match_run_review", program, big.pk)).status_code == 200


def test_pairs_list_queries_do_not_grow_with_pairs(program, hr_user, hr_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    _grow(program, 2)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    services.pair_end(pair=Pair.objects.first(), reason="other", by=hr_user)
    with CaptureQueriesContext(connection) as few:
        hr_client.get(url("pairs_list", program))
    _grow(program, 6)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    services.pair_end(pair=Pair.objects.last(), reason="other", by=hr_user)
    assert Pair.objects.filter(program=program).count() >= 8
    with django_assert_max_num_queries(len(few)):
        assert hr_client.get(url("pairs_list", program)).status_code == 200


def test_pairing_home_queries_do_not_grow_with_runs_and_overrides(program, hr_user, hr_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    _grow(program, 2)
    run_now(program, hr_user, django_capture_on_commit_callbacks)
    mentors = list(program.enrollments.filter(role="mentor"))
    mentees = list(program.enrollments.filter(role="mentee"))
    PairingOverride.objects.create(program=program, kind="exclude", mentor=mentors[0], mentee=mentees[0], created_by=hr_user)
    with CaptureQueriesContext(connection) as few:
        hr_client.get(url("pairing_home", program))
    for _ in range(4):
        run_now(program, hr_user, django_capture_on_commit_callbacks)
    PairingOverride.objects.create(program=program, kind="exclude", mentor=mentors[1], mentee=mentees[1], created_by=hr_user)
    with django_assert_max_num_queries(len(few)):
        assert hr_client.get(url("pairing_home", program)).status_code == 200


def test_pairing_home_queries_do_not_grow_with_people_waiting_for_a_partner(program, hr_user, hr_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    from pairing.views import WAITING_LIST_LIMIT

    _grow(program, 2)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    services.pair_end(pair=Pair.objects.first(), reason="other", by=hr_user)
    mentor(program)  # approved, never paired
    with CaptureQueriesContext(connection) as few:
        assert len(hr_client.get(url("pairing_home", program)).context["waiting"]) == 3
    for _ in range(WAITING_LIST_LIMIT + 2):
        mentor(program)
    with django_assert_max_num_queries(len(few)):
        page = hr_client.get(url("pairing_home", program))
    assert len(page.context["waiting"]) == WAITING_LIST_LIMIT and page.context["waiting_more"] == 5
    assert "and 5 more" in text(page)


def test_alternatives_queries_are_constant(program, hr_user, hr_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    _grow(program, 3)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    person = program.enrollments.filter(role="mentee").first()
    with CaptureQueriesContext(connection) as few:
        hr_client.get(url("match_run_alternatives", program, run.pk, person.pk), headers={"HX-Request": "true"})
    _grow(program, 6)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(len(few)):
        hr_client.get(url("match_run_alternatives", program, run.pk, person.pk), headers={"HX-Request": "true"})


def test_a_pinned_pair_carries_a_pinned_badge(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    services.override_set(program=program, mentor=m1, mentee=e1, kind=PairingOverride.Kind.PIN, by=hr_user)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    row = body[body.index(f'id="pair-{Pair.objects.get(match_run=run).pk}"') :]
    assert "pinned</span>" in row[: row.index("</tr>")]


def test_review_sets_what_to_watch_apart_from_the_reasons(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pair = Pair.objects.get(match_run=run)
    pair.breakdown = {**pair.breakdown, "shared_languages": [], "shared_slots": ["mon-09:00", "mon-09:30"]}
    pair.save()
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    row = body[body.index(f'id="pair-{pair.pk}"') :]
    row = row[: row.index("</tr>")]
    reasons, watch = row.split("To watch")
    assert "both free 1 hour a week" in reasons and "no shared language" not in reasons
    assert "no shared language" in watch and "both free" not in watch


def test_home_counts_the_pairs_a_run_holds_after_review(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    services.proposal_unpair(run=run, pair=Pair.objects.filter(match_run=run).first(), by=hr_user)
    body = text(hr_client.get(url("pairing_home", program)))
    row = body[body.rindex(f"Run #{run.pk}") :]  # its row in the table (the alert above names it too)
    row = row[: row.index("</tr>")]
    assert '<td class="text-end">1<div class="small text-body-secondary">engine: 2</div></td>' in row
    # Match rate and total score follow what the run holds too, beside the engine's total.
    kept = Pair.objects.get(match_run=run)
    assert '<td class="text-end">50%<div class="small text-body-secondary">engine: 100%</div></td>' in row
    assert f'<td class="text-end">{kept.score}<div class="small text-body-secondary">engine: {run.stats["total_score"]}</div></td>' in row


def test_review_summary_follows_the_edits(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    review = url("match_run_review", program, run.pk)

    def tiles():
        body = text(hr_client.get(review))
        section = body[body.index("stats-heading") : body.index("</section>", body.index("stats-heading"))]
        values = re.findall(r'<div class="stat-value">([^<]*)</div>\s*<div class="small text-body-secondary">([^<]*)</div>', section)
        return {label: value for value, label in values}, section

    engine_total = run.stats["total_score"]
    figures, section = tiles()
    assert figures["pairs proposed"] == "2" and figures["of mentees matched"] == "100%" and figures["total score"] == str(engine_total)
    assert "The engine proposed" not in section
    both = sorted(Pair.objects.filter(match_run=run).values_list("score", flat=True))
    assert figures["median score, out of 1000"] == str((both[0] + both[1]) / 2).removesuffix(".0")  # halfway, not the upper one

    gone, kept = Pair.objects.filter(match_run=run).order_by("score", "id")
    services.proposal_unpair(run=run, pair=gone, by=hr_user)
    figures, section = tiles()
    assert figures["pairs proposed"] == "1" and figures["of mentees matched"] == "50%"
    assert figures["total score"] == str(kept.score) and figures["lowest score, out of 1000"] == str(kept.score)
    assert f"The engine proposed 2 pairs (100% of mentees matched, total score {engine_total})" in section
    assert "Reasons are the engine's, from when it ran" in text(hr_client.get(review))

    services.match_run_publish(run=run, by=hr_user)
    figures, _ = tiles()
    assert figures["pairs published"] == "1" and figures["total score"] == str(kept.score)


def test_home_lists_runs_newest_first(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    runs = [run_now(program, hr_user, django_capture_on_commit_callbacks) for _ in range(3)]
    body = text(hr_client.get(url("pairing_home", program)))
    assert body.index(f"Run #{runs[2].pk}<") < body.index(f"Run #{runs[1].pk}<") < body.index(f"Run #{runs[0].pk}<")


def test_a_published_run_still_lists_who_was_taken_apart_in_review(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    apart = Pair.objects.filter(match_run=run).select_related("mentee__employee").first()
    services.proposal_unpair(run=run, pair=apart, by=hr_user)
    services.match_run_publish(run=run, by=hr_user)
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    unpaired = body[body.index("unpaired-heading") :]
    assert apart.mentee.employee.full_name in unpaired and "Their pair was taken apart during review." in unpaired


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [(299, 300, "99.7%"), (2999, 3000, "99.9%"), (1, 3000, "0.1%"), (1, 3, "33.3%"), (1, 2, "50%"), (300, 300, "100%"), (0, 300, "0%"), (0, 0, "—")],
)
def test_match_rates_are_never_rounded_to_all_or_none(part, whole, shown):
    from pairing.views import rate_text

    assert rate_text(part, whole) == shown


def test_review_and_home_show_a_rate_short_of_all_as_such(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    for _ in range(3):
        mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    services.proposal_unpair(run=run, pair=Pair.objects.filter(match_run=run).first(), by=hr_user)
    review = text(hr_client.get(url("match_run_review", program, run.pk)))
    assert '<div class="stat-value">66.7%</div>' in review
    assert "(100% of mentees matched" in review
    assert "66.7%<div" in text(hr_client.get(url("pairing_home", program)))


def test_a_stale_unpair_or_swap_says_the_proposal_changed(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    for _ in range(3):
        mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    first, second, third = Pair.objects.filter(match_run=run).order_by("id")
    swap = {"pair_a": first.pk, "pair_b": second.pk}
    scores_before = first.score + second.score
    done = hr_client.post(url("proposal_swap", program, run.pk), swap, follow=True)
    [message] = messages_of(done)
    a, b = Pair.objects.filter(match_run=run).exclude(pk=third.pk).order_by("id")
    change = a.score + b.score - scores_before
    assert "swapped mentors" in message and f"(score {a.score} out of 1000)" in message and f"(score {b.score} out of 1000)" in message
    assert (f"the total score changes by {change:+d}." if change else "the total score is unchanged.") in message

    # The old page still holds the replaced pairs' buttons.
    stale_unpair = hr_client.post(url("proposal_unpair", program, run.pk, first.pk), follow=True)
    assert stale_unpair.status_code == 200 and any("changed since this page was loaded" in m for m in messages_of(stale_unpair))
    stale_swap = hr_client.post(url("proposal_swap", program, run.pk), swap, follow=True)
    assert [m for m in messages_of(stale_swap) if "changed since this page was loaded" in m]
    assert Pair.objects.filter(match_run=run).count() == 3


def test_running_again_from_the_home_page_asks_when_a_proposal_waits(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    assert "data-confirm" not in text(hr_client.get(url("pairing_home", program)))
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert f"Run #{run.pk} is waiting for review: it and any changes made to it are replaced" in text(hr_client.get(url("pairing_home", program)))


def test_pages_are_compressed_for_browsers_that_accept_it(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    import gzip

    for _ in range(6):
        mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    plain = hr_client.get(url("match_run_review", program, run.pk))
    packed = hr_client.get(url("match_run_review", program, run.pk), HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    page = gzip.decompress(packed.content).decode()
    assert "Proposed pairs" in page and len(packed.content) * 3 < len(page)


def test_review_lists_the_weakest_first_or_only_pairs_with_something_to_watch(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    for _ in range(4):
        mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    pairs = list(Pair.objects.filter(match_run=run))
    review = url("match_run_review", program, run.pk)

    def rows(query):
        return [int(pk) for pk in re.findall(r'<tr id="pair-(\d+)">', text(hr_client.get(review, query)))]

    best_first = rows({})
    assert sorted(best_first) == sorted(p.pk for p in pairs)
    lowest = rows({"show": "lowest"})
    scores = {p.pk: p.score for p in pairs}
    assert [scores[pk] for pk in lowest] == sorted(scores.values())
    watch = rows({"show": "watch"})
    assert set(watch) == {p.pk for p in pairs if p.drawbacks}
    body = text(hr_client.get(review))
    assert f"{len(watch)} with something to watch" in body and "0 not paired" in body


def test_the_pin_choosers_say_who_already_has_a_pair(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    late = mentee(program)
    body = text(hr_client.get(url("pairing_home", program)))
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', body))
    assert options[str(m1.pk)].endswith("· has a pair") and options[str(e1.pk)].endswith("· has a pair")
    assert "has a pair" not in options[str(late.pk)] and late.employee.email in options[str(late.pk)]


def test_a_pair_kept_apart_after_the_run_is_not_formed_by_hand_in_its_proposal(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, m2, e1, e2 = mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    a, b = Pair.objects.filter(match_run=run).order_by("id")
    # Keep apart the pair a swap would form, and one the proposal holds already.
    response = hr_client.post(url("override_set", program), {"mentor": b.mentor_id, "mentee": a.mentee_id, "kind": "exclude"}, follow=True)
    assert not any("paired in the proposal under review" in m for m in messages_of(response))
    response = hr_client.post(url("override_set", program), {"mentor": a.mentor_id, "mentee": a.mentee_id, "kind": "exclude"}, follow=True)
    assert any("They are paired in the proposal under review: unpair them there" in m for m in messages_of(response))

    swap = hr_client.post(url("proposal_swap", program, run.pk), {"pair_a": a.pk, "pair_b": b.pk}, follow=True)
    assert any("Refused" in m and "an admin excluded the pair" in m for m in messages_of(swap))
    by_hand = hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": b.mentor_id, "mentee": a.mentee_id}, follow=True)
    assert any("Refused" in m and "an admin excluded the pair" in m for m in messages_of(by_hand))
    assert set(Pair.objects.filter(match_run=run).values_list("pk", flat=True)) == {a.pk, b.pk}


def test_edits_return_to_the_review_view_hr_was_in(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    for _ in range(3):
        mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    page = text(hr_client.get(url("match_run_review", program, run.pk), {"show": "lowest"}))
    assert page.count('<input type="hidden" name="show" value="lowest">') >= 3 + 2  # each Unpair, the manual pair and swap forms
    pair = Pair.objects.filter(match_run=run).first()
    response = hr_client.post(url("proposal_unpair", program, run.pk, pair.pk), {"show": "lowest"})
    assert response["Location"] == url("match_run_review", program, run.pk) + "?show=lowest"
    assert hr_client.post(url("proposal_unpair", program, run.pk, pair.pk), {"show": "<x>"})["Location"] == url("match_run_review", program, run.pk)


def test_names_in_the_choosers_are_escaped(program, hr_client):
    mentor(program, first_name="<script>alert(1)</script>")
    body = text(hr_client.get(url("pairing_home", program)))
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_a_completed_programs_pairing_page_offers_no_next_run(hr_client, hr_user):
    """Found in QA: it said to move the program back to Matching (impossible once completed)
    and offered pins and exclusions 'for the next run'."""
    program = ProgramFactory(status=Program.Status.COMPLETED)
    m, e = mentor(program), mentee(program)
    page = text(hr_client.get(url("pairing_home", program)))
    assert "The program has completed: its pairs have ended and there is no more matching." in page
    assert "move it to Matching" not in page and url("override_set", program) not in page
    response = hr_client.post(url("override_set", program), {"mentor": m.pk, "mentee": e.pk, "kind": "exclude"}, follow=True)
    assert "there is no next run to steer" in text(response)
    assert not PairingOverride.objects.exists()


def test_pairing_pages_say_a_level_as_a_level_not_like_a_job_title(db):
    """QA: choosers said 'Hamza Fernandes · Sales · Senior Director' where the pairs list said
    'Director, Sales' (his title): the level label read as a second, different title."""
    from pairing.forms import PersonChoiceField
    from tests.factories import EmployeeFactory, EnrollmentFactory

    employee = EmployeeFactory(first_name="Hamza", last_name="Fernandes", level=8, level_label="Senior Director", title="Director, Sales")
    enrollment = EnrollmentFactory(employee=employee, role="mentee")
    label = PersonChoiceField(queryset=None).label_from_instance(enrollment)
    assert " · level 8 (Senior Director) · " in label
    assert EmployeeFactory(level=3, level_label="").level_text == "level 3"


# --- Scores with their scale ----------------------------------------------------------------------


def test_scores_read_as_out_of_1000_on_every_pairing_page(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    m1, m2, e1, e2 = mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    first, second = Pair.objects.filter(match_run=run).order_by("-score", "id")

    review = text(hr_client.get(url("match_run_review", program, run.pk)))
    row = review.split(f'id="pair-{first.pk}"')[1].split("</tr>")[0]
    assert f"{first.score}/1000" in shown(row) and f"{first.score} out of 1000" in read_aloud(row)
    assert "median score, out of 1000" in review and "lowest score, out of 1000" in review and "Score (out of 1000)" in review
    swap_form = review.split('id="swap-heading"')[1].split("</form>")[0]
    assert f"→ {first.mentee.employee.full_name} ({first.score}/1000)</option>" in swap_form

    other_mentor = m2 if first.mentor == m1 else m1
    done = hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": other_mentor.pk, "mentee": first.mentee.pk}, follow=True)
    new = Pair.objects.get(match_run=run, mentee=first.mentee)
    assert any(f"(score {new.score} out of 1000)" in m for m in messages_of(done))

    services.match_run_publish(run=run, by=hr_user)
    listed = text(hr_client.get(url("pairs_list", program)))
    assert f"{new.score}/1000" in shown(listed.split(f'id="pair-{new.pk}"')[1].split("</tr>")[0])
    page = text(hr_client.get(url("hr_pair", program, new.pk)))
    assert f"score {new.score}/1000" in shown(page) and f"score {new.score} out of 1000" in read_aloud(page)


def test_a_person_below_the_minimum_score_is_listed_with_the_scale(hr_user, hr_client, django_capture_on_commit_callbacks):
    program = ProgramFactory(status=Program.Status.MATCHING, min_score=1000, min_level_gap=2)
    mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert {u["reason"] for u in run.result["unmatched"]} == {"below_min_score"}
    assert "Scores run from 0 to 1000; this program proposes no pair below 1000." in text(hr_client.get(url("match_run_review", program, run.pk)))


# --- People already paired in another program -----------------------------------------------------


def _paired_in(other_program, *, mentor_employee=None, mentee_employee=None):
    """A live pair in `other_program` for the given person on the given side (the partner is new)."""
    m = EnrollmentFactory(program=other_program, role="mentor", status=A, employee=mentor_employee or EmployeeFactory(level=1))
    e = EnrollmentFactory(program=other_program, role="mentee", status=A, employee=mentee_employee or EmployeeFactory(level=8))
    return Pair.objects.create(program=other_program, mentor=m, mentee=e, status=Pair.Status.ACTIVE)


def test_review_says_who_is_already_paired_in_another_program(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    junior, senior = mentor(program), mentee(program)
    other = ProgramFactory(name="Digital fluency", status=Program.Status.ACTIVE)
    elsewhere = _paired_in(other, mentor_employee=junior.employee)
    _paired_in(other, mentee_employee=senior.employee)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert Pair.objects.filter(match_run=run, mentor=junior, mentee=senior).exists()  # under the cross-program cap: proposed

    row = text(hr_client.get(url("match_run_review", program, run.pk))).split('id="pair-')[1].split("</tr>")[0]
    hints = re.findall(r'data-testid="paired-elsewhere">(.*?)</div>', row)
    assert [shown(h) for h in hints] == [
        f"Also mentoring {elsewhere.mentee.employee.full_name} in Digital fluency",
        f"Also mentored by {Pair.objects.get(program=other, mentee__employee=senior.employee).mentor.employee.full_name} in Digital fluency",
    ]

    panel = text(hr_client.get(url("match_run_alternatives", program, run.pk, junior.pk), headers={"HX-Request": "true"}))
    assert f"Also mentoring {elsewhere.mentee.employee.full_name} in Digital fluency" in shown(panel)


def test_a_mentor_at_the_cross_program_cap_is_unpaired_and_says_where(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    program.max_active_pairs_per_mentor = 1
    program.save()
    junior, _senior = mentor(program), mentee(program)
    _paired_in(ProgramFactory(name="Digital fluency", status=Program.Status.ACTIVE), mentor_employee=junior.employee)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert not Pair.objects.filter(match_run=run).exists()
    body = shown(text(hr_client.get(url("match_run_review", program, run.pk))))
    assert "Also mentoring" in body and "in Digital fluency" in body


def test_review_page_queries_do_not_grow_with_people_paired_elsewhere(program, hr_user, hr_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    _grow(program, 2)
    first = program.enrollments.filter(role="mentor").first()
    _paired_in(ProgramFactory(status=Program.Status.ACTIVE), mentor_employee=first.employee)
    small = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as few:
        assert hr_client.get(url("match_run_review", program, small.pk)).status_code == 200
    _grow(program, 6)
    others = [ProgramFactory(status=Program.Status.ACTIVE) for _ in range(3)]
    for i, enrollment in enumerate(program.enrollments.all()):
        side = {"mentor_employee": enrollment.employee} if enrollment.role == "mentor" else {"mentee_employee": enrollment.employee}
        if not Pair.objects.filter(program=others[i % 3], **{f"{enrollment.role}__employee": enrollment.employee}).exists():
            _paired_in(others[i % 3], **side)
    big = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert Pair.objects.filter(match_run=big).count() >= 7
    with django_assert_max_num_queries(len(few)):
        page = hr_client.get(url("match_run_review", program, big.pk))
    assert text(page).count('data-testid="paired-elsewhere"') >= 14


# --- People who left the program after the run ------------------------------------------------------


def _review_with_a_leaver(program, hr_user, capture, how):
    """A proposal of three pairs, then one proposed mentor goes (erased, withdrew or left)."""
    from mentoring.gdpr import person_erase
    from programs.services import enrollment_withdraw

    for i in range(3):
        mentor(program, first_name="Mentor", last_name=f"Number{i}"), mentee(program, first_name="Mentee", last_name=f"Number{i}")
    run = run_now(program, hr_user, capture)
    gone = Pair.objects.filter(match_run=run).select_related("mentor__employee").order_by("pk").first().mentor
    if how == "erased":
        person_erase(employee=gone.employee, by=hr_user, confirm_email=gone.employee.email)
    elif how == "withdrew":
        enrollment_withdraw(enrollment=gone, by_employee=gone.employee, reason="No time")
    else:
        from pairing.services import pairs_end_for_leavers

        type(gone.employee).objects.filter(pk=gone.employee_id).update(left_date=timezone_today() - timedelta(days=1))
        pairs_end_for_leavers(employee_ids=[gone.employee_id])
    gone.refresh_from_db()
    gone.employee.refresh_from_db()
    return run, gone


def timezone_today():
    from django.utils import timezone

    return timezone.localdate()


@pytest.mark.parametrize(("how", "said"), [("erased", "was erased"), ("withdrew", "withdrew"), ("left", "left the company")])
def test_someone_who_left_after_the_run_is_shown_apart_and_offered_to_nobody(program, hr_user, hr_client, django_capture_on_commit_callbacks, how, said):
    run, gone = _review_with_a_leaver(program, hr_user, django_capture_on_commit_callbacks, how)
    name = gone.employee.full_name
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    left = body[body.index('id="left-heading"') :]
    unpaired = body[body.index('id="unpaired-heading"') : body.index('id="left-heading"')]
    assert "No longer in the program" in left and name in left.split("</section>")[0] and said in left.split("</section>")[0]
    # Nobody took a pair apart: their partner is unpaired because they went.
    assert "Unpaired during review" not in unpaired and "taken apart" not in unpaired
    assert "Partner left the program" in unpaired and f"Their partner in this proposal, {name}, {said}." in shown(unpaired)
    assert url("match_run_alternatives", program, run.pk, gone.pk) not in body
    chooser = body[body.index('id="manual-heading"') : body.index("Pair them</button>")]
    assert f'value="{gone.pk}"' not in chooser and name not in chooser
    assert "2 / 3" in shown(body)  # mentors / mentees in the pool: the one who went no longer counts


def test_alternatives_leave_out_and_refuse_someone_who_left_after_the_run(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    run, gone = _review_with_a_leaver(program, hr_user, django_capture_on_commit_callbacks, "erased")
    body = text(hr_client.get(url("match_run_alternatives", program, run.pk, gone.pk), headers={"HX-Request": "true"}))
    assert "is no longer in the program (was erased)" in body and "Pair them instead" not in body
    alone = Pair.objects.filter(match_run=run).first().mentee  # someone whose alternatives the erased mentor scored well for
    body = text(hr_client.get(url("match_run_alternatives", program, run.pk, alone.pk), headers={"HX-Request": "true"}))
    assert gone.employee.full_name not in body and f'name="mentor" value="{gone.pk}"' not in body


def test_pairing_someone_who_left_after_the_run_is_refused_in_words(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    run, gone = _review_with_a_leaver(program, hr_user, django_capture_on_commit_callbacks, "withdrew")
    free_mentee = next(e for e in program.enrollments.filter(role="mentee") if not Pair.objects.filter(match_run=run, mentee=e).exists())
    before = list(Pair.objects.filter(match_run=run).values_list("pk", flat=True))
    response = hr_client.post(url("proposal_pair_manually", program, run.pk), {"mentor": gone.pk, "mentee": free_mentee.pk}, follow=True)
    assert messages_of(response) == [f"{gone.employee.full_name} withdrew, so they cannot be paired in this proposal."]
    assert list(Pair.objects.filter(match_run=run).values_list("pk", flat=True)) == before


def test_a_published_run_offers_no_alternatives_for_someone_erased_since(program, hr_user, hr_client, django_capture_on_commit_callbacks):
    from mentoring.gdpr import person_erase

    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    services.match_run_publish(run=run, by=hr_user)
    pair = Pair.objects.filter(match_run=run).select_related("mentee__employee").first()
    person_erase(employee=pair.mentee.employee, by=hr_user, confirm_email=pair.mentee.employee.email)
    body = text(hr_client.get(url("match_run_review", program, run.pk)))
    assert url("match_run_alternatives", program, run.pk, pair.mentee_id) not in body
    assert f"Erased person #{pair.mentee.employee_id}" in body and "No longer in the program: was erased" in body


def test_review_page_queries_do_not_grow_with_people_who_left(program, hr_user, hr_client, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    from programs.services import enrollment_withdraw

    _grow(program, 3)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as few:
        assert hr_client.get(url("match_run_review", program, run.pk)).status_code == 200
    for pair in Pair.objects.filter(match_run=run).select_related("mentor__employee", "mentee__employee")[:2]:
        enrollment_withdraw(enrollment=pair.mentee, by_employee=pair.mentee.employee, reason="No time")
    with django_assert_max_num_queries(len(few)):
        assert hr_client.get(url("match_run_review", program, run.pk)).status_code == 200

"""Pairing in the app: match runs from the database, review, publish, re-match, ending pairs."""

import json
import threading

import pytest
from django.core import mail
from django.db import connection

from mentoring.models import AuditEvent
from pairing import services
from pairing.models import Pair, PairingOverride
from pairing.services import MatchError
from programs.models import Enrollment, Program
from programs.services import enrollment_withdraw
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, make_person

from tests.pairing.helpers import mentee, mentor, run_now

pytestmark = pytest.mark.django_db
A = Enrollment.Status.APPROVED


@pytest.fixture
def program():
    return ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2, ban_same_manager=True)




def test_a_run_proposes_pairs_with_reasons_and_stores_its_inputs(program, hr_user, django_capture_on_commit_callbacks):
    mentors = [mentor(program) for _ in range(3)]
    mentees = [mentee(program) for _ in range(3)]
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert run.status == "proposed" and run.started_by == hr_user and run.progress == 100
    pairs = list(Pair.objects.filter(match_run=run))
    assert len(pairs) == 3 and all(p.status == "proposed" for p in pairs)
    assert {p.mentee_id for p in pairs} == {e.pk for e in mentees}
    assert {p.mentor_id for p in pairs} <= {m.pk for m in mentors}
    assert all(p.reasons and any("apart" in r for r in p.reasons) for p in pairs)
    assert len(run.inputs["mentors"]) == 3 and run.result["pairs"]
    assert run.stats["match_rate"] == 1.0


def test_the_reporting_line_is_never_crossed_at_any_depth(program, hr_user, django_capture_on_commit_callbacks):
    boss = EmployeeFactory(level=8)
    middle = EmployeeFactory(level=6, manager=boss)
    junior = mentor(program, manager=middle)  # the boss is two levels up
    EnrollmentFactory(program=program, role="mentee", status=A, employee=boss)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert not Pair.objects.filter(match_run=run).exists()
    unmatched = {u["id"]: u["reason"] for u in run.result["unmatched"]}
    assert unmatched[boss.pk] == "no_feasible_partner" and unmatched[junior.employee_id] in ("no_feasible_partner", "not_needed")


def test_runs_need_the_matching_state(hr_user):
    program = ProgramFactory(status=Program.Status.ENROLLMENT_OPEN)
    with pytest.raises(MatchError, match="enrollment has closed"):
        services.match_run_start(program=program, by=hr_user)


def test_one_side_empty_gives_a_clear_empty_proposal_not_a_crash(program, hr_user, django_capture_on_commit_callbacks):
    mentor(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert run.status == "proposed" and run.stats["pairs"] == 0
    assert len(run.result["unmatched"]) == 1


def test_executing_a_run_twice_does_the_work_once(program, hr_user):
    mentor(program), mentee(program)
    run = services.match_run_start(program=program, by=hr_user)  # on_commit not run: still queued
    services.match_run_execute(run_id=run.pk)
    services.match_run_execute(run_id=run.pk)
    assert Pair.objects.filter(match_run=run).count() == 1


def test_a_new_run_supersedes_the_unpublished_proposal(program, hr_user, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    first = run_now(program, hr_user, django_capture_on_commit_callbacks)
    second = run_now(program, hr_user, django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert first.status == "superseded" and second.status == "proposed"
    assert Pair.objects.filter(program=program).count() == 1


def test_manual_pair_is_checked_against_hard_constraints(program, hr_user, django_capture_on_commit_callbacks):
    m1 = mentor(program)
    e1 = mentee(program)
    e2 = mentee(program, level=3)  # a gap of one level: seniority rule broken
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with pytest.raises(MatchError, match="Refused"):
        services.proposal_pair_manually(run=run, mentor=m1, mentee=e2, by=hr_user)
    pair = services.proposal_pair_manually(run=run, mentor=m1, mentee=e1, by=hr_user)
    assert pair.source == "engine" and pair.score > 0  # the engine's own pair, put back by hand
    assert Pair.objects.filter(match_run=run, mentee=e1).count() == 1


def test_swap_exchanges_mentors_when_both_new_pairs_are_allowed(program, hr_user, django_capture_on_commit_callbacks):
    mentor(program), mentor(program)
    mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    a, b = Pair.objects.filter(match_run=run).order_by("id")
    services.proposal_swap(run=run, pair_a=a, pair_b=b, by=hr_user)
    after = set(Pair.objects.filter(match_run=run).values_list("mentor_id", "mentee_id"))
    assert after == {(a.mentor_id, b.mentee_id), (b.mentor_id, a.mentee_id)}


def test_pin_and_exclude_shape_the_next_run(program, hr_user, django_capture_on_commit_callbacks):
    m1, m2 = mentor(program), mentor(program)
    e1 = mentee(program)
    services.override_set(program=program, mentor=m2, mentee=e1, kind=PairingOverride.Kind.PIN, by=hr_user)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert list(Pair.objects.filter(match_run=run).values_list("mentor_id", flat=True)) == [m2.pk]
    PairingOverride.objects.all().delete()
    services.override_set(program=program, mentor=m2, mentee=e1, kind=PairingOverride.Kind.EXCLUDE, by=hr_user)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert list(Pair.objects.filter(match_run=run).values_list("mentor_id", flat=True)) == [m1.pk]


def test_a_pin_that_breaks_a_hard_rule_is_refused(program, hr_user):
    boss = EmployeeFactory(level=8)
    m = mentor(program, manager=boss)
    e = EnrollmentFactory(program=program, role="mentee", status=A, employee=boss)
    with pytest.raises(MatchError, match="Refused"):
        services.override_set(program=program, mentor=m, mentee=e, kind=PairingOverride.Kind.PIN, by=hr_user)
    assert not PairingOverride.objects.exists()


def test_publish_activates_pairs_tells_both_sides_and_starts_the_program(program, hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    m1, e1 = mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert services.match_run_publish(run=run, by=hr_user) == 1
    pair = Pair.objects.get()
    program.refresh_from_db()
    assert pair.status == "active" and pair.started_at is not None
    assert program.status == "active"
    deliver_outbox()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([m1.employee.email, e1.employee.email])
    assert any(e1.employee.full_name in m.subject for m in mail.outbox)

    with pytest.raises(MatchError, match="already published"):
        services.match_run_publish(run=run, by=hr_user)
    deliver_outbox()
    assert Pair.objects.count() == 1 and len(mail.outbox) == 2


def test_rematch_pairs_only_the_remaining_pool(program, hr_user, django_capture_on_commit_callbacks):
    mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    services.match_run_publish(run=run, by=hr_user)
    live = Pair.objects.get()
    program.refresh_from_db()
    m2, e2 = mentor(program), mentee(program)  # late joiners
    rematch = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert rematch.kind == "rematch"
    assert list(Pair.objects.filter(match_run=rematch).values_list("mentor_id", "mentee_id")) == [(m2.pk, e2.pk)]
    live.refresh_from_db()
    assert live.status == "active" and live.match_run == run


def test_withdrawal_ends_the_pair_and_tells_the_partner(program, hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    m1, e1 = mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    deliver_outbox()
    mail.outbox.clear()
    enrollment_withdraw(enrollment=e1, by_employee=e1.employee, reason="Moving abroad")
    pair = Pair.objects.get()
    assert pair.status == "ended" and pair.end_reason == "withdrawal" and pair.ended_at
    deliver_outbox()
    [to_partner] = [m for m in mail.outbox if m.to == [m1.employee.email]]
    assert "Moving abroad" not in to_partner.body  # the reason stays private: HR alone is sent it
    assert {tuple(m.to) for m in mail.outbox} == {(m1.employee.email,), (hr_user.email,)}


def test_program_cannot_start_by_hand_before_pairs_are_published(program, hr_user):
    from programs.services import ProgramError, program_transition

    with pytest.raises(ProgramError, match="Publish the proposed pairs"):
        program_transition(program=program, to=Program.Status.ACTIVE, by=hr_user)


def test_participants_cannot_run_or_publish(program, participant_user, hr_user, django_capture_on_commit_callbacks):
    with pytest.raises(MatchError, match="Only HR"):
        services.match_run_start(program=program, by=participant_user)
    mentor(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with pytest.raises(MatchError, match="Only HR"):
        services.match_run_publish(run=run, by=participant_user)


@pytest.mark.django_db(transaction=True)
def test_two_hr_admins_publishing_at_once_one_wins(hr_user):
    if connection.vendor == "sqlite":
        pytest.skip("row locks need PostgreSQL; CI runs this there")
    program = ProgramFactory(status=Program.Status.MATCHING, min_score=0)
    mentor(program), mentee(program)
    run = services.match_run_start(program=program, by=hr_user)
    services.match_run_execute(run_id=run.pk)
    barrier = threading.Barrier(2)
    outcomes = []

    def publish():
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            services.match_run_publish(run=run, by=hr_user)
            outcomes.append("published")
        except MatchError as exc:
            outcomes.append(str(exc))
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("published") == 1
    assert any("already published" in o for o in outcomes)
    assert Pair.objects.filter(status="active").count() == 1


def test_ending_a_pair_tells_both_sides_but_not_the_person_who_ended_it(program, hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    m1, e1 = mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    deliver_outbox()
    mail.outbox.clear()
    services.pair_end(pair=Pair.objects.get(), reason=Pair.EndReason.NOT_A_FIT, by=hr_user, note="HR note")
    deliver_outbox()
    assert sorted(m.to[0] for m in mail.outbox) == sorted([m1.employee.email, e1.employee.email])
    assert all("not a good fit" in m.body and "HR note" not in m.body for m in mail.outbox)
    with pytest.raises(MatchError, match="already ended"):
        services.pair_end(pair=Pair.objects.get(), reason=Pair.EndReason.OTHER, by=hr_user)
    # HR's action is in the audit log (reason, not the note), under the pair.
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.PAIR_ENDED)
    assert (event.actor, event.object_type, event.after["reason"]) == (hr_user, "pairing.pair", Pair.EndReason.NOT_A_FIT)
    assert "HR note" not in json.dumps([event.summary, event.before, event.after])
    # Each is told who ended it, and, in a running program, that they can be paired again.
    by_person = {m.to[0]: m.body for m in mail.outbox}
    assert f"HR has ended your pair with {e1.employee.full_name}" in by_person[m1.employee.email]
    assert all("You are still in the program" in body for body in by_person.values())


def test_a_large_run_is_told_by_a_task_after_publishing_exactly_once(program, hr_user, settings, django_capture_on_commit_callbacks, deliver_outbox):
    """Above PAIRING_PUBLISH_SYNC_MAX_PAIRS the request only publishes; the emails (two a pair,
    plus whoever is left without a partner) are written by a task nudged after commit."""
    from mentoring.models import OutboxMessage
    from pairing.models import MatchRun

    settings.PAIRING_PUBLISH_SYNC_MAX_PAIRS = 1
    people = [mentor(program), mentor(program), mentee(program), mentee(program), mentor(program)]
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False) as nudges:
        assert services.match_run_publish(run=run, by=hr_user) == 2
    run.refresh_from_db()
    assert run.status == "published" and run.announced_at is None
    assert not OutboxMessage.objects.exists()  # nothing rendered in the request
    assert Pair.objects.filter(match_run=run, status="active").count() == 2

    for nudge in nudges:
        nudge()  # the worker (eager in tests)
    run.refresh_from_db()
    assert run.announced_at is not None
    deliver_outbox()
    everyone = sorted(p.employee.email for p in people)
    assert sorted(m.to[0] for m in mail.outbox) == everyone  # four "paired", one "not paired"

    assert services.match_run_announce(run_id=run.pk) == 0  # a second delivery of the task
    deliver_outbox()
    assert len(mail.outbox) == 5


def test_a_lost_announcement_nudge_is_found_by_the_sweep_and_ended_pairs_are_not_announced(program, hr_user, settings, django_capture_on_commit_callbacks, deliver_outbox):
    import datetime

    from django.utils import timezone

    from pairing.models import MatchRun
    from pairing.tasks import resume_match_runs

    settings.PAIRING_PUBLISH_SYNC_MAX_PAIRS = 0
    m1, m2, e1, e2 = mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):  # the broker was down: the nudge is lost
        services.match_run_publish(run=run, by=hr_user)
    gone = Pair.objects.get(match_run=run, mentee=e2)
    services.pair_end(pair=gone, reason=Pair.EndReason.NOT_A_FIT, by=hr_user, notify=False)  # ended before anyone was told
    assert resume_match_runs() == 0  # too recent: the nudged task may still be on its way
    MatchRun.objects.filter(pk=run.pk).update(published_at=timezone.now() - datetime.timedelta(minutes=2))
    assert resume_match_runs() == 1
    deliver_outbox()
    kept = Pair.objects.get(match_run=run, mentee=e1)
    # The live pair hears of each other; the ended pair hears nothing more (not "not paired").
    assert sorted(m.to[0] for m in mail.outbox) == sorted([kept.mentor.employee.email, e1.employee.email])
    assert any(e1.employee.full_name in m.subject for m in mail.outbox)
    assert resume_match_runs() == 0  # told once


def test_a_completed_programs_pairs_left_live_by_a_lost_nudge_are_ended_by_the_sweep(hr_user, settings, django_capture_on_commit_callbacks):
    import datetime

    from django.utils import timezone

    from pairing.tasks import resume_match_runs
    from programs import services as program_services
    from programs.models import ProgramTransition
    from tests.factories import make_active_pair

    settings.PAIRING_PUBLISH_SYNC_MAX_PAIRS = 0
    pair = make_active_pair(ends_on=timezone.localdate())
    second = make_active_pair(program=pair.program)
    untouched = make_active_pair()  # another program, still running
    with django_capture_on_commit_callbacks(execute=False):  # the broker was down: the nudge is lost
        program_services.program_transition(program=pair.program, to=Program.Status.COMPLETED, by=hr_user)
    assert resume_match_runs() == 0  # too recent: the nudged task may still be on its way
    ProgramTransition.objects.filter(program=pair.program).update(at=timezone.now() - datetime.timedelta(minutes=5))
    # A task at work (a pair ended a moment ago) is left to finish: no second one.
    Pair.objects.filter(pk=second.pk).update(status=Pair.Status.ENDED, end_reason=Pair.EndReason.COMPLETED, ended_at=timezone.now())
    assert resume_match_runs() == 0
    Pair.objects.filter(pk=second.pk).update(ended_at=timezone.now() - datetime.timedelta(minutes=3))
    with django_capture_on_commit_callbacks(execute=False):
        assert resume_match_runs() == 1  # queued (the worker runs it: eager in tests)
    pair.refresh_from_db()
    untouched.refresh_from_db()
    assert (pair.status, pair.end_reason, pair.ended_by) == (Pair.Status.ENDED, Pair.EndReason.COMPLETED, hr_user)
    assert untouched.status == Pair.Status.ACTIVE
    assert resume_match_runs() == 0  # nothing owed any more


def test_a_pair_that_cannot_end_does_not_hold_up_the_rest_of_a_completed_program(hr_user, monkeypatch, caplog, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from programs.models import ProgramTransition
    from tests.factories import make_active_pair

    first = make_active_pair(ends_on=timezone.localdate())
    pairs = [first, *(make_active_pair(program=first.program) for _ in range(2))]
    Program.objects.filter(pk=first.program_id).update(status=Program.Status.COMPLETED)
    ProgramTransition.objects.create(program=first.program, from_status="active", to_status="completed", by=hr_user)
    real = services.pair_end

    def broken_for_the_middle_one(*, pair, **kwargs):
        if pair.pk == pairs[1].pk:
            raise RuntimeError("template error")
        return real(pair=pair, **kwargs)

    monkeypatch.setattr(services, "pair_end", broken_for_the_middle_one)
    with django_capture_on_commit_callbacks(execute=False):
        assert services.pairs_end_for_completed_program(program_id=first.program_id) == 2
    assert dict(Pair.objects.values_list("pk", "status")) == {pairs[0].pk: "ended", pairs[1].pk: "active", pairs[2].pk: "ended"}
    assert f"Could not end pair {pairs[1].pk} of completed program" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_ending_a_completed_programs_pairs_skips_a_pair_another_worker_holds(hr_user):
    """Two workers at once (a re-sent nudge): rows the other holds are skipped, not waited
    for, and each pair ends once."""
    if connection.vendor == "sqlite":
        pytest.skip("row locks need PostgreSQL; CI runs this there")
    import psycopg
    from django.utils import timezone

    from programs.models import ProgramTransition
    from tests.factories import make_active_pair

    first = make_active_pair(ends_on=timezone.localdate())
    held = make_active_pair(program=first.program)
    Program.objects.filter(pk=first.program_id).update(status=Program.Status.COMPLETED)
    ProgramTransition.objects.create(program=first.program, from_status="active", to_status="completed", by=hr_user)
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k in ("host", "port", "dbname", "user", "password")}) as other:
        other.execute("SELECT id FROM pairing_pair WHERE id = %s FOR UPDATE", [held.pk])  # the other worker's batch
        assert services.pairs_end_for_completed_program(program_id=first.program_id) == 1
        assert dict(Pair.objects.values_list("pk", "status")) == {first.pk: "ended", held.pk: "active"}
        other.rollback()
    assert services.pairs_end_for_completed_program(program_id=first.program_id) == 1
    assert set(Pair.objects.values_list("status", flat=True)) == {"ended"}


def test_one_run_that_cannot_be_told_does_not_hold_up_the_others(hr_user, settings, monkeypatch, django_capture_on_commit_callbacks, caplog):
    import datetime

    from django.utils import timezone

    from pairing.models import MatchRun
    from pairing.tasks import resume_match_runs

    settings.PAIRING_PUBLISH_SYNC_MAX_PAIRS = 0
    runs = []
    for _ in range(2):
        other = ProgramFactory(status=Program.Status.MATCHING, min_score=0)
        mentor(other), mentee(other)
        run = run_now(other, hr_user, django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=False):
            services.match_run_publish(run=run, by=hr_user)
        runs.append(run)
    MatchRun.objects.update(published_at=timezone.now() - datetime.timedelta(minutes=5))
    real = services._announce

    def broken_for_the_first(run, pairs):
        if run.pk == runs[0].pk:
            raise RuntimeError("template error")
        return real(run, pairs)

    monkeypatch.setattr(services, "_announce", broken_for_the_first)
    assert resume_match_runs() == 1
    told = dict(MatchRun.objects.values_list("pk", "announced_at"))
    assert told[runs[0].pk] is None and told[runs[1].pk] is not None
    assert f"published match run {runs[0].pk}" in caplog.text


def test_publishing_tells_whoever_the_run_left_without_a_partner(program, hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    from django.urls import reverse

    from tests.programs.test_views_participant import client_for

    Program.objects.filter(pk=program.pk).update(mentees_per_mentor=1)
    mentor(program)
    users = [make_person(level=7) for _ in range(2)]
    seniors = [EnrollmentFactory(program=program, role="mentee", status=Enrollment.Status.APPROVED, employee=u.employee) for u in users]
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    deliver_outbox()
    paired = {p.mentee_id for p in Pair.objects.filter(program=program)}
    [(left_out, left_out_user)] = [(e, u) for e, u in zip(seniors, users, strict=True) if e.pk not in paired]
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert subjects[left_out.employee.email] == f"No partner for you yet in {program.name}"
    assert "You stay in the program" in next(m.body for m in mail.outbox if m.to == [left_out.employee.email])
    assert sum(s.startswith("No partner") for s in subjects.values()) == 1  # the paired two are told they are paired
    home = client_for(left_out_user).get(reverse("participant_home")).content.decode()
    assert "You are not paired at the moment" in home and "The program is running." not in home


def rematch_leaving_out(program, hr_user, capture, person):
    """A re-match with a newcomer mentor (and mentee) that ``person`` is kept apart from: they
    are left out again.  Returns the newcomer."""
    newcomer = mentor(program)
    person.not_with.add(newcomer.employee)
    mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, capture), by=hr_user)
    return newcomer


def test_someone_left_out_again_by_a_rematch_is_not_told_again(program, hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    from mentoring.models import OutboxMessage

    Program.objects.filter(pk=program.pk).update(mentees_per_mentor=1)
    mentor(program)
    mentee(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    deliver_outbox()
    [left_out] = [e for e in Enrollment.objects.filter(program=program, role="mentee") if not Pair.objects.filter(mentee=e).exists()]
    assert [m.subject for m in mail.outbox if m.to == [left_out.employee.email]] == [f"No partner for you yet in {program.name}"]
    mail.outbox.clear()

    # A re-match pairs a newcomer; the one left out before is left out again (kept apart).
    newcomer = rematch_leaving_out(program, hr_user, django_capture_on_commit_callbacks, left_out)
    deliver_outbox()
    assert Pair.objects.filter(mentor=newcomer).exists() and not Pair.objects.filter(mentee=left_out).exists()
    assert [m for m in mail.outbox if m.to == [left_out.employee.email]] == []  # the first email promised the next one says "paired"

    # Told under the old per-run key (before this rule): not told again either.
    OutboxMessage.objects.filter(idempotency_key=f"not-paired:{left_out.pk}").update(idempotency_key=f"run-not-paired:{Pair.objects.filter(mentor__role='mentor').order_by('pk').first().match_run_id}:{left_out.pk}")
    mail.outbox.clear()
    rematch_leaving_out(program, hr_user, django_capture_on_commit_callbacks, left_out)
    deliver_outbox()
    assert [m for m in mail.outbox if m.to == [left_out.employee.email]] == []


def test_someone_whose_pair_ended_and_who_is_left_out_again_is_told_again_once(program, hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    """'No partner for you yet' goes once per spell without a partner: left out, paired, the
    pair ended (the email said they could be paired again), left out by the next re-match:
    told again, and only once for that spell."""
    Program.objects.filter(pk=program.pk).update(mentees_per_mentor=1)
    first_mentor = mentor(program)
    waiting = mentee(program)
    rival = mentee(program)
    waiting.not_with.add(first_mentor.employee)  # the rival takes the only mentor
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    second = mentor(program)
    rival.not_with.add(second.employee)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    pair = Pair.objects.get(mentee=waiting, status="active")
    services.pair_end(pair=pair, reason=Pair.EndReason.NOT_A_FIT, by=hr_user)
    deliver_outbox()
    assert [m.subject for m in mail.outbox if m.to == [waiting.employee.email] and m.subject.startswith("No partner")] == [f"No partner for you yet in {program.name}"]
    mail.outbox.clear()

    # A re-match with a newcomer the waiting mentee is kept apart from: left out again.
    for _ in range(2):
        rematch_leaving_out(program, hr_user, django_capture_on_commit_callbacks, waiting)
    deliver_outbox()
    assert not Pair.objects.filter(mentee=waiting, status="active").exists()
    assert [m.subject for m in mail.outbox if m.to == [waiting.employee.email]] == [f"No partner for you yet in {program.name}"]  # once for the two runs

    # Told under the key from before spells (after the pair ended): not told again either.
    from mentoring.models import OutboxMessage

    OutboxMessage.objects.filter(idempotency_key=f"not-paired:{waiting.pk}").delete()
    OutboxMessage.objects.filter(idempotency_key=f"not-paired:{waiting.pk}:after-pair-{pair.pk}").update(idempotency_key=f"not-paired:{waiting.pk}")
    mail.outbox.clear()
    rematch_leaving_out(program, hr_user, django_capture_on_commit_callbacks, waiting)
    deliver_outbox()
    assert [m for m in mail.outbox if m.to == [waiting.employee.email]] == []


def test_the_partner_who_stays_is_told_who_ended_the_pair_and_what_comes_next(program, hr_user, django_capture_on_commit_callbacks, deliver_outbox):
    m1, e1 = mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    deliver_outbox()
    mail.outbox.clear()
    mentor_user = make_person(level=2)
    Enrollment.objects.filter(pk=m1.pk).update(employee=mentor_user.employee)
    m1.refresh_from_db()
    services.pair_end(pair=Pair.objects.get(), reason=Pair.EndReason.COMPLETED, by=mentor_user)
    deliver_outbox()
    [message] = mail.outbox  # the mentor who ended it knows
    assert message.to == [e1.employee.email]
    assert f"{m1.employee.full_name} has ended your pair in {program.name}" in message.body
    assert "You are still in the program" not in message.body  # finished: nothing more to pair
    assert "only you can read it" in message.body


def test_a_pin_blocked_by_a_not_with_list_fails_without_saying_whose(program, hr_user, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    services.override_set(program=program, mentor=m1, mentee=e1, kind=PairingOverride.Kind.PIN, by=hr_user)
    e1.not_with.add(m1.employee)  # added after the pin was accepted
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert run.status == "failed"
    assert "confidential preference" in run.error
    assert m1.employee.full_name not in run.error and e1.employee.full_name not in run.error


def test_a_leaver_in_the_roster_ends_their_pairs_and_feed(hr_user, deliver_outbox):
    from mentoring.roster import roster_apply
    from sessions_log.models import CalendarFeed
    from tests.factories import make_active_pair

    pair = make_active_pair()
    leaver = pair.mentee.employee
    CalendarFeed.objects.create(employee=leaver)
    rows = ["employee_id,email,first_name,last_name,department,level,left_date"]
    for e in (pair.mentor.employee, leaver):
        left = "2026-11-01" if e == leaver else ""
        rows.append(f"{e.employee_id},{e.email},{e.first_name},{e.last_name},{e.department.name},{e.level},{left}")
    roster_apply(data="\n".join(rows).encode(), filename="roster.csv")
    pair.refresh_from_db()
    assert pair.status == "ended" and pair.end_reason == "left_company"
    assert not CalendarFeed.objects.filter(employee=leaver).exists()
    deliver_outbox()
    assert [m.to for m in mail.outbox] == [[pair.mentor.employee.email]]


# --- What a browser pass over the review found ------------------------------------------------------


def test_an_ended_pair_is_not_proposed_again_until_hr_lifts_the_exclusion(program, hr_user, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    ended = services.pair_end(pair=Pair.objects.get(), reason=Pair.EndReason.NOT_A_FIT, by=hr_user)
    assert ended.kept_apart
    kept = PairingOverride.objects.get()
    assert (kept.kind, kept.mentor, kept.mentee, kept.created_by) == ("exclude", m1, e1, hr_user)

    rematch = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert rematch.status == "proposed" and not Pair.objects.filter(match_run=rematch).exists()
    assert "excluded" in str(rematch.result["unmatched"])  # the reason says why e1 has nobody

    services.override_remove(override=kept, by=hr_user)
    again = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert list(Pair.objects.filter(match_run=again).values_list("mentor_id", "mentee_id")) == [(m1.pk, e1.pk)]


@pytest.mark.parametrize("how", ["withdrawal", "completed"])
def test_no_exclusion_when_someone_left_the_pool_or_the_program_is_over(program, hr_user, django_capture_on_commit_callbacks, how):
    mentor(program), mentee(program)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    pair = Pair.objects.get()
    if how == "withdrawal":
        enrollment_withdraw(enrollment=pair.mentee, by_employee=pair.mentee.employee, reason="New role")
    else:
        assert not services.pair_end(pair=pair, reason=Pair.EndReason.COMPLETED, by=hr_user).kept_apart
    assert Pair.objects.get().status == "ended"
    assert not PairingOverride.objects.exists()


def test_pairing_a_mentor_who_has_their_one_mentee_by_hand_frees_that_mentee(program, hr_user, django_capture_on_commit_callbacks):
    mentor(program), mentor(program), mentee(program), mentee(program)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    a, b = Pair.objects.filter(match_run=run).select_related("mentor__employee", "mentee__employee").order_by("id")
    pair = services.proposal_pair_manually(run=run, mentor=a.mentor, mentee=b.mentee, by=hr_user)
    assert list(Pair.objects.filter(match_run=run).values_list("mentor_id", "mentee_id")) == [(a.mentor_id, b.mentee_id)]
    # a's mentee and b's mentor have nobody now, and the caller is told who.
    assert pair.left_alone == sorted([a.mentee.employee.full_name, b.mentor.employee.full_name])


def test_a_mentor_with_several_mentees_must_be_freed_by_hand_first(hr_user, django_capture_on_commit_callbacks):
    program = ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2, mentees_per_mentor=2)
    m1 = mentor(program)
    mentees = [mentee(program) for _ in range(3)]
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    assert Pair.objects.filter(match_run=run, mentor=m1).count() == 2
    (left_over,) = [e for e in mentees if not Pair.objects.filter(match_run=run, mentee=e).exists()]
    with pytest.raises(MatchError, match="can take 2 mentees in this program, not 3; unpair one of their mentees first"):
        services.proposal_pair_manually(run=run, mentor=m1, mentee=left_over, by=hr_user)
    assert Pair.objects.filter(match_run=run, mentor=m1).count() == 2


def test_a_pin_beyond_the_mentors_capacity_is_refused_when_saved(program, hr_user):
    m1, e1, e2 = mentor(program), mentee(program), mentee(program)
    services.override_set(program=program, mentor=m1, mentee=e1, kind=PairingOverride.Kind.PIN, by=hr_user)
    with pytest.raises(MatchError, match=f"can take 1 mentee in this program and is already pinned to {e1.employee.full_name}"):
        services.override_set(program=program, mentor=m1, mentee=e2, kind=PairingOverride.Kind.PIN, by=hr_user)
    assert PairingOverride.objects.count() == 1


def test_a_pinned_pair_is_marked_as_pinned(program, hr_user, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    mentor(program), mentee(program)
    services.override_set(program=program, mentor=m1, mentee=e1, kind=PairingOverride.Kind.PIN, by=hr_user)
    run = run_now(program, hr_user, django_capture_on_commit_callbacks)
    sources = dict(Pair.objects.filter(match_run=run).values_list("mentee_id", "source"))
    assert sources[e1.pk] == "pinned" and sorted(sources.values()) == ["engine", "pinned"]


def test_publishing_a_pinned_pair_clears_its_pin(program, hr_user, django_capture_on_commit_callbacks):
    m1, e1 = mentor(program), mentee(program)
    m2, e2 = mentor(program), mentee(program)
    services.override_set(program=program, mentor=m1, mentee=e1, kind=PairingOverride.Kind.PIN, by=hr_user)
    services.override_set(program=program, mentor=m2, mentee=e2, kind=PairingOverride.Kind.EXCLUDE, by=hr_user)
    services.match_run_publish(run=run_now(program, hr_user, django_capture_on_commit_callbacks), by=hr_user)
    assert Pair.objects.get(mentee=e1).mentor == m1
    assert list(PairingOverride.objects.values_list("kind", "mentor_id")) == [("exclude", m2.pk)]  # the exclusion stays


# --- Ending a pair takes its future meetings with it ------------------------------------------------------------------


def _future_meeting(pair):
    import datetime

    from django.utils import timezone

    from sessions_log.models import Meeting

    return Meeting.objects.create(pair=pair, starts_at=timezone.now() + datetime.timedelta(days=5), duration_minutes=45)


def test_hr_ending_a_pair_cancels_its_future_meetings_in_both_calendars(hr_user, deliver_outbox):
    from tests.factories import make_active_pair

    pair = make_active_pair()
    meeting = _future_meeting(pair)
    services.pair_end(pair=pair, reason=Pair.EndReason.HR_DECISION, by=hr_user, note="")
    meeting.refresh_from_db()
    assert meeting.status == "cancelled" and meeting.sequence == 1
    deliver_outbox()
    cancellations = [m for m in mail.outbox if m.attachments]
    assert sorted(m.to[0] for m in cancellations) == sorted([pair.mentor.employee.email, pair.mentee.employee.email])
    assert all("METHOD:CANCEL" in str(m.attachments[0][1]) for m in cancellations)


def test_withdrawal_cancels_the_pairs_future_meetings(deliver_outbox):
    from tests.factories import make_active_pair

    pair = make_active_pair()
    meeting = _future_meeting(pair)
    enrollment_withdraw(enrollment=pair.mentee, by_employee=pair.mentee.employee, reason="Moving abroad")
    meeting.refresh_from_db()
    assert meeting.status == "cancelled"
    deliver_outbox()
    assert sorted(m.to[0] for m in mail.outbox if m.attachments) == sorted([pair.mentor.employee.email, pair.mentee.employee.email])


def test_a_proposal_of_one_pair_reads_as_one_pair_in_the_audit_log_and_names_the_program(hr_user, django_capture_on_commit_callbacks):
    """QA read '1 pairs proposed for program #3' in the audit log."""
    program = ProgramFactory(status=Program.Status.MATCHING, min_score=0, min_level_gap=2, name="Data fluency")
    mentor(program)
    mentee(program)
    run_now(program, hr_user, django_capture_on_commit_callbacks)
    event = AuditEvent.objects.get(action=AuditEvent.Action.MATCH_RUN_PROPOSED)
    assert event.summary.startswith("1 pair proposed for “Data fluency”"), event.summary

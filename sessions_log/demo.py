"""Demo history for pairs: months of meetings, logs, feedback, pulses, insights, actions
and surveys, so the pair pages and (later) the dashboards show something true."""

import datetime
import random
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from pairing.models import Pair
from programs.models import EnrollmentTopic, Program

from .models import (
    ActionItem,
    Agreement,
    AgreementGoal,
    Feedback,
    Insight,
    Meeting,
    MeetingChange,
    SafetyPulse,
    SessionLog,
    SurveyAnswer,
    SurveyResponse,
)

INSIGHTS = [
    "Most of my team reads chat, not email: important news should go there first.",
    "Juniors expect feedback in the moment, not only at review time.",
    "A short screen recording explains a process faster than a long document.",
    "Younger customers check reviews on social media before they visit our site.",
    "AI assistants draft well but need a human to check every figure.",
    "Shared documents with comments beat email attachments for decisions.",
]
ACTIONS = [
    "Post the monthly update in the team channel instead of email",
    "Try an AI assistant to draft one report a week",
    "Hold a 15-minute open question slot with juniors every Friday",
    "Record a 3-minute video for the next process change",
    "Ask my team which tools slow them down",
]
LEARNED_MENTOR = ["How budget decisions are made", "What the board asks about", "How to pitch an idea upwards", "Why some projects get cancelled"]
LEARNED_MENTEE = ["How to write a good prompt", "How my team really uses chat", "What a good onboarding looks like to a new joiner", "How to spot a misleading chart"]


def _at(day: datetime.date, hour: int, zone: str = "UTC") -> datetime.datetime:
    """A working day at `hour` o'clock where the pair meets (the scheduler's zone), stored in UTC."""
    while day.weekday() >= 5:  # people meet on working days
        day += datetime.timedelta(days=1)
    local = datetime.datetime.combine(day, datetime.time(hour), tzinfo=ZoneInfo(zone or "UTC"))
    return local.astimezone(datetime.UTC)


WORKING_START_HOURS = range(8, 18)  # a meeting of an hour at most starts 08:00–17:00 local


def _shared_hour(day: datetime.date, zone: str, other_zone: str, rng: random.Random) -> int:
    """An hour in `zone` that is also working time in `other_zone` on that day; when the two
    never overlap (Chicago and Singapore), the hour that is least far outside it there."""

    def outside(hour: int) -> int:
        there = _at(day, hour, zone).astimezone(ZoneInfo(other_zone or "UTC")).hour
        return max(WORKING_START_HOURS.start - there, there - (WORKING_START_HOURS.stop - 1), 0)

    cost = {hour: outside(hour) for hour in WORKING_START_HOURS}
    best = min(cost.values())
    # Prefer the usual 9:00–16:00 when it is shared; 8:00 and 17:00 only when they must.
    usual = [h for h in range(9, 17) if cost[h] == best]
    return rng.choice(usual or [h for h, c in cost.items() if c == best])


@transaction.atomic
def build_demo_sessions(*, seed: int, today: datetime.date) -> int:
    """Create history once for the demo's active and completed programs."""
    if Meeting.objects.exists():
        return Meeting.objects.count()
    rng = random.Random(seed + 2)
    now = timezone.now()
    pairs = list(
        Pair.objects.filter(program__status__in=[Program.Status.ACTIVE, Program.Status.COMPLETED, Program.Status.ARCHIVED])
        .select_related("program", "mentor__employee", "mentee__employee")
        .order_by("id")
    )
    meetings, changes, logs_by_meeting = [], [], {}
    for index, pair in enumerate(pairs):
        program = pair.program
        agreement = Agreement.objects.create(
            pair=pair, meeting_frequency=f"Every {program.cadence_days} days, {program.meeting_minutes} minutes", boundaries=program.agreement_template,
            confidentiality="What we share stays between us unless we both agree otherwise.", mentor_acknowledged_version=1, mentee_acknowledged_version=1 if index % 9 else 0,
            updated_by=pair.mentor.employee,
        )
        AgreementGoal.objects.bulk_create(
            [AgreementGoal(agreement=agreement, title=title, progress=rng.choice([10, 30, 50, 70, 90]), order=i) for i, title in enumerate(rng.sample(ACTIONS, 2))]
        )
        # A few pairs went quiet (never the demo logins' own pair, which should look alive).
        stuck = program.status == Program.Status.ACTIVE and index % 11 == 5 and pair.mentor.employee.email != "mentor@acme.example"
        end = min(today, program.ends_on)
        day = program.starts_on + datetime.timedelta(days=rng.randint(3, 10))
        while day <= end:
            if stuck and day > today - datetime.timedelta(days=40):
                break
            mentor_zone, mentee_zone = pair.mentor.employee.time_zone, pair.mentee.employee.time_zone
            starts = _at(day, _shared_hour(day, mentor_zone, mentee_zone, rng), mentor_zone)
            if starts.date() > end:
                break
            cancelled = rng.random() < 0.1
            meetings.append(Meeting(pair=pair, starts_at=starts, duration_minutes=program.meeting_minutes, location=rng.choice(["Video call", "Café, 2nd floor", "Room Orion"] if pair.mentor.employee.location == pair.mentee.employee.location else ["Video call"]),
                                    agenda="Catch up, then one topic in depth", status="cancelled" if cancelled else "scheduled", scheduled_by=pair.mentor.employee, sequence=1 if cancelled else 0,
                                    created_at=starts - datetime.timedelta(days=7)))
            day += datetime.timedelta(days=program.cadence_days + rng.randint(-2, 4))
        if program.status == Program.Status.ACTIVE and not stuck:
            upcoming = today + datetime.timedelta(days=rng.randint(1, 10))
            mentee_zone = pair.mentee.employee.time_zone
            meetings.append(Meeting(pair=pair, starts_at=_at(upcoming, _shared_hour(upcoming, mentee_zone, pair.mentor.employee.time_zone, rng), mentee_zone), duration_minutes=program.meeting_minutes, location="Video call", video_url="https://meet.example.com/upward-demo", agenda="Next steps on our goals", scheduled_by=pair.mentee.employee))
    Meeting.objects.bulk_create(meetings, batch_size=1000)
    pair_by_id = {p.pk: p for p in pairs}
    logs = []
    for meeting in meetings:
        pair = pair_by_id[meeting.pair_id]
        if meeting.status == "cancelled":
            senior = rng.random() < 0.6  # the senior side cancels more often: a headline metric
            changes.append(MeetingChange(meeting=meeting, kind="cancelled", requested_by=(pair.mentee if senior else pair.mentor).employee, requested_by_role="mentee" if senior else "mentor",
                                         reason=rng.choice(["Board meeting moved", "Travelling", "Sick day", "Customer escalation"]), old_starts_at=meeting.starts_at, at=meeting.starts_at - datetime.timedelta(days=1)))
            continue
        if meeting.starts_at < now - datetime.timedelta(hours=3) and rng.random() < 0.88:
            log = SessionLog(pair=pair, meeting=meeting, author=rng.choice([pair.mentor, pair.mentee]).employee, held_on=meeting.starts_at.date(),
                             minutes=meeting.duration_minutes + rng.choice([-10, -5, 0, 0, 5, 10]), mentor_learned=rng.choice(LEARNED_MENTOR), mentee_learned=rng.choice(LEARNED_MENTEE),
                             shared_notes="We agreed to try one new tool before next time.", created_at=meeting.starts_at + datetime.timedelta(hours=2), updated_at=meeting.starts_at + datetime.timedelta(hours=2))
            logs.append(log)
            logs_by_meeting[meeting.pk] = log
    MeetingChange.objects.bulk_create(changes, batch_size=1000)
    SessionLog.objects.bulk_create(logs, batch_size=1000)
    topics_by_program = {p.pk: list(p.topics.all()) for p in Program.objects.all()}
    through = SessionLog.topics.through
    through.objects.bulk_create([through(sessionlog_id=log.pk, topic_id=rng.choice(topics_by_program[pair_by_id[log.pair_id].program_id]).pk) for log in logs], batch_size=1000)
    feedback, pulses = [], []
    for log in logs:
        pair = pair_by_id[log.pair_id]
        good = pair.score > 450
        for side in (pair.mentor, pair.mentee):
            if rng.random() < 0.85:
                feedback.append(Feedback(session_log=log, pair=pair, author=side, usefulness=rng.choice([4, 5, 5, 4, 3] if good else [2, 3, 4, 3]), psychological_safety=rng.choice([4, 5, 5] if good else [2, 3, 4]), created_at=log.created_at))
        if rng.random() < 0.8:
            low = not good and rng.random() < 0.3
            pulses.append(SafetyPulse(session_log=log, pair=pair, felt_heard=2 if low else rng.choice([4, 5]), safe_to_be_candid=2 if low else rng.choice([3, 4, 5]), wants_to_continue=3 if low else rng.choice([4, 5]), created_at=log.created_at))
    Feedback.objects.bulk_create(feedback, batch_size=1000)
    SafetyPulse.objects.bulk_create(pulses, batch_size=1000)
    insights, actions = [], []
    for pair in pairs:
        topics = topics_by_program[pair.program_id]
        for _ in range(rng.randint(1, 4)):
            insights.append(Insight(pair=pair, topic=rng.choice(topics), text=rng.choice(INSIGHTS), created_by=pair.mentor.employee, created_at=_at(pair.program.starts_on + datetime.timedelta(days=rng.randint(10, 90)), 12)))
    Insight.objects.bulk_create(insights, batch_size=1000)
    for insight in insights:
        if rng.random() < 0.8:
            pair = pair_by_id[insight.pair_id]
            done = rng.random() < 0.55
            due = insight.created_at.date() + datetime.timedelta(days=rng.randint(7, 40))
            actions.append(ActionItem(pair=pair, insight=insight, text=rng.choice(ACTIONS), due_on=due, status="done" if done else "open", committed_by=pair.mentee.employee,
                                      created_at=insight.created_at, done_at=insight.created_at + datetime.timedelta(days=rng.randint(3, 30)) if done else None))
    ActionItem.objects.bulk_create(actions, batch_size=1000)
    _surveys(pairs, rng, today)
    return len(meetings)


def _surveys(pairs, rng, today):
    ratings = {}
    for r in EnrollmentTopic.objects.filter(enrollment__in=[p.mentee_id for p in pairs], kind="learn"):
        ratings.setdefault(r.enrollment_id, []).append(r)
    responses, answers = [], []
    growth = ["confidence_with_leaders", "communication", "visibility"]
    for pair in pairs:
        program = pair.program
        kinds = ["baseline"]
        if program.midpoint_survey_on and program.midpoint_survey_on <= today:
            kinds.append("midpoint")
        if program.final_survey_on and program.final_survey_on <= today:
            kinds.append("final")
        survey_days = {"baseline": program.starts_on, "midpoint": program.midpoint_survey_on, "final": program.final_survey_on}  # answered when the survey opened
        for step, kind in enumerate(kinds):
            for side in (pair.mentor, pair.mentee):
                if kind != "baseline" and rng.random() < 0.15:
                    continue  # not everyone answers
                if kind == "baseline" and side.role == "mentee":
                    continue  # the mentee's baseline is their enrollment self-assessment
                response = SurveyResponse(enrollment=side, kind=kind, would_recommend=None if kind == "baseline" else rng.choice([6, 7, 8, 9, 9, 10, 10]), submitted_at=_at(survey_days[kind], 12))
                responses.append(response)
                if side.role == "mentee":
                    answers += [(response, r.topic_id, "", min(5, r.level + step + rng.choice([0, 0, 1]))) for r in ratings.get(side.pk, [])]
                else:
                    answers += [(response, None, g, min(5, 2 + step + rng.choice([0, 1]))) for g in growth]
    SurveyResponse.objects.bulk_create(responses, batch_size=1000)
    SurveyAnswer.objects.bulk_create([SurveyAnswer(response=r, topic_id=t, growth_item=g, score=s) for r, t, g, s in answers], batch_size=1000)

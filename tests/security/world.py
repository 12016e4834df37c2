"""One "world" with an object of every kind, for the security suites.

Two pairs in one active program (so an outsider is a real participant of the same program),
an ended pair, an open program, HR and an executive, and every confidential field filled with
a unique marker. Everything a participant writes goes through the services, as on the site,
so the emails those services send exist too.
"""

import datetime
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from mentoring.models import Employee, OutboxMessage, Role, RosterImport, User
from pairing.models import MatchRun, Pair, PairingOverride
from programs.models import Enrollment, Program, Resource, SnapshotRun, Topic
from sessions_log import services
from sessions_log.models import (
    ActionItem,
    AgreementGoal,
    CalendarFeed,
    Concern,
    Insight,
    Meeting,
    PulseAlert,
    Reflection,
    Reminder,
    SafetyPulse,
    SessionLog,
    SurveyResponse,
)
from pairing import services as pairing_services
from sessions_log.reminders import reminders_send_due, reminders_sweep, unsubscribe_token
from sessions_log.services import GoalInput, LogInput
from tests.auth_helpers import login_with_mfa
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, TopicFactory, make_active_pair, make_person

# The roles every URL is requested as. "loner" is a participant in no pair at all.
ROLES = ("anonymous", "mentor_a", "mentee_a", "other", "loner", "hr", "executive")
SIGNED_IN = tuple(r for r in ROLES if r != "anonymous")
PARTICIPANTS = ("mentor_a", "mentee_a", "other", "loner", "hr")  # HR admins hold the participant role too


@dataclass(frozen=True)
class Marker:
    """A unique string planted in one confidential field, and who may ever see it."""

    text: str
    field: str
    may_see: frozenset[str]
    home: str | None  # the one table that may store it ("app_label.model"); None: no table

    @property
    def home_table(self) -> str | None:
        from django.apps import apps

        return apps.get_model(self.home)._meta.db_table if self.home else None


def _m(text: str, field: str, *may_see: str, home: str | None = None) -> Marker:
    return Marker(text, field, frozenset(may_see), home)


MARKERS = (
    _m("qzsec-mentor-private-note-4471", "PrivateNote.text (mentor's)", "mentor_a", home="sessions_log.PrivateNote"),
    _m("qzsec-mentee-private-note-9035", "PrivateNote.text (mentee's)", "mentee_a", home="sessions_log.PrivateNote"),
    _m("qzsec-mentor-feedback-comment-2218", "Feedback.comment (mentor's)", "mentor_a", home="sessions_log.Feedback"),
    _m("qzsec-mentee-feedback-comment-6690", "Feedback.comment (mentee's)", "mentee_a", home="sessions_log.Feedback"),
    # PRODUCT.md: "a mentor can raise a confidential concern to HR": the mentor and HR only.
    _m("qzsec-concern-text-5126", "Concern.text", "mentor_a", "hr", home="sessions_log.Concern"),
    # The people on the "please not with" lists (leavers, so no directory page lists them).
    _m("Qzsecnotwithmentor", "Enrollment.not_with (mentor's), name", "mentor_a", home="mentoring.Employee"),
    _m("qzsec.notwith.mentor@acme.example", "Enrollment.not_with (mentor's), email", "mentor_a", home="mentoring.Employee"),
    _m("Qzsecnotwithmentee", "Enrollment.not_with (mentee's), name", "mentee_a", home="mentoring.Employee"),
    _m("qzsec.notwith.mentee@acme.example", "Enrollment.not_with (mentee's), email", "mentee_a", home="mentoring.Employee"),
    # A mentee in a match run's pool (no login): nobody at all may read their list.
    _m("Qzsecnotwithpool", "Enrollment.not_with (in a match run's pool), name", home="mentoring.Employee"),
    _m("qzsec.notwith.pool@acme.example", "Enrollment.not_with (in a match run's pool), email", home="mentoring.Employee"),
    # The safety pulse has no free text: its questions are shown only to the mentor, on the
    # pulse form; the answers are checked as loaded objects (see confidential_objects_in).
    _m("I felt heard", "SafetyPulse question", "mentor_a"),
    _m("It felt safe to be candid", "SafetyPulse question", "mentor_a"),
    # That the mentor answered is shown to the mentor only (never to the mentee or HR).
    _m("Pulse answered", "SafetyPulse existence", "mentor_a"),
)
# Not confidential to one person, but never for executives or anyone outside the pair
# (sponsors see counts by topic, never the text).
PAIR_TEXT = (
    _m("qzsec-shared-notes-3307", "SessionLog.shared_notes", "mentor_a", "mentee_a", "hr"),
    _m("qzsec-insight-text-8812", "Insight.text", "mentor_a", "mentee_a", "hr"),
    _m("qzsec-action-text-1450", "ActionItem.text", "mentor_a", "mentee_a", "hr"),
)


@dataclass
class World:
    users: dict[str, User]
    program: Program
    open_program: Program
    draft_program: Program
    topic: Topic
    pair_a: Pair
    pair_b: Pair
    pair_c: Pair
    meeting: Meeting
    past_meeting: Meeting
    log: SessionLog
    goal: AgreementGoal
    action: ActionItem
    insight: Insight
    concern: Concern
    alert: PulseAlert
    pulse: SafetyPulse
    survey: SurveyResponse
    reflection: Reflection
    feed: CalendarFeed
    reminder: Reminder
    unsubscribe: str
    roster_import: RosterImport
    match_run: MatchRun
    override: PairingOverride
    resource: Resource
    snapshot_run: SnapshotRun
    failed_message: OutboxMessage
    matching_program: Program
    proposed_run: MatchRun
    pool_mentee: Enrollment
    # Pair B's and the matching program's own objects: their ids must not open anything
    # through pair A's or program A's URLs.
    b: dict

    @property
    def mentor_enrollment(self) -> Enrollment:
        return self.pair_a.mentor

    @property
    def mentee_enrollment(self) -> Enrollment:
        return self.pair_a.mentee

    def employee(self, role: str) -> Employee | None:
        user = self.users.get(role)
        return getattr(user, "employee", None) if user else None

    def names_of_pair_a(self) -> dict[str, str]:
        """role -> full name, for the two people of pair A (outsiders must not read them)."""
        return {"mentor_a": self.pair_a.mentor.employee.full_name, "mentee_a": self.pair_a.mentee.employee.full_name}

    def clients(self) -> dict[str, Client]:
        """A signed-in client per role (HR and executives through MFA, as their role requires)."""
        out = {"anonymous": Client()}
        for role, user in self.users.items():
            client = Client()
            if role in ("hr", "executive"):
                login_with_mfa(client, user)
            else:
                client.force_login(user)
            out[role] = client
        return out


def _today():
    return timezone.localdate()


def build_world(*, deliver_outbox=None) -> World:
    today = _today()
    topic = TopicFactory(name="AI tools")
    other_topic = TopicFactory(name="Social media")
    program = ProgramFactory(
        name="Security world programme",
        status=Program.Status.ACTIVE,
        enrollment_opens_on=today - datetime.timedelta(days=40),
        enrollment_closes_on=today - datetime.timedelta(days=20),
        starts_on=today - datetime.timedelta(days=10),
        ends_on=today + datetime.timedelta(days=150),
        topics=[topic, other_topic],
    )
    open_program = ProgramFactory(name="Open world programme", status=Program.Status.ENROLLMENT_OPEN, self_enrollment=True, topics=[topic])
    draft_program = ProgramFactory(name="Draft world programme", status=Program.Status.DRAFT, topics=[topic])

    users = {
        "mentor_a": make_person(level=2, first_name="Maya", last_name="Qzmentora", time_zone="Europe/London"),
        "mentee_a": make_person(level=7, first_name="Sam", last_name="Qzmenteea", time_zone="America/New_York"),
        "other": make_person(level=2, first_name="Olly", last_name="Qzotherb", time_zone="Europe/Paris"),
        "loner": make_person(level=3, first_name="Lee", last_name="Qzloner"),
        "hr": make_person(roles=[Role.HR_ADMIN, Role.PARTICIPANT], level=6, first_name="Harper", last_name="Qzpeople", title="People Partner"),
        "executive": make_person(roles=[Role.EXECUTIVE], level=9, first_name="Eve", last_name="Qzsponsor", title="Chief Operating Officer"),
    }
    pair_a = make_active_pair(program=program, mentor_user=users["mentor_a"], mentee_user=users["mentee_a"])
    pair_b = make_active_pair(program=program, mentor_user=users["other"])
    pair_c = make_active_pair(program=program)
    for pair in (pair_a, pair_b, pair_c):
        pair.started_at = timezone.now() - datetime.timedelta(days=9)
        pair.save(update_fields=["started_at"])
    mentor, mentee = users["mentor_a"].employee, users["mentee_a"].employee

    # "Please not with": leavers with unique names (the directory's current list never shows them).
    left = today - datetime.timedelta(days=100)
    pair_a.mentor.not_with.add(EmployeeFactory(last_name="Qzsecnotwithmentor", email="qzsec.notwith.mentor@acme.example", left_date=left))
    pair_a.mentee.not_with.add(EmployeeFactory(last_name="Qzsecnotwithmentee", email="qzsec.notwith.mentee@acme.example", left_date=left))

    services.agreement_save(pair=pair_a, me=mentor, meeting_frequency="Fortnightly", boundaries="No weekends", confidentiality="Between us", goals=[GoalInput("Learn prompting", 30)])
    services.agreement_acknowledge(pair=pair_a, me=mentee, version=pair_a.agreement.version)
    past = Meeting.objects.create(pair=pair_a, starts_at=timezone.now() - datetime.timedelta(days=2), duration_minutes=45, scheduled_by=mentor)
    log = services.session_log_create(
        pair=pair_a, me=mentor, meeting=past,
        data=LogInput(held_on=today - datetime.timedelta(days=2), minutes=45, topics=[topic], shared_notes="qzsec-shared-notes-3307", private_note="qzsec-mentor-private-note-4471"),
    )
    services.private_note_save(log=log, me=mentee, text="qzsec-mentee-private-note-9035")
    pulse = services.pulse_submit(log=log, me=mentor, felt_heard=1, safe_to_be_candid=2, wants_to_continue=1)
    services.feedback_submit(log=log, me=mentor, usefulness=2, psychological_safety=1, comment="qzsec-mentor-feedback-comment-2218")
    services.feedback_submit(log=log, me=mentee, usefulness=5, psychological_safety=4, comment="qzsec-mentee-feedback-comment-6690")
    concern = services.concern_raise(pair=pair_a, me=mentor, text="qzsec-concern-text-5126")
    insight = services.insight_add(pair=pair_a, me=mentor, text="qzsec-insight-text-8812", topic=topic)
    action = services.action_commit(pair=pair_a, me=mentee, text="qzsec-action-text-1450", due_on=today + datetime.timedelta(days=7), insight=insight)
    start = datetime.datetime.combine(today + datetime.timedelta(days=5), datetime.time(14), tzinfo=datetime.UTC)
    meeting = services.meeting_schedule(pair=pair_a, me=mentor, starts_at=start, duration_minutes=45, agenda="Shared agenda")
    survey = SurveyResponse.objects.create(enrollment=pair_a.mentee, kind=SurveyResponse.Kind.BASELINE, would_recommend=None)

    # Pair B has a life of its own, so "other" is a real participant with real objects.
    other, mentee_b = users["other"].employee, pair_b.mentee.employee
    services.agreement_save(pair=pair_b, me=other, meeting_frequency="Weekly", boundaries="", confidentiality="", goals=[GoalInput("Pair B goal", 10)])
    b = {
        "meeting": services.meeting_schedule(pair=pair_b, me=other, starts_at=datetime.datetime.combine(today + datetime.timedelta(days=6), datetime.time(9), tzinfo=datetime.UTC), duration_minutes=30),
        "past_meeting": Meeting.objects.create(pair=pair_b, starts_at=timezone.now() - datetime.timedelta(days=3), duration_minutes=30, scheduled_by=other),
        "log": services.session_log_create(pair=pair_b, me=other, data=LogInput(held_on=today - datetime.timedelta(days=3), minutes=30, topics=[], shared_notes="Pair B met")),
        "goal": AgreementGoal.objects.get(agreement__pair=pair_b),
        "action": services.action_commit(pair=pair_b, me=mentee_b, text="Pair B action"),
        "insight": services.insight_add(pair=pair_b, me=pair_b.mentor.employee, text="Pair B insight"),
    }
    # Pair C ended, with a reflection.
    services.pair_close(pair=pair_c, me=pair_c.mentor.employee, reason=Pair.EndReason.COMPLETED, reflection="Pair C reflection")
    reflection = Reflection.objects.get(pair=pair_c)

    feed = services.calendar_feed_for(me=mentor)
    reminder = Reminder.objects.create(
        key=f"security-world:{pair_a.pk}", kind=Reminder.Kind.GIVE_FEEDBACK, recipient=mentor, program=program, pair=pair_a,
        due_at=timezone.now() + datetime.timedelta(days=1),
    )
    roster_import = RosterImport.objects.create(
        filename="roster.csv", uploaded_by=users["hr"], status=RosterImport.Status.REJECTED,
        summary={"counts": {"rows": 1, "errors": 1, "creates": 0, "updates": 0, "leavers": 0}, "errors": [{"row": 2, "message": "bad level"}]},
    )
    roster_import.file.save("roster.csv", ContentFile(b"employee_id,email\n"), save=True)
    match_run = MatchRun.objects.create(program=program, status=MatchRun.Status.PUBLISHED, started_by=users["hr"], published_by=users["hr"], published_at=timezone.now(), announced_at=timezone.now(), finished_at=timezone.now(), progress=100)
    Pair.objects.filter(pk__in=[pair_a.pk, pair_b.pk]).update(match_run=match_run)
    spare_mentor = EnrollmentFactory(program=program, role="mentor", status=Enrollment.Status.APPROVED)
    spare_mentee = EnrollmentFactory(program=program, role="mentee", status=Enrollment.Status.APPROVED)
    override = PairingOverride.objects.create(program=program, kind=PairingOverride.Kind.EXCLUDE, mentor=spare_mentor, mentee=spare_mentee, created_by=users["hr"])
    resource = Resource(program=program, title="Mentee handbook", audience=Resource.Audience.MENTEES)
    resource.file.save("handbook.pdf", ContentFile(b"%PDF-1.4 handbook"), save=True)
    snapshot_run = SnapshotRun.objects.create(program=program, requested_by=users["hr"], status=SnapshotRun.Status.DONE, progress=100)
    failed_message = OutboxMessage.objects.create(
        message_id=OutboxMessage.new_message_id(), from_email="upward@acme.example", to=[mentor.email], subject="A failed message",
        body_text="body", status=OutboxMessage.Status.FAILED, attempts=5, last_error="SMTP 550",
    )

    # A program in matching with a proposed run: its inputs hold a pool mentee's "not with" list.
    matching_program = ProgramFactory(name="Matching world programme", status=Program.Status.MATCHING, min_score=0, topics=[topic])
    EnrollmentFactory(program=matching_program, role="mentor", status=Enrollment.Status.APPROVED, employee=EmployeeFactory(level=2))
    pool_mentee = EnrollmentFactory(program=matching_program, role="mentee", status=Enrollment.Status.APPROVED, employee=EmployeeFactory(level=7))
    pool_mentee.not_with.add(EmployeeFactory(last_name="Qzsecnotwithpool", email="qzsec.notwith.pool@acme.example", left_date=left))
    proposed_run = pairing_services.match_run_start(program=matching_program, by=users["hr"])
    pairing_services.match_run_execute(run_id=proposed_run.pk)
    proposed_run.refresh_from_db()
    b["resource"] = Resource.objects.create(program=matching_program, title="Other programme link", url="https://example.com/guide")
    b["snapshot_run"] = SnapshotRun.objects.create(program=matching_program, status=SnapshotRun.Status.DONE, progress=100)
    b["enrollment"] = pool_mentee
    b["run"] = proposed_run
    b["pair"] = Pair.objects.filter(match_run=proposed_run).first()
    b["override"] = PairingOverride.objects.create(
        program=matching_program, kind=PairingOverride.Kind.EXCLUDE, mentor=Enrollment.objects.get(program=matching_program, role="mentor"), mentee=pool_mentee, created_by=users["hr"]
    )

    # Mail caused after everything confidential was written: a move, a cancellation, reminders.
    later = services.meeting_schedule(pair=pair_a, me=mentee, starts_at=start + datetime.timedelta(days=2), duration_minutes=30)
    services.meeting_reschedule(meeting=later, me=mentor, starts_at=start + datetime.timedelta(days=3), reason="Travel")
    services.meeting_cancel(meeting=later, me=mentee, reason="Sick")
    reminders_sweep(now=timezone.now() + datetime.timedelta(days=4, hours=20))
    reminders_send_due(now=timezone.now() + datetime.timedelta(days=4, hours=20))
    if deliver_outbox is not None:
        deliver_outbox()

    pair_a.refresh_from_db()
    return World(
        users=users, program=program, open_program=open_program, draft_program=draft_program, topic=topic,
        pair_a=pair_a, pair_b=pair_b, pair_c=pair_c, meeting=meeting, past_meeting=past, log=log,
        goal=AgreementGoal.objects.get(agreement__pair=pair_a), action=action, insight=insight, concern=concern,
        alert=PulseAlert.objects.get(pair=pair_a), pulse=pulse, survey=survey, reflection=reflection, feed=feed, reminder=reminder,
        unsubscribe=unsubscribe_token(employee=mentor, kind=Reminder.Kind.GIVE_FEEDBACK), roster_import=roster_import,
        match_run=match_run, override=override, resource=resource, snapshot_run=snapshot_run, failed_message=failed_message,
        matching_program=matching_program, proposed_run=proposed_run, pool_mentee=pool_mentee, b=b,
    )

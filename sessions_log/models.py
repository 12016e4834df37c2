"""What pairs do: agreements, meetings, session logs, pulses, insights and actions, feedback,
surveys and closure. Confidential fields are marked; selectors decide who sees what."""

import datetime
import secrets
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from mentoring.models import Employee
from pairing.models import Pair
from programs.models import Enrollment, Topic

ONE_TO_FIVE = [MinValueValidator(1), MaxValueValidator(5)]


def _one_to_five(name):
    return models.CheckConstraint(condition=models.Q(**{f"{name}__gte": 1, f"{name}__lte": 5}), name=f"%(class)s_{name}_1_to_5")


class Agreement(models.Model):
    """What a pair sets up front. Any edit raises the version: both acknowledge again."""

    pair = models.OneToOneField(Pair, on_delete=models.CASCADE, related_name="agreement")
    meeting_frequency = models.CharField(_("how often we meet"), max_length=200, blank=True)
    boundaries = models.TextField(_("boundaries"), blank=True)
    confidentiality = models.TextField(_("confidentiality"), blank=True)
    version = models.PositiveIntegerField(default=1)
    mentor_acknowledged_version = models.PositiveIntegerField(default=0)
    mentee_acknowledged_version = models.PositiveIntegerField(default=0)
    updated_by = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    @property
    def fully_acknowledged(self) -> bool:
        return self.mentor_acknowledged_version == self.version and self.mentee_acknowledged_version == self.version


class AgreementGoal(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="goals")
    title = models.CharField(_("goal"), max_length=200)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0, validators=[MaxValueValidator(100)])
    note = models.CharField(_("progress note"), max_length=500, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(progress__lte=100), name="goal_progress_0_100")]


class Meeting(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="meetings")
    # Calendar identity: the UID never changes; SEQUENCE grows with every change.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveIntegerField(default=0)  # the time's version: moves, cancellation
    # Changes of place, link, agenda or topics. The invite's SEQUENCE is both together
    # (ics_sequence): calendar apps take a changed place only with a higher SEQUENCE, while
    # reminders, keyed by `sequence`, are not sent again for a new room.
    details_version = models.PositiveIntegerField(default=0)
    starts_at = models.DateTimeField(_("starts"))
    duration_minutes = models.PositiveSmallIntegerField(_("length (minutes)"), default=45, validators=[MinValueValidator(10), MaxValueValidator(240)])
    location = models.CharField(_("place"), max_length=200, blank=True)
    video_url = models.URLField(_("video link"), blank=True)
    agenda = models.TextField(_("agenda"), blank=True)
    topics = models.ManyToManyField(Topic, blank=True, related_name="+", verbose_name=_("agenda topics"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    scheduled_by = models.ForeignKey(Employee, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        # (pair, starts_at): a pair's first and latest meeting, looked up for every pair by the metric snapshots.
        indexes = [models.Index(fields=["status", "starts_at"]), models.Index(fields=["pair", "starts_at"])]

    @property
    def ics_sequence(self) -> int:
        return self.sequence + self.details_version

    @property
    def ends_at(self):
        return self.starts_at + datetime.timedelta(minutes=self.duration_minutes)


class MeetingChange(models.Model):
    """Every reschedule or cancel, with who asked and why: the senior side's cancellations
    are a headline metric."""

    class Kind(models.TextChoices):
        RESCHEDULED = "rescheduled", _("Rescheduled")
        CANCELLED = "cancelled", _("Cancelled")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    requested_by = models.ForeignKey(Employee, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_by_role = models.CharField(max_length=10, choices=[("mentor", _("Mentor")), ("mentee", _("Mentee"))])
    reason = models.CharField(max_length=500, blank=True)
    old_starts_at = models.DateTimeField()
    new_starts_at = models.DateTimeField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)


class SessionLog(models.Model):
    """What happened in a session: one per meeting (or ad hoc), written by one side."""

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="session_logs")
    meeting = models.OneToOneField(Meeting, null=True, blank=True, on_delete=models.SET_NULL, related_name="session_log")
    author = models.ForeignKey(Employee, null=True, on_delete=models.SET_NULL, related_name="+")
    held_on = models.DateField(_("date"))
    minutes = models.PositiveSmallIntegerField(_("minutes"), validators=[MinValueValidator(5), MaxValueValidator(480)])
    topics = models.ManyToManyField(Topic, blank=True, related_name="+", verbose_name=_("topics covered"))
    mentor_learned = models.TextField(_("what the mentor learned"), blank=True)
    mentee_learned = models.TextField(_("what the mentee learned"), blank=True)
    shared_notes = models.TextField(_("shared notes (both of you see these)"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    @property
    def day(self) -> datetime.date:
        """The session's day as the reader sees it: a logged meeting's start in the reader's
        time zone (held_on is the author's own calendar day, which around midnight differs
        from the partner's), else held_on."""
        if self.meeting_id is not None and self.meeting is not None:
            return timezone.localtime(self.meeting.starts_at).date()
        return self.held_on

    class Meta:
        ordering = ["-held_on", "-id"]
        # (pair, created_at): when a pair last logged anything, for the snapshots' stuck pairs.
        indexes = [models.Index(fields=["pair", "held_on"]), models.Index(fields=["pair", "created_at"])]
        constraints = [models.CheckConstraint(condition=models.Q(minutes__gte=5, minutes__lte=480), name="session_minutes_range")]


class PrivateNote(models.Model):
    """CONFIDENTIAL: visible to its author only. Not the partner, not HR, not executives."""

    session_log = models.ForeignKey(SessionLog, on_delete=models.CASCADE, related_name="private_notes")
    author = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session_log", "author"], name="one_private_note_per_author")]


class SafetyPulse(models.Model):
    """CONFIDENTIAL: the mentor's three answers after a session. HR only ever sees an alert."""

    session_log = models.OneToOneField(SessionLog, on_delete=models.CASCADE, related_name="pulse")
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="pulses")
    felt_heard = models.PositiveSmallIntegerField(validators=ONE_TO_FIVE)
    safe_to_be_candid = models.PositiveSmallIntegerField(validators=ONE_TO_FIVE)
    wants_to_continue = models.PositiveSmallIntegerField(validators=ONE_TO_FIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [_one_to_five("felt_heard"), _one_to_five("safe_to_be_candid"), _one_to_five("wants_to_continue")]

    @property
    def average(self) -> float:
        return (self.felt_heard + self.safe_to_be_candid + self.wants_to_continue) / 3


class PulseAlert(models.Model):
    """What HR sees of the pulse: that a pair needs attention, never the answers."""

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="pulse_alerts")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)


class Concern(models.Model):
    """A mentor's confidential concern, raised to HR from the pair page."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        IN_HAND = "in_hand", _("In hand")
        CLOSED = "closed", _("Closed")

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="concerns")
    raised_by = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    # HR ONLY: what HR did about it ("called her on Tuesday, moved the pair to another mentee"),
    # for the other HR admins; who wrote it last and when. Never shown to the mentor; the audit
    # log records that it was written, changed or cleared, never its words; blanked when either
    # person of the pair, or its writer, is erased.
    hr_note = models.CharField(_("what HR did"), max_length=1000, blank=True)
    hr_note_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    hr_note_at = models.DateTimeField(null=True, blank=True)


class Insight(models.Model):
    """An insight the mentor raised (topic + text). Sponsors see counts by topic only."""

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="insights")
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField()
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)


class ActionItem(models.Model):
    """What the mentee commits to do, with a due date, closed when done."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="actions")
    insight = models.ForeignKey(Insight, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions")
    session_log = models.ForeignKey(SessionLog, null=True, blank=True, on_delete=models.SET_NULL, related_name="actions")
    text = models.CharField(max_length=500)
    due_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=5, choices=Status.choices, default=Status.OPEN)
    committed_by = models.ForeignKey(Employee, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "due_on", "id"]


class Feedback(models.Model):
    """CONFIDENTIAL: one side's rating of a session. The partner never sees it."""

    session_log = models.ForeignKey(SessionLog, on_delete=models.CASCADE, related_name="feedback")
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="feedback")
    author = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="+")
    usefulness = models.PositiveSmallIntegerField(validators=ONE_TO_FIVE)
    psychological_safety = models.PositiveSmallIntegerField(validators=ONE_TO_FIVE)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session_log", "author"], name="one_feedback_per_side_per_session"),
            _one_to_five("usefulness"),
            _one_to_five("psychological_safety"),
        ]


class SurveyResponse(models.Model):
    class Kind(models.TextChoices):
        BASELINE = "baseline", _("Baseline")
        MIDPOINT = "midpoint", _("Midpoint")
        FINAL = "final", _("Final")

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="survey_responses")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    would_recommend = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(10)])
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "kind"], name="one_survey_per_kind"),
            models.CheckConstraint(condition=models.Q(would_recommend__isnull=True) | models.Q(would_recommend__lte=10), name="nps_0_to_10"),
        ]


class SurveyAnswer(models.Model):
    """One 1–5 self-assessment: a topic (mentees' learning) or a growth item (mentors)."""

    GROWTH_ITEMS = {
        "confidence_with_leaders": _("Confidence with senior leaders"),
        "communication": _("Communication"),
        "visibility": _("Visibility in the organisation"),
    }

    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    topic = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    growth_item = models.CharField(max_length=40, blank=True)
    score = models.PositiveSmallIntegerField(validators=ONE_TO_FIVE)

    class Meta:
        constraints = [
            _one_to_five("score"),
            models.CheckConstraint(condition=models.Q(topic__isnull=False) ^ ~models.Q(growth_item=""), name="answer_is_topic_or_growth"),
        ]


class Reflection(models.Model):
    """A short reflection from each side when a pair ends."""

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="reflections")
    author = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pair", "author"], name="one_reflection_per_side")]


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A person's secret calendar URL. Revoking replaces the token; the old URL stops working."""

    employee = models.OneToOneField(Employee, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(default=timezone.now)


class Reminder(models.Model):
    """A message due to a person at a time for a reason, sent at most once.

    The periodic sweep derives what is due from the data and inserts rows; the unique
    idempotency key (kind, subject, recipient, occurrence) makes a second sweep, or two
    sweeps at once, insert nothing new.
    """

    class Kind(models.TextChoices):
        MEETING_UPCOMING = "meeting_upcoming", _("Meeting coming up")
        LOG_SESSION = "log_session", _("Log your session")
        GIVE_FEEDBACK = "give_feedback", _("Give feedback")
        AGREEMENT_UNSIGNED = "agreement_unsigned", _("Agreement not acknowledged")
        PAIR_STUCK = "pair_stuck", _("Pair has gone quiet")
        SURVEY = "survey", _("Survey open or closing")
        ENROLLMENT_CLOSING = "enrollment_closing", _("Enrollment closing")
        INVITATION_UNANSWERED = "invitation_unanswered", _("Invitation not answered")
        ACTION_DUE = "action_due", _("Action item due")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")
        SKIPPED = "skipped", _("Skipped")

    key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    recipient = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="reminders")
    program = models.ForeignKey("programs.Program", null=True, blank=True, on_delete=models.CASCADE, related_name="reminder_rows")
    meeting = models.ForeignKey(Meeting, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders")
    pair = models.ForeignKey(Pair, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders")
    context = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    outbox_message = models.ForeignKey("mentoring.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "due_at"]), models.Index(fields=["program", "status"])]


class ReminderOptOut(models.Model):
    """A person switched one kind of reminder off (preferences page or one-click unsubscribe)."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="reminder_opt_outs")
    kind = models.CharField(max_length=30, choices=Reminder.Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["employee", "kind"], name="one_opt_out_per_kind")]

"""Programs, topics, enrollment and training resources."""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _, ngettext

from mentoring.models import Department, Employee


# Once enrollment has closed, while the program is matching or running, HR can still invite
# late joiners (Enrollment.apply_by); status values, so that they read before Program is defined.
LATE_JOIN_STATUSES = ("matching", "active")
LATE_WINDOW_STATUSES = ("invited", "applied")  # the enrollments a late invitation's window applies to
# Once approved, a person keeps their availability, time zone and languages current for as long
# as there is pairing or meeting ahead: until the program completes (the application form
# closes at review, but a six-month program outlives anyone's calendar).
AVAILABILITY_EDIT_STATUSES = ("enrollment_open", "matching", "active")
# A weekly availability slot ("tue-10") is the two-hour block from that hour in the person's
# own time zone: the application grid, the pairing engine's input and the scheduler read it so.
AVAILABILITY_BLOCK = datetime.timedelta(hours=2)


class Topic(models.Model):
    """An HR-managed focus topic: what juniors can teach and seniors want to learn."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive topics are kept on old programs but not offered for new ones."))

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    MENTOR = "mentor", _("Mentor")
    MENTEE = "mentee", _("Mentee")


DEFAULT_WEIGHTS = {
    "topics": 40,
    "interests": 10,
    "availability": 15,
    "time_zone": 10,
    "language": 10,
    "level_gap": 10,
    "cross_department": 5,
}
WEIGHT_LABELS = {
    "topics": _("Topic fit (can teach × wants to learn, by baseline gap)"),
    "interests": _("Shared interests"),
    "availability": _("Availability overlap"),
    "time_zone": _("Time-zone closeness"),
    "language": _("Shared language"),
    "level_gap": _("Seniority gap in the right direction"),
    "cross_department": _("Different departments"),
}

REMINDER_KINDS = {
    "meeting_upcoming": _("Meeting in 24 h and in 1 h"),
    "log_session": _("Log your session"),
    "give_feedback": _("Give feedback"),
    "agreement_unsigned": _("Agreement not acknowledged"),
    "pair_stuck": _("Pair has gone quiet"),
    "survey": _("Survey open and closing"),
    "enrollment_closing": _("Enrollment closing"),
    "invitation_unanswered": _("Invitation not answered"),
    "action_due": _("Action item due"),
}


DESCRIPTION_MAX = 1000


def default_weights():
    return dict(DEFAULT_WEIGHTS)


def default_reminders():
    return {kind: True for kind in REMINDER_KINDS}


class Program(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ENROLLMENT_OPEN = "enrollment_open", _("Enrollment open")
        MATCHING = "matching", _("Matching")
        ACTIVE = "active", _("Active")
        COMPLETED = "completed", _("Completed")
        ARCHIVED = "archived", _("Archived")

    class Mode(models.TextChoices):
        REVERSE = "reverse", _("Reverse (junior mentors senior)")
        TWO_WAY = "two_way", _("Two-way (both sides teach and learn)")

    class Strategy(models.TextChoices):
        BEST_SCORE = "best_score", _("Best total compatibility")
        MOST_MATCHED = "most_matched", _("Match as many people as possible, then best compatibility")

    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("short name"), max_length=80, unique=True, help_text=_("Used in links, e.g. 'ai-for-leaders-2027'."))
    # Shown on program cards, the application page and in invitations: a short paragraph or two.
    description = models.TextField(_("description"), blank=True, max_length=DESCRIPTION_MAX, validators=[MaxLengthValidator(DESCRIPTION_MAX)])
    objectives = models.TextField(_("objectives"), blank=True, help_text=_("What the program should change; one per line."))
    topics = models.ManyToManyField(Topic, related_name="programs", verbose_name=_("focus topics"))
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices, default=Mode.REVERSE)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)

    enrollment_opens_on = models.DateField(_("enrollment opens"))
    enrollment_closes_on = models.DateField(_("enrollment closes"))
    starts_on = models.DateField(_("program starts"))
    ends_on = models.DateField(_("program ends"))
    cadence_days = models.PositiveSmallIntegerField(_("meet every (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(90)])
    meeting_minutes = models.PositiveSmallIntegerField(_("meeting length (minutes)"), default=45, validators=[MinValueValidator(10), MaxValueValidator(240)])
    expected_sessions = models.PositiveSmallIntegerField(_("expected sessions"), default=6, validators=[MinValueValidator(1), MaxValueValidator(100)])

    # Eligibility: higher level numbers are more senior.
    mentor_max_level = models.PositiveSmallIntegerField(_("mentors: highest level"), default=3)
    mentee_min_level = models.PositiveSmallIntegerField(_("mentees: lowest level"), default=6)
    min_level_gap = models.PositiveSmallIntegerField(_("minimum level gap"), default=2, help_text=_("A mentor is at least this many levels below their mentee."))
    departments = models.ManyToManyField(Department, blank=True, related_name="programs", verbose_name=_("departments included"), help_text=_("Leave empty for the whole organisation."))
    self_enrollment = models.BooleanField(_("open self-enrollment"), default=False, help_text=_("Eligible employees see the program on their home page and can apply without an invitation."))

    mentees_per_mentor = models.PositiveSmallIntegerField(_("mentees per mentor"), default=1, validators=[MinValueValidator(1), MaxValueValidator(10)])
    max_active_pairs_per_mentor = models.PositiveSmallIntegerField(
        _("cap on a mentor's active pairs across programs"), default=2, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )

    pairing_weights = models.JSONField(_("criterion weights"), default=default_weights)
    ban_same_department = models.BooleanField(_("never pair within the same department"), default=False)
    ban_same_manager = models.BooleanField(_("never pair people under the same manager"), default=True)
    pairing_strategy = models.CharField(_("pairing strategy"), max_length=20, choices=Strategy.choices, default=Strategy.BEST_SCORE)
    min_score = models.PositiveSmallIntegerField(_("minimum score"), default=150, validators=[MaxValueValidator(1000)], help_text=_("0–1000: no pair below this is proposed."))

    reminders = models.JSONField(_("reminders"), default=default_reminders)
    reminder_lead_hours = models.PositiveSmallIntegerField(_("meeting reminder lead time (hours)"), default=24, validators=[MinValueValidator(1), MaxValueValidator(168)])
    stuck_after_days = models.PositiveSmallIntegerField(_("a pair is stuck after (days without activity)"), default=21, validators=[MinValueValidator(3), MaxValueValidator(180)])
    pulse_alert_threshold = models.DecimalField(_("safety pulse alert below"), max_digits=3, decimal_places=1, default=3, validators=[MinValueValidator(1), MaxValueValidator(5)])

    midpoint_survey_on = models.DateField(_("midpoint survey"), null=True, blank=True)
    final_survey_on = models.DateField(_("final survey"), null=True, blank=True)
    agreement_template = models.TextField(_("agreement template"), blank=True)
    # Archiving closes every survey still open (or still to come) that day, before its planned
    # close; the day is kept so that the surveys' closing date shown to people is the real one.
    surveys_closed_on = models.DateField(_("surveys closed early on"), null=True, blank=True, editable=False)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gt=models.F("starts_on")), name="program_ends_after_start"),
            models.CheckConstraint(condition=models.Q(enrollment_closes_on__gte=models.F("enrollment_opens_on")), name="program_window_ordered"),
            models.CheckConstraint(condition=models.Q(mentees_per_mentor__gte=1), name="program_capacity_positive"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.status == self.Status.ARCHIVED

    @property
    def is_discarded_draft(self) -> bool:
        """Archived straight from draft ('Discard draft'): it never ran. Lists annotate
        ``discarded_draft`` (selectors.programs_for_hr); one program reads its timeline."""
        if self.status != self.Status.ARCHIVED:
            return False
        if hasattr(self, "discarded_draft"):
            return self.discarded_draft
        return self.transitions.filter(from_status=self.Status.DRAFT, to_status=self.Status.ARCHIVED).exists()

    @property
    def takes_late_joiners(self) -> bool:
        """Enrollment has closed but HR may still invite people (see Enrollment.apply_by): a
        last day to apply between tomorrow and the day before the end exists. The one rule;
        programs.services.late_join_problems says why not in words."""
        return self.status in LATE_JOIN_STATUSES and timezone.localdate() + datetime.timedelta(days=1) < self.ends_on

    def clean(self):
        # A list per field: a date can break two rules at once (a final survey before the
        # program and before the midpoint), and both are said in the same submission.
        errors: dict[str, list] = {}

        def refuse(field, message):
            errors.setdefault(field, []).append(message)

        if self.starts_on and self.ends_on and self.ends_on <= self.starts_on:
            refuse("ends_on", _("The program must end after it starts."))
        if self.enrollment_opens_on and self.enrollment_closes_on and self.enrollment_closes_on < self.enrollment_opens_on:
            refuse("enrollment_closes_on", _("Enrollment must close on or after the day it opens."))
        if self.enrollment_closes_on and self.starts_on and self.enrollment_closes_on > self.starts_on:
            refuse("enrollment_closes_on", _("Enrollment must close by the day the program starts."))
        if self.ends_on and self.enrollment_opens_on and self.enrollment_opens_on >= self.ends_on:
            refuse("enrollment_opens_on", _("Enrollment must open before the program ends."))
        for field, label in (("midpoint_survey_on", _("The midpoint survey")), ("final_survey_on", _("The final survey"))):
            day = getattr(self, field)
            if day and self.starts_on and self.ends_on and not (self.starts_on <= day <= self.ends_on + datetime.timedelta(days=30)):
                refuse(field, _("%(what)s must fall within the program (or up to 30 days after it ends).") % {"what": label})
        if self.midpoint_survey_on and self.final_survey_on and self.final_survey_on <= self.midpoint_survey_on:
            refuse("final_survey_on", _("The final survey comes after the midpoint survey."))
        if self.mentees_per_mentor and self.max_active_pairs_per_mentor and self.mentees_per_mentor > self.max_active_pairs_per_mentor:
            refuse("mentees_per_mentor", ngettext(
                "A mentor may have at most %(cap)d active pair across all programs, so they could never take %(n)d mentees here: lower this to %(cap)d or raise the cap.",
                "A mentor may have at most %(cap)d active pairs across all programs, so they could never take %(n)d mentees here: lower this to %(cap)d or raise the cap.",
                self.max_active_pairs_per_mentor,
            ) % {"cap": self.max_active_pairs_per_mentor, "n": self.mentees_per_mentor})
        weights = self.pairing_weights or {}
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            refuse("pairing_weights", _("Unknown criteria: %(names)s.") % {"names": ", ".join(sorted(unknown))})
        elif any((not isinstance(v, (int, float))) or v < 0 for v in weights.values()):
            refuse("pairing_weights", _("Weights must be zero or more."))
        elif weights and sum(weights.values()) <= 0:
            refuse("pairing_weights", _("At least one weight must be above zero."))
        if errors:
            raise ValidationError(errors)


class ProgramTransition(models.Model):
    """The program's visible timeline: who moved it, from what, to what, when."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=20, choices=Program.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Program.Status.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]


class Resource(models.Model):
    """Training material for a program: a link or an uploaded file, for one side or both."""

    class Audience(models.TextChoices):
        EVERYONE = "everyone", _("Everyone")
        MENTORS = "mentors", _("Mentors")
        MENTEES = "mentees", _("Mentees")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="resources")
    title = models.CharField(_("title"), max_length=200)
    url = models.URLField(_("link"), blank=True)
    file = models.FileField(_("file"), upload_to="program-resources/%Y/", blank=True)
    audience = models.CharField(_("audience"), max_length=10, choices=Audience.choices, default=Audience.EVERYONE)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.title

    def clean(self):
        if not self.url and not self.file:
            raise ValidationError(_("Give a link or upload a file."))

    def is_for(self, role: str) -> bool:
        return self.audience == self.Audience.EVERYONE or self.audience == (self.Audience.MENTORS if role == Role.MENTOR else self.Audience.MENTEES)


class Enrollment(models.Model):
    """A person's place in a program, as mentor or mentee."""

    class Status(models.TextChoices):
        INVITED = "invited", _("Invited")
        APPLIED = "applied", _("Applied")
        APPROVED = "approved", _("Approved")
        WAITLISTED = "waitlisted", _("Waitlisted")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="enrollments")
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="enrollments")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.APPLIED)

    interests = models.JSONField(_("interests"), default=list, blank=True)
    languages = models.JSONField(_("languages"), default=list, blank=True)
    # Weekly slots in the person's own time zone, e.g. "mon-08" for Monday 08:00–10:00.
    availability = models.JSONField(_("availability"), default=list, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    motivation = models.TextField(_("what you hope for"), blank=True)
    # Confidential: used by the pairing engine only, never shown to anyone but the author.
    not_with = models.ManyToManyField(Employee, blank=True, related_name="+", verbose_name=_("please not with"))

    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    invited_at = models.DateTimeField(null=True, blank=True)
    # Set on invitations sent after enrollment closed (the program matching or running): the
    # last day this person may apply. Invitations sent during enrollment follow its window.
    apply_by = models.DateField(_("apply by"), null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_message = models.TextField(blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["program", "role", "id"]
        constraints = [
            # One enrollment per person per program, whatever the role: a double submit
            # cannot create a second one.
            models.UniqueConstraint(fields=["program", "employee"], name="one_enrollment_per_person_per_program"),
        ]
        indexes = [models.Index(fields=["program", "status", "role"])]

    def __str__(self):
        return f"{self.employee} — {self.get_role_display()} in {self.program}"

    def local_today(self) -> datetime.date:
        """Today in this person's time zone: a last day to apply lasts until their midnight."""
        import zoneinfo

        try:
            return timezone.localdate(timezone=zoneinfo.ZoneInfo(self.time_zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return timezone.localdate()

    @property
    def late_last_day(self) -> datetime.date | None:
        """The last day a late invitation lets this person apply: its apply_by, or the day
        before the program ends if HR has since moved the end earlier."""
        if self.apply_by is None:
            return None
        return min(self.apply_by, self.program.ends_on - datetime.timedelta(days=1))

    def late_window_open(self, on: datetime.date | None = None) -> bool:
        """Whether a late invitation (sent after enrollment closed) lets this person apply, or
        change their application, on this day (their own today by default): until its last
        day, while the program is matching or running."""
        on = on or self.local_today()
        return (
            self.apply_by is not None
            and self.status in LATE_WINDOW_STATUSES
            and self.program.status in LATE_JOIN_STATUSES
            and on <= self.late_last_day
        )

    @property
    def late_window(self) -> bool:  # for templates
        return self.late_window_open()

    @property
    def availability_editable(self) -> bool:
        """Whether the person may update their availability, time zone and languages now
        (programs.services.availability_update_problem says why not, in words)."""
        return self.status == self.Status.APPROVED and self.program.status in AVAILABILITY_EDIT_STATUSES


class EnrollmentTopic(models.Model):
    """A topic a mentor can teach (with confidence) or a mentee wants to learn (with baseline)."""

    class Kind(models.TextChoices):
        TEACH = "teach", _("Can teach")
        LEARN = "learn", _("Wants to learn")

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="topic_ratings")
    topic = models.ForeignKey(Topic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    # Mentors: confidence teaching it. Mentees: current level (the baseline self-assessment).
    level = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "topic", "kind"], name="one_rating_per_topic"),
            models.CheckConstraint(condition=models.Q(level__gte=1, level__lte=5), name="topic_level_1_to_5"),
        ]


class ResourceCompletion(models.Model):
    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="completions")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="completed_resources")
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["resource", "enrollment"], name="resource_done_once")]


class MetricSnapshot(models.Model):
    """A program's metrics at a point in time, computed by Celery; dashboards read only these.

    One snapshot per program per day: recomputing the same day replaces it (idempotent), and
    the days form the time series the executive dashboard draws.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="snapshots")
    as_of = models.DateField()
    computed_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["program", "as_of"]
        constraints = [models.UniqueConstraint(fields=["program", "as_of"], name="one_snapshot_per_program_per_day")]


class SnapshotRun(models.Model):
    """An on-demand recomputation requested by HR, with progress for the page to show."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="snapshot_runs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

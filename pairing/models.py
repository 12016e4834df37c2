"""Match runs, HR overrides (pins and exclusions) and pairs."""

from functools import cached_property

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from programs.models import Enrollment, Program

from . import engine


class MatchRun(models.Model):
    """One run of the pairing engine, kept for audit: inputs, policy, result, who ran it."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        PROPOSED = "proposed", _("Proposed")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Superseded")
        FAILED = "failed", _("Failed")

    class Kind(models.TextChoices):
        INITIAL = "initial", _("Initial pairing")
        REMATCH = "rematch", _("Re-match of the remaining pool")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="match_runs")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INITIAL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=200, blank=True)
    # The engine's input (pairing.engine.PairingInput.to_dict()) and output (MatchResult.to_dict()).
    inputs = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    stats = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    # When everyone was told (the emails written to the outbox): at publishing for a small
    # run, by a Celery task moments later for a large one. Null on a published run: owed.
    announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Match run {self.pk} for {self.program} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status not in (self.Status.QUEUED, self.Status.RUNNING)


class PairingOverride(models.Model):
    """An HR decision the engine must honour on the next run: pin a pair or exclude it."""

    class Kind(models.TextChoices):
        PIN = "pin", _("Pinned together")
        EXCLUDE = "exclude", _("Kept apart")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="pairing_overrides")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    mentor = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="+")
    mentee = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["program", "mentor", "mentee"], name="one_override_per_pair")]


class Pair(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        ENDED = "ended", _("Ended")

    class Source(models.TextChoices):
        ENGINE = "engine", _("Pairing engine")
        PINNED = "pinned", _("Pinned by HR")
        MANUAL = "manual", _("Paired by HR")

    class EndReason(models.TextChoices):
        COMPLETED = "completed", _("Program completed")
        WITHDRAWAL = "withdrawal", _("A participant withdrew")
        NOT_A_FIT = "not_a_fit", _("Not a good fit")
        LEFT_COMPANY = "left_company", _("A participant left the company")
        HR_DECISION = "hr_decision", _("Ended by HR")
        OTHER = "other", _("Other")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="pairs")
    mentor = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="pairs_as_mentor")
    mentee = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="pairs_as_mentee")
    match_run = models.ForeignKey(MatchRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="pairs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.ENGINE)
    score = models.PositiveSmallIntegerField(default=0)
    # The engine's per-criterion breakdown and the readable reasons built from it.
    breakdown = models.JSONField(default=dict, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)
    end_note = models.CharField(max_length=500, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # On hold (HR paused it: leave, workload): since when, and a note both people see.
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_note = models.CharField(max_length=500, blank=True)
    # When it was last resumed: the quiet clock restarts there (time on hold is not quiet).
    resumed_at = models.DateTimeField(null=True, blank=True)
    # When HR last sent both people a check-in (one a day at most), who wrote it and what it
    # said: the pair page shows it to the other HR admins.
    nudged_at = models.DateTimeField(null=True, blank=True)
    check_in_note = models.CharField(max_length=1000, blank=True)
    check_in_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["program", "-score", "id"]
        constraints = [
            # A mentee has at most one live pair per program, whatever races happen.
            models.UniqueConstraint(
                fields=["program", "mentee"],
                condition=models.Q(status__in=["proposed", "active", "paused"]),
                name="one_live_pair_per_mentee",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="ended") | models.Q(ended_at__isnull=False),
                name="ended_pair_has_end_date",
            ),
        ]
        indexes = [models.Index(fields=["program", "status"])]

    def __str__(self):
        return f"{self.mentor.employee} → {self.mentee.employee} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.PAUSED)

    @property
    def withdrawn_side(self) -> Enrollment | None:
        """The enrollment whose withdrawal ended this pair, or None. Its withdrawal reason was
        written for HR ("HR reads this to re-match your partner"); the partner never sees it.
        Read from the two enrollments already loaded with the pair: no query of its own."""
        if self.end_reason != self.EndReason.WITHDRAWAL:
            return None
        gone = [e for e in (self.mentor, self.mentee) if e.status == Enrollment.Status.WITHDRAWN]
        if len(gone) > 1 and self.ended_at is not None:
            # Both have left since: the one who left first ended it (the withdrawal is stamped
            # just before its pair ends); the other left later, from no pair.
            before = [e for e in gone if e.withdrawn_at is not None and e.withdrawn_at <= self.ended_at]
            gone = sorted(before or gone, key=lambda e: e.withdrawn_at or self.ended_at)
        return gone[-1] if gone else None

    @cached_property
    def reason_items(self) -> list[tuple[str, bool]]:
        """The stored reasons, each with True when it is a drawback (see engine.explain_items);
        read from the breakdown, so pairs stored before the flag existed get it too."""
        if not self.breakdown:
            return [(text, False) for text in self.reasons]
        try:
            return engine.explain_items(engine.Breakdown.from_dict(self.breakdown))
        except (engine.PairingError, KeyError, TypeError, ValueError):
            return [(text, False) for text in self.reasons]

    @property
    def strengths(self) -> list[str]:
        return [text for text, drawback in self.reason_items if not drawback]

    @property
    def drawbacks(self) -> list[str]:
        return [text for text, drawback in self.reason_items if drawback]

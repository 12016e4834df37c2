"""Accounts, roles, the org directory, the roster import and the mail outbox."""

import uuid
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Roles are Django groups with these names; a person may hold several."""

    HR_ADMIN = "hr_admin", _("HR admin")
    EXECUTIVE = "executive", _("Executive")
    PARTICIPANT = "participant", _("Participant")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login. Keyed on email; the person behind it is an Employee (user.employee)."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    is_staff = models.BooleanField(_("staff status"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.full_name or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return (self.full_name.split(" ")[0] if self.full_name else self.email)

    @cached_property
    def role_names(self) -> frozenset[str]:
        if not self.is_active:
            return frozenset()
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, role: str) -> bool:
        return role in self.role_names


class Department(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


def validate_time_zone(value: str):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(tz)s is not a known time zone (use a name like Europe/Paris)."), params={"tz": value})


class EmployeeQuerySet(models.QuerySet):
    def current(self):
        """People still with the company as far as Upward knows: not leavers, not erased (an
        erased record is a pseudonym no roster import updates again, not a colleague)."""
        return self.filter(left_date__isnull=True, erased_at__isnull=True)


# The highest level a person can have: what the level column holds on every database. The roster
# import refuses more, and a program's level rules (programs.forms.ProgramForm) go up to it too.
MAX_LEVEL = 32767


class Employee(models.Model):
    """A person in the org directory. Never deleted: leavers get a left date."""

    employee_id = models.CharField(_("employee id"), max_length=64, unique=True)
    email = models.EmailField(_("email"), unique=True)
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    title = models.CharField(_("title"), max_length=200, blank=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="employees", verbose_name=_("department"))
    level = models.PositiveSmallIntegerField(_("level"), help_text=_("Higher is more senior."))
    level_label = models.CharField(_("level label"), max_length=60, blank=True)
    manager = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="direct_reports", verbose_name=_("manager"))
    location = models.CharField(_("location"), max_length=120, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    # The person chose their time zone themselves (they travel, or work far from their office):
    # roster imports then leave it as it is.
    time_zone_chosen = models.BooleanField(_("time zone chosen by the person"), default=False)
    # While they have: the directory's zone (their office's), for going back to it.
    office_time_zone = models.CharField(_("office time zone"), max_length=64, blank=True)
    hire_date = models.DateField(_("hire date"), null=True, blank=True)
    left_date = models.DateField(_("left date"), null=True, blank=True)
    # Set by a GDPR erasure (mentoring.gdpr): the row stays, pseudonymised, so aggregates hold.
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="employee")
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmployeeQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="employee_email_ci_unique"),
            models.CheckConstraint(condition=~models.Q(manager=models.F("id")), name="employee_not_own_manager"),
        ]
        indexes = [models.Index(fields=["manager"]), models.Index(fields=["left_date"])]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def level_text(self) -> str:
        """'level 8 (Senior Director)': said as a level, so a level label is not read as the
        job title shown elsewhere ('Director, Sales' and 'Senior Director' for one person)."""
        level = _("level %(n)s") % {"n": self.level}
        return f"{level} ({self.level_label})" if self.level_label else level

    @property
    def is_current(self) -> bool:
        """As EmployeeQuerySet.current(): not a leaver and not erased."""
        return self.left_date is None and self.erased_at is None

    def clean(self):
        if self.left_date and self.hire_date and self.left_date < self.hire_date:
            raise ValidationError({"left_date": _("The left date is before the hire date.")})

    # --- reporting line: one recursive query, not one query per level -------------------
    def manager_chain_ids(self) -> list[int]:
        """Ids of this person's managers, nearest first."""
        return reporting_chains([self.pk])[self.pk]

    def subtree_ids(self) -> set[int]:
        """Ids of everyone who reports to this person at any depth (not including them)."""
        return reporting_subtree(self.pk)

    def in_reporting_line_of(self, other: "Employee") -> bool:
        """True when either person is in the other's manager chain, at any depth."""
        chains = reporting_chains([self.pk, other.pk])
        return other.pk in chains[self.pk] or self.pk in chains[other.pk]


# A manager chain longer than this is treated as a cycle (the import rejects cycles).
MAX_CHAIN_DEPTH = 64


def reporting_chains(employee_ids) -> dict[int, list[int]]:
    """{employee id: [manager id, manager's manager id, ...]} for many people in one query."""
    ids = [int(i) for i in employee_ids]
    chains: dict[int, list[int]] = {i: [] for i in ids}
    if not ids:
        return chains
    table = Employee._meta.db_table
    placeholders = ", ".join(["%s"] * len(ids))
    # Only the model's own table name and "%s" placeholders are formatted in; values are bound.
    sql = f"""
        WITH RECURSIVE chain(origin, manager_id, depth) AS (
            SELECT id, manager_id, 1 FROM {table} WHERE id IN ({placeholders}) AND manager_id IS NOT NULL
            UNION ALL
            SELECT chain.origin, e.manager_id, chain.depth + 1
            FROM chain JOIN {table} e ON e.id = chain.manager_id
            WHERE e.manager_id IS NOT NULL AND chain.depth < %s
        )
        SELECT origin, manager_id FROM chain ORDER BY origin, depth
    """  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, MAX_CHAIN_DEPTH])
        for origin, manager_id in cursor.fetchall():
            chains[origin].append(manager_id)
    return chains


def reporting_subtree(employee_id: int) -> set[int]:
    """Ids of everyone under this person at any depth, in one query."""
    table = Employee._meta.db_table
    # Only the model's own table name is formatted in; values are bound parameters.
    sql = f"""
        WITH RECURSIVE below(id, depth) AS (
            SELECT id, 1 FROM {table} WHERE manager_id = %s
            UNION ALL
            SELECT e.id, below.depth + 1 FROM {table} e JOIN below ON e.manager_id = below.id
            WHERE below.depth < %s
        )
        SELECT DISTINCT id FROM below
    """  # nosec B608
    with connection.cursor() as cursor:
        cursor.execute(sql, [employee_id, MAX_CHAIN_DEPTH])
        return {row[0] for row in cursor.fetchall()}


class EmployeeEvent(models.Model):
    """Dated roster history: retention and promotion metrics are computed from it."""

    class Kind(models.TextChoices):
        JOINED = "joined", _("Joined")
        LEVEL_CHANGE = "level_change", _("Level change")
        LEFT = "left", _("Left")
        REJOINED = "rejoined", _("Rejoined")

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    effective_date = models.DateField()
    from_level = models.PositiveSmallIntegerField(null=True, blank=True)
    to_level = models.PositiveSmallIntegerField(null=True, blank=True)
    roster_import = models.ForeignKey("RosterImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["effective_date", "id"]
        indexes = [models.Index(fields=["kind", "effective_date"])]

    def __str__(self):
        return f"{self.employee} {self.get_kind_display()} {self.effective_date}"

    @property
    def is_promotion(self) -> bool:
        return self.kind == self.Kind.LEVEL_CHANGE and (self.to_level or 0) > (self.from_level or 0)


class ErasedIdentity(models.Model):
    """A keyed fingerprint (HMAC with the site's secret key, never the value itself) of an
    erased person's employee id and email address: the next HRIS import, which still lists
    them, is recognised and does not bring them back under their name."""

    digest = models.CharField(max_length=64, unique=True)
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    @staticmethod
    def digest_of(kind: str, value: str, secret: str | None = None) -> str:
        """The fingerprint under ``secret`` (settings.SECRET_KEY by default). Employee ids are
        compared exactly ("ab12" is not "AB12"), addresses in lower case."""
        from django.utils.crypto import salted_hmac  # noqa: PLC0415

        value = value.strip().lower() if kind == "email" else value.strip()
        return salted_hmac("upward.erased-identity", f"{kind}:{value}", secret=secret, algorithm="sha256").hexdigest()

    @classmethod
    def digests_of(cls, kind: str, value: str) -> list[str]:
        """Under the current key and each of settings.SECRET_KEY_FALLBACKS: a key rotated the
        Django way (the old one kept as a fallback) still recognises people erased before."""
        from django.conf import settings  # noqa: PLC0415

        return [cls.digest_of(kind, value, secret) for secret in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))]


class RosterImport(models.Model):
    """One uploaded HRIS export: previewed first, applied at most once."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        APPLIED = "applied", _("Applied")
        REJECTED = "rejected", _("Has errors")

    file = models.FileField(upload_to="roster-imports/%Y/%m/")
    filename = models.CharField(max_length=255)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PREVIEWED)
    applied_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.filename} ({self.get_status_display()})"


class OutboxMessage(models.Model):
    """An outgoing email, written in the transaction of the change that causes it.

    Celery drains the outbox; the row is the source of truth, so a broker outage or a
    killed worker delays a message but never loses it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    message_id = models.CharField(max_length=255, unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    from_email = models.CharField(max_length=255)
    to = models.JSONField(default=list)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998)
    body_text = models.TextField(blank=True)
    body_subtype = models.CharField(max_length=20, default="plain")
    # [{"content": str, "mimetype": str}], e.g. the HTML part.
    alternatives = models.JSONField(default=list, blank=True)
    # [{"filename": str, "content_b64": str, "mimetype": str}], e.g. an ICS invite.
    attachments = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
        ]

    def __str__(self):
        return f"{self.subject} → {', '.join(self.to)} ({self.status})"

    @staticmethod
    def new_message_id() -> str:
        domain = getattr(settings, "EMAIL_MESSAGE_ID_DOMAIN", None) or settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip(">") or "upward"
        return f"<{uuid.uuid4().hex}@{domain}>"


class AuditLogIsAppendOnly(Exception):
    """Raised when code tries to change or remove an audit event."""


class AuditEventQuerySet(models.QuerySet):
    # The ORM offers no way to rewrite history; on PostgreSQL a trigger also refuses UPDATE
    # and DELETE from anything else (raw SQL, another client), see migration 0003.
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")


class AuditEvent(models.Model):
    """Who did what, when (UTC), to which object, with the changed values. Append-only.

    Rows hold ids, statuses and counts, never names, emails or free text: nothing here can be
    corrected later, so nothing here may need erasing. Pages show people by looking the ids up
    (an erased person then reads "Erased person #id"). Note, comment, pulse and feedback text
    never reaches this table.
    """

    class Action(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Sign-in failed")
        ROLE_GRANTED = "role_granted", _("Role granted")
        ROLE_REVOKED = "role_revoked", _("Role revoked")
        ROSTER_IMPORTED = "roster_imported", _("Roster imported")
        PROGRAM_CREATED = "program_created", _("Program created")
        PROGRAM_UPDATED = "program_updated", _("Program edited")
        PROGRAM_TRANSITIONED = "program_transitioned", _("Program status changed")
        ENROLLMENTS_INVITED = "enrollments_invited", _("People invited to a program")
        ENROLLMENTS_DECIDED = "enrollments_decided", _("Applications decided")
        ENROLLMENTS_WITHDRAWN = "enrollments_withdrawn", _("Leavers' enrollments withdrawn")
        MATCH_RUN_STARTED = "match_run_started", _("Match run started")
        MATCH_RUN_PROPOSED = "match_run_proposed", _("Match run proposed pairs")
        PROPOSAL_CHANGED = "proposal_changed", _("Proposal changed by hand")
        OVERRIDE_SET = "override_set", _("Pin or exclusion set")
        OVERRIDE_REMOVED = "override_removed", _("Pin or exclusion removed")
        MATCH_RUN_PUBLISHED = "match_run_published", _("Pairs published")
        PAIR_ENDED = "pair_ended", _("Pair ended")
        PAIR_PAUSED = "pair_paused", _("Pair paused")
        PAIR_RESUMED = "pair_resumed", _("Pair resumed")
        PAIR_NUDGED = "pair_nudged", _("Check-in sent to the pair")
        DATA_EXPORTED = "data_exported", _("Data exported")
        PERSON_ERASED = "person_erased", _("Person erased")
        CONCERN_STATUS_CHANGED = "concern_status_changed", _("Concern status changed")
        CONCERN_NOTE_CHANGED = "concern_note_changed", _("HR's note on a concern edited")
        PULSE_ALERT_RESOLVED = "pulse_alert_resolved", _("Pulse alert followed up")

    occurred_at = models.DateTimeField(_("when (UTC)"), default=timezone.now, editable=False)
    # No database constraint and no cascade: deleting a login must neither fail on nor touch
    # the log, and the id stays as it was written.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", verbose_name=_("who")
    )
    action = models.CharField(_("what"), max_length=30, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=60, blank=True, help_text=_("app_label.model, e.g. programs.program"))
    object_id = models.BigIntegerField(_("object id"), null=True, blank=True)
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["action", "occurred_at"]),
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor", "occurred_at"]),
        ]

    def __str__(self):
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}#{self.object_id or ''}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

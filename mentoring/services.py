"""Writes for the org directory, accounts and the mail outbox."""

import base64
import logging
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import ngettext

from .audit import audit_record
from .models import AuditEvent, Employee, OutboxMessage, Role, User
from .queue import nudge, nudge_on_commit

logger = logging.getLogger(__name__)


class MentoringError(Exception):
    """A domain error with a message a person can read."""


# --- Outbox ----------------------------------------------------------------------------

# A claimed batch stops taking new messages once this share of its lease is gone and gives
# the rest back: the message in hand then has the other half to finish before another worker
# may claim it again (and send it a second time).
LEASE_SHARE_FOR_SENDING = 0.5


def _attachment_record(attachment) -> dict:
    if hasattr(attachment, "get_content_type"):  # an email.message.MIMEPart / MIMEBase
        filename = attachment.get_filename() or "attachment"
        payload = attachment.get_payload(decode=True) or b""
        mimetype = attachment.get_content_type()
    else:
        filename, payload, mimetype = attachment
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return {"filename": filename, "content_b64": base64.b64encode(payload).decode("ascii"), "mimetype": mimetype or "application/octet-stream"}


def _outbox_row(message, idempotency_key: str | None) -> OutboxMessage:
    headers = {str(k): str(v) for k, v in (message.extra_headers or {}).items()}
    message_id = headers.pop("Message-ID", None) or OutboxMessage.new_message_id()
    return OutboxMessage(
        message_id=message_id,
        idempotency_key=idempotency_key,
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=list(message.to),
        cc=list(message.cc),
        bcc=list(message.bcc),
        reply_to=list(message.reply_to),
        subject=str(message.subject),
        body_text=str(message.body or ""),
        body_subtype=getattr(message, "content_subtype", "plain"),
        alternatives=[{"content": str(alt[0]), "mimetype": alt[1]} for alt in getattr(message, "alternatives", [])],
        attachments=[_attachment_record(a) for a in message.attachments],
        headers=headers,
    )


@transaction.atomic
def outbox_add(*, message, idempotency_key: str | None = None) -> OutboxMessage:
    """Store an EmailMessage as an outbox row; delivery is nudged after commit.

    With an idempotency key, adding the same message twice returns the first row.
    """
    if idempotency_key:
        existing = OutboxMessage.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    row = _outbox_row(message, idempotency_key)
    row.save(force_insert=True)
    _nudge_delivery_on_commit()
    return row


@transaction.atomic
def outbox_add_many(*, messages: list[tuple[object, str]], nudge: bool = True) -> dict[str, int]:
    """Store (message, idempotency key) pairs in one insert; returns each key's row id.

    A key already in the outbox keeps its first row, as with `outbox_add`. `nudge=False` is
    for a caller that nudges delivery itself once it has added everything.
    """
    if not messages:
        return {}
    OutboxMessage.objects.bulk_create([_outbox_row(message, key) for message, key in messages], ignore_conflicts=True, batch_size=500)
    keys = [key for _message, key in messages]
    ids = dict(OutboxMessage.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", "id"))
    if nudge:
        _nudge_delivery_on_commit()
    return ids


class _DeliveryNudge:
    """The after-commit nudge to drain the outbox; `done` once it has run."""

    done = False

    def __call__(self):
        self.done = True
        from .tasks import drain_outbox

        nudge(drain_outbox)


def _nudge_delivery_on_commit() -> None:
    # One nudge per transaction, however many messages it adds: publishing pairs for 200
    # people must not enqueue 200 identical tasks, nor try a broker that is down 200 times.
    # Django drops the callbacks of a rolled-back savepoint, so a pending nudge here is one
    # that will run.
    pending = transaction.get_connection().run_on_commit
    if not any(isinstance(func, _DeliveryNudge) and not func.done for _savepoints, func, _robust in pending):
        transaction.on_commit(_DeliveryNudge())


def _as_email(row: OutboxMessage, connection) -> EmailMultiAlternatives:
    email = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body_text,
        from_email=row.from_email,
        to=row.to,
        cc=row.cc,
        bcc=row.bcc,
        reply_to=row.reply_to,
        headers={**row.headers, "Message-ID": row.message_id},
        connection=connection,
    )
    email.content_subtype = row.body_subtype
    for alternative in row.alternatives:
        email.attach_alternative(alternative["content"], alternative["mimetype"])
    for attachment in row.attachments:
        email.attach(attachment["filename"], base64.b64decode(attachment["content_b64"]), attachment["mimetype"])
    return email


def _backoff(attempts: int) -> timedelta:
    # The first wait is OUTBOX_BACKOFF_SECONDS (30 s unless set; the fault-injection tests
    # shorten it), then it doubles, capped at an hour.
    base = settings.OUTBOX_BACKOFF_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0  # claimed but not tried: given back before the lease ran out

    def add(self, other: "DeliveryReport") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def outbox_claim(*, batch_size: int, now=None) -> tuple[uuid.UUID, list[OutboxMessage]]:
    """Claim due rows under a lease and read them, in one statement. A row whose lease ran
    out (its worker died) is due again. Each claim counts as an attempt."""
    now = now or timezone.now()
    token = uuid.uuid4()
    meta, db = OutboxMessage._meta, connections[OutboxMessage.objects.db]
    table = db.ops.quote_name(meta.db_table)
    S = OutboxMessage.Status

    def value(field: str, python_value):
        return meta.get_field(field).get_db_prep_value(python_value, db)

    # Concurrent claimers skip each other's locked rows instead of waiting (PostgreSQL);
    # SQLite has one writer at a time, so the statement alone is enough there.
    lock = " FOR UPDATE SKIP LOCKED" if db.features.has_select_for_update_skip_locked else ""
    sql = (
        # Only the model's quoted table and column names are formatted in; every value is a parameter.
        f"UPDATE {table} SET status = %s, lease_token = %s, lease_expires_at = %s, attempts = attempts + 1 "  # nosec B608
        f"WHERE id IN (SELECT id FROM {table} WHERE (status = %s AND next_attempt_at <= %s) OR (status = %s AND lease_expires_at <= %s) "
        f"ORDER BY next_attempt_at, id LIMIT %s{lock}) "
        f"RETURNING {', '.join(db.ops.quote_name(f.column) for f in meta.concrete_fields)}"
    )
    params = [
        str(S.SENDING), value("lease_token", token), value("lease_expires_at", now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)),
        str(S.PENDING), value("next_attempt_at", now), str(S.SENDING), value("lease_expires_at", now), batch_size,
    ]
    rows = sorted(OutboxMessage.objects.raw(sql, params), key=lambda row: row.pk)
    return token, rows


def _outbox_mark_sent(row: OutboxMessage, token: uuid.UUID) -> bool:
    """False when the row is no longer ours: the batch outlived its lease and another worker
    claimed it."""
    S = OutboxMessage.Status
    return OutboxMessage.objects.filter(pk=row.pk, lease_token=token).update(status=S.SENT, sent_at=timezone.now(), lease_token=None, lease_expires_at=None, last_error="") == 1


@contextmanager
def _commits_without_flush_wait():
    """Each "sent" mark is its own commit, so that a killed worker resends at most the message
    it was handing over; waiting for the WAL flush of every one of them would bound delivery
    at the disk's fsync rate. Without the wait a commit is still atomic and at once visible to
    every other session, and survives the worker's death; only a crash of the database server
    itself may forget the last fraction of a second of marks, and those few messages are sent
    again."""
    db = connections[OutboxMessage.objects.db]
    if db.vendor != "postgresql":
        yield
        return
    with db.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with db.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _outbox_record_failures(failures: list[tuple[OutboxMessage, Exception]], token: uuid.UUID, report: DeliveryReport) -> None:
    """Failed hand-overs wait with backoff, or fail for good after OUTBOX_MAX_ATTEMPTS; one
    update per kind of failure (a server that refuses refuses the whole batch alike)."""
    S = OutboxMessage.Status
    groups: dict[tuple[bool, int, str], list[int]] = {}
    for row, exc in failures:
        failed = row.attempts >= settings.OUTBOX_MAX_ATTEMPTS
        groups.setdefault((failed, row.attempts, f"{type(exc).__name__}: {exc}"[:2000]), []).append(row.pk)
    now = timezone.now()
    for (failed, attempts, error), ids in groups.items():
        count = OutboxMessage.objects.filter(pk__in=ids, lease_token=token).update(
            status=S.FAILED if failed else S.PENDING, next_attempt_at=now + _backoff(attempts), lease_token=None, lease_expires_at=None, last_error=error
        )
        logger.warning("%s outbox messages not delivered (attempt %s, %s): %s", count, attempts, "failed for good" if failed else "will retry", error.split(":", 1)[0])
        if failed:
            report.failed += count
        else:
            report.retrying += count


def _outbox_release(rows: list[OutboxMessage], token: uuid.UUID) -> int:
    # Not tried: due again at once, and the claim's attempt is given back.
    if not rows:
        return 0
    return OutboxMessage.objects.filter(pk__in=[row.pk for row in rows], lease_token=token).update(
        status=OutboxMessage.Status.PENDING, attempts=F("attempts") - 1, lease_token=None, lease_expires_at=None
    )


def outbox_deliver_due(*, batch_size: int = 100, now=None, max_seconds: float | None = None) -> DeliveryReport:
    """Claim a batch of due messages and hand them to the mail server over one connection.

    Each message is marked sent, in its own commit, as soon as the server has accepted it:
    a worker killed between the two can resend only the message it was handing over. The
    batch stops taking messages when half its lease is gone (or after `max_seconds`, the
    caller's time budget) and gives the rest back, so no other worker claims a message this
    one is still about to send.
    """
    token, rows = outbox_claim(batch_size=batch_size, now=now)
    report = DeliveryReport(claimed=len(rows))
    if not rows:
        return report
    budget = settings.OUTBOX_LEASE_SECONDS * LEASE_SHARE_FOR_SENDING
    stop_at = time.monotonic() + (budget if max_seconds is None else min(budget, max_seconds))
    failures: list[tuple[OutboxMessage, Exception]] = []
    taken = 0
    connection = get_connection(settings.OUTBOX_DELIVERY_BACKEND, fail_silently=False)
    try:
        try:
            connection.open()
        except Exception as exc:  # noqa: BLE001 - the mail server is down: every row waits
            failures = [(row, exc) for row in rows]
            taken = len(rows)
            return report
        with _commits_without_flush_wait():
            for row in rows:
                if time.monotonic() >= stop_at:
                    break
                taken += 1
                try:
                    _as_email(row, connection).send()
                except Exception as exc:  # noqa: BLE001 - recorded on the row and retried
                    failures.append((row, exc))
                    continue
                if not _outbox_mark_sent(row, token):
                    logger.warning("Outbox batch outlived its lease; another worker has its messages now.")
                    break
                report.sent += 1
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - the messages are handed over; a failed QUIT changes nothing
            pass
        _outbox_record_failures(failures, token, report)
        report.released = _outbox_release(rows[taken:], token)
    return report


@transaction.atomic
def outbox_retry(*, message_ids) -> int:
    """HR retries failed messages: they go back to pending with a fresh budget of attempts."""
    count = OutboxMessage.objects.filter(id__in=message_ids, status=OutboxMessage.Status.FAILED).update(
        status=OutboxMessage.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if count:
        from .tasks import drain_outbox

        nudge_on_commit(drain_outbox)
    return count


# --- Accounts and roles --------------------------------------------------------------------


def role_group(role: str) -> Group:
    group, _ = Group.objects.get_or_create(name=role)
    return group


def _role_names(user: User) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


@transaction.atomic
def user_grant_role(*, user: User, role: str) -> None:
    if role not in Role.values:
        raise MentoringError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    before = _role_names(user)
    user.groups.add(role_group(role))
    user.__dict__.pop("role_names", None)
    if role not in before:
        audit_record(action=AuditEvent.Action.ROLE_GRANTED, target=user, summary=f"Role {Role(role).label} granted", before={"roles": before}, after={"roles": sorted([*before, role])})


# Taken from someone who leaves the company: a rejoiner is not silently an administrator again.
LEAVER_REVOKED_ROLES = (Role.HR_ADMIN, Role.EXECUTIVE)


@transaction.atomic
def user_revoke_role(*, user: User, role: str) -> None:
    before = _role_names(user)
    user.groups.remove(role_group(role))
    user.__dict__.pop("role_names", None)
    if role in before:
        audit_record(action=AuditEvent.Action.ROLE_REVOKED, target=user, summary=f"Role {Role(role).label} revoked", before={"roles": before}, after={"roles": [r for r in before if r != role]})


def employee_for_email(email: str) -> Employee | None:
    return Employee.objects.filter(email__iexact=email.strip()).select_related("department").first()


def signup_allowed(email: str) -> bool:
    """Sign-up is for people in the directory who have not left, or for allowed domains."""
    email = email.strip().lower()
    employee = employee_for_email(email)
    if employee is not None:
        return employee.is_current
    domain = email.rsplit("@", 1)[-1]
    return bool(settings.SIGNUP_ALLOWED_DOMAINS) and domain in settings.SIGNUP_ALLOWED_DOMAINS


@transaction.atomic
def user_link_employee(*, user: User) -> Employee | None:
    """Attach a new account to its directory entry and make it a participant."""
    employee = employee_for_email(user.email)
    if employee is not None and employee.user_id is None:
        employee.user = user
        employee.save(update_fields=["user", "updated_at"])
        if not user.full_name:
            user.full_name = employee.full_name
            user.save(update_fields=["full_name"])
    user_grant_role(user=user, role=Role.PARTICIPANT)
    return employee


def time_zone_choose(*, employee: Employee, time_zone: str) -> Employee:
    """The person's own choice of time zone; roster imports leave it as it is from now on."""
    from .models import validate_time_zone

    validate_time_zone(time_zone)
    if not employee.time_zone_chosen:
        employee.office_time_zone = employee.time_zone  # the directory's, to go back to
    employee.time_zone, employee.time_zone_chosen = time_zone, True
    employee.save(update_fields=["time_zone", "time_zone_chosen", "office_time_zone"])
    return employee


def time_zone_use_office(*, employee: Employee) -> Employee:
    """Back to the directory's zone (the office's); roster imports set it again from now on."""
    if employee.time_zone_chosen:
        employee.time_zone = employee.office_time_zone or employee.time_zone
        employee.time_zone_chosen, employee.office_time_zone = False, ""
        employee.save(update_fields=["time_zone", "time_zone_chosen", "office_time_zone"])
    return employee


# --- Roles granted from the HR console ----------------------------------------------------------


def active_hr_admins():
    """Logins that can administer Upward now: HR admins whose login is open and who have not left."""
    return User.objects.filter(groups__name=Role.HR_ADMIN, is_active=True).exclude(employee__left_date__isnull=False)


@dataclass
class Addressee:
    """An HR admin with a login but no directory entry: what render_templated needs of a person."""

    email: str
    first_name: str
    time_zone: str = "UTC"


def hr_addressees(*, users=None, excluding=frozenset()) -> list:
    """The active HR admins among ``users`` (every login by default) who are still with the
    company, as people to write to (their directory entry, or an Addressee), but for the
    employees in ``excluding``."""
    users = (users if users is not None else User.objects.all()).filter(groups__name=Role.HR_ADMIN, is_active=True)
    addressees = []
    for user in users.select_related("employee").distinct().order_by("pk"):
        employee = getattr(user, "employee", None)
        if employee is None:
            addressees.append(Addressee(email=user.email, first_name=user.get_short_name()))
        elif employee.left_date is None and employee.erased_at is None and employee.pk not in excluding:
            addressees.append(employee)
    return addressees


def _role_holder(employee: Employee, role: str):
    if role not in Role.values:
        raise MentoringError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    return employee.user


@transaction.atomic
def employee_role_grant(*, employee: Employee, role: str) -> None:
    """HR gives a person a role. Audited by user_grant_role, as set_role and the admin are."""
    user = _role_holder(employee, role)
    if user is None:
        raise MentoringError(f"{employee.full_name} has no Upward login yet: roles can be given once they have signed up with their work email.")
    if employee.erased_at is not None or not employee.is_current:
        raise MentoringError(f"{employee.full_name} has left the company: leavers cannot be given roles.")
    if not user.is_active:
        raise MentoringError(f"{employee.full_name}'s Upward login is closed: a closed login cannot be given roles.")
    user_grant_role(user=user, role=role)


@transaction.atomic
def employee_role_revoke(*, employee: Employee, role: str) -> None:
    """HR takes a role away. Upward always keeps at least one active HR admin."""
    user = _role_holder(employee, role)
    if user is None:
        return
    if role == Role.HR_ADMIN:
        # Two admins revoking each other at once would each see the other still there. Both
        # lock the group's row first, so the second counts after the first has committed.
        Group.objects.select_for_update().filter(pk=role_group(Role.HR_ADMIN).pk).get()
        admins = active_hr_admins()
        if admins.filter(pk=user.pk).exists() and not admins.exclude(pk=user.pk).exists():
            raise MentoringError(
                f"{employee.full_name} is the last active HR admin: someone must be able to administer Upward. Make another person HR admin first."
            )
    if role == Role.PARTICIPANT:
        # Their pair pages need the role: taking it from someone in a live pair would lock
        # them out of it while the partner waits. The pairs end first, on purpose.
        from pairing.models import Pair  # noqa: PLC0415 - pairing depends on this app

        live = list(
            # Pairs left live by a program completed before completing ended them are not counted:
            # nobody uses them, and an archived program's cannot be ended any more.
            Pair.objects.filter(Q(mentor__employee=employee) | Q(mentee__employee=employee), status__in=[Pair.Status.ACTIVE, Pair.Status.PAUSED])
            .exclude(program__status__in=["completed", "archived"])
            .select_related("program")
            .order_by("program__name")
        )
        if live:
            raise MentoringError(
                ngettext(
                    "%(name)s is in a live pair (%(programs)s): without the Participant role they could no longer open it. End the pair first (the program's Pairs page), then take the role away.",
                    "%(name)s is in %(count)d live pairs (%(programs)s): without the Participant role they could no longer open them. End the pairs first (each program's Pairs page), then take the role away.",
                    len(live),
                )
                % {"name": employee.full_name, "count": len(live), "programs": ", ".join(dict.fromkeys(p.program.name for p in live))}
            )
    user_revoke_role(user=user, role=role)

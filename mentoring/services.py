"""Writes for the org directory, accounts and the mail outbox."""

import base64
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Employee, OutboxMessage, Role, User
from .queue import nudge, nudge_on_commit

logger = logging.getLogger(__name__)


class MentoringError(Exception):
    """A domain error with a message a person can read."""


# --- Outbox ----------------------------------------------------------------------------


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


@transaction.atomic
def outbox_add(*, message, idempotency_key: str | None = None) -> OutboxMessage:
    """Store an EmailMessage as an outbox row; delivery is nudged after commit.

    With an idempotency key, adding the same message twice returns the first row.
    """
    if idempotency_key:
        existing = OutboxMessage.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    headers = {str(k): str(v) for k, v in (message.extra_headers or {}).items()}
    message_id = headers.pop("Message-ID", None) or OutboxMessage.new_message_id()
    row = OutboxMessage.objects.create(
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
    _nudge_delivery_on_commit()
    return row


class _DeliveryNudge:
    """The after-commit nudge to drain the outbox; `done` once it has run."""

    done = False

    def __call__(self):
        self.done = True
        from .tasks import drain_outbox

        nudge(drain_outbox)


def _nudge_delivery_on_commit() -> None:
    # One nudge per transaction, however many messages it adds: publishing pairs for 200
    # people must not enqueue 200 identical tasks, and with the broker down each failed
    # enqueue costs the request about two seconds (the Redis client retries). Django drops
    # the callbacks of a rolled-back savepoint, so a pending nudge here is one that will run.
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


def outbox_claim(*, batch_size: int, now=None) -> tuple[uuid.UUID, list[int]]:
    """Claim due rows under a lease. A row whose lease ran out (its worker died) is due again."""
    now = now or timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        ids = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(
                Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now)
                | Q(status=OutboxMessage.Status.SENDING, lease_expires_at__lte=now)
            )
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if ids:
            OutboxMessage.objects.filter(id__in=ids).update(
                status=OutboxMessage.Status.SENDING,
                lease_token=token,
                lease_expires_at=now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
                attempts=F("attempts") + 1,
            )
    return token, ids


def outbox_deliver_due(*, batch_size: int = 20, now=None) -> DeliveryReport:
    """Claim a batch of due messages and hand each to the mail server once."""
    token, ids = outbox_claim(batch_size=batch_size, now=now)
    report = DeliveryReport(claimed=len(ids))
    if not ids:
        return report
    connection = get_connection(settings.OUTBOX_DELIVERY_BACKEND, fail_silently=False)
    rows = OutboxMessage.objects.filter(id__in=ids, lease_token=token).order_by("id")
    try:
        connection.open()
        opened = True
    except Exception as exc:  # noqa: BLE001 - the mail server is down: every row waits
        opened = False
        open_error = exc
    for row in rows:
        try:
            if not opened:
                raise open_error
            _as_email(row, connection).send()
        except Exception as exc:  # noqa: BLE001 - recorded on the row and retried
            failed = row.attempts >= settings.OUTBOX_MAX_ATTEMPTS
            OutboxMessage.objects.filter(pk=row.pk, lease_token=token).update(
                status=OutboxMessage.Status.FAILED if failed else OutboxMessage.Status.PENDING,
                next_attempt_at=timezone.now() + _backoff(row.attempts),
                lease_token=None,
                lease_expires_at=None,
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            logger.warning("Outbox message %s not delivered (attempt %s): %s", row.pk, row.attempts, type(exc).__name__)
            if failed:
                report.failed += 1
            else:
                report.retrying += 1
            continue
        OutboxMessage.objects.filter(pk=row.pk, lease_token=token).update(
            status=OutboxMessage.Status.SENT, sent_at=timezone.now(), lease_token=None, lease_expires_at=None, last_error=""
        )
        report.sent += 1
    if opened:
        try:
            connection.close()
        except Exception:  # noqa: BLE001
            pass
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


@transaction.atomic
def user_grant_role(*, user: User, role: str) -> None:
    if role not in Role.values:
        raise MentoringError(f"Unknown role {role!r}; choose one of {', '.join(Role.values)}.")
    user.groups.add(role_group(role))
    user.__dict__.pop("role_names", None)


@transaction.atomic
def user_revoke_role(*, user: User, role: str) -> None:
    user.groups.remove(role_group(role))
    user.__dict__.pop("role_names", None)


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

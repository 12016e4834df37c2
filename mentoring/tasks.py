import time

from celery import shared_task

from . import services


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=110, time_limit=120)
def drain_outbox(max_seconds: float = 50.0) -> dict:
    """Deliver due outbox messages until none are left or the time budget is spent.

    Safe to run twice at once: rows are claimed under a lease, so each is handed to the
    mail server by one worker only.
    """
    deadline = time.monotonic() + max_seconds
    total = services.DeliveryReport()
    while time.monotonic() < deadline:
        # A slow mail server must not carry a batch past the task's time limit, mid-message.
        report = services.outbox_deliver_due(max_seconds=deadline - time.monotonic())
        total.add(report)
        if report.claimed == 0:
            break
    return total.__dict__

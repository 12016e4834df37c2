from celery import shared_task

from mentoring.queue import nudge
from mentoring.tasks import drain_outbox

from . import reminders


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def sweep_reminders() -> dict:
    """Beat, every minute: record what is due, turn it into outbox rows, nudge delivery.

    Safe to run twice, even at once: reminder keys are unique and due rows are claimed with
    SKIP LOCKED; the outbox refuses a second message for the same reminder.
    """
    recorded = reminders.reminders_sweep()
    queued = reminders.reminders_send_due()
    if queued:
        nudge(drain_outbox)
    return {"recorded": recorded, "queued": queued}

import time

from celery import shared_task

from mentoring.queue import nudge
from mentoring.tasks import drain_outbox

from . import reminders

# The tick stops starting new batches of outbox messages after this long, well inside its
# soft time limit; whatever is left is sent by the next tick (a minute later).
SWEEP_BUDGET_SECONDS = 35


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=50, time_limit=60)
def sweep_reminders() -> dict:
    """Beat, every minute: record what is due, turn it into outbox rows, nudge delivery.

    Safe to run twice, even at once: reminder keys are unique and due rows are claimed with
    SKIP LOCKED; the outbox refuses a second message for the same reminder. Both steps
    commit chunk by chunk, so a tick stopped midway keeps its progress.
    """
    started = time.monotonic()
    recorded = reminders.reminders_sweep()
    queued = reminders.reminders_send_due(max_seconds=max(SWEEP_BUDGET_SECONDS - (time.monotonic() - started), 1))
    if queued:
        nudge(drain_outbox)
    return {"recorded": recorded, "queued": queued}

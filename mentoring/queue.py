"""Enqueue Celery work after commit without ever failing the caller.

The database row is the source of truth; the task is only a nudge. If the broker is down
the nudge is dropped (and logged) and the periodic sweep finds the work later.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def nudge(task, *args, **kwargs) -> bool:
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=False)
    except Exception:  # noqa: BLE001 - any broker failure must stay out of the request
        logger.warning("Could not enqueue %s; the periodic sweep will pick the work up.", task.name, exc_info=True)
        return False
    return True


def nudge_on_commit(task, *args, **kwargs) -> None:
    transaction.on_commit(lambda: nudge(task, *args, **kwargs))

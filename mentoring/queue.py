"""Enqueue Celery work after commit without ever failing the caller.

The database row is the source of truth; the task is only a nudge. If the broker is down
the nudge is dropped (and logged) and the periodic sweep finds the work later.
"""

import logging

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def _fail_fast_connection(app):
    # The app's pooled connection retries a refused connect until broker_connection_timeout
    # (kombu's default_channel loops on it): about two seconds of a web request per nudge
    # while Redis is down. A nudge may be lost, so it gets a connection of its own that tries
    # once, with a short connect timeout for a broker that does not even refuse.
    conn = app.connection_for_write()
    return conn.clone(
        connect_timeout=settings.CELERY_NUDGE_CONNECT_TIMEOUT,
        transport_options={**conn.transport_options, "max_retries": 0},
    )


def nudge(task, *args, **kwargs) -> bool:
    if task.app.conf.task_always_eager:
        connection = None  # runs in this process; no broker involved
    else:
        try:
            connection = _fail_fast_connection(task.app)
        except Exception:  # noqa: BLE001 - a malformed broker URL must not fail a request either
            logger.warning("Could not enqueue %s; the periodic sweep will pick the work up.", task.name, exc_info=True)
            return False
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=False, connection=connection)
    except Exception:  # noqa: BLE001 - any broker failure must stay out of the request
        logger.warning("Could not enqueue %s; the periodic sweep will pick the work up.", task.name, exc_info=True)
        return False
    finally:
        if connection is not None:
            connection.release()
    return True


def nudge_on_commit(task, *args, **kwargs) -> None:
    transaction.on_commit(lambda: nudge(task, *args, **kwargs))

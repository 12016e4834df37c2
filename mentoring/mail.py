"""Django's EMAIL_BACKEND for Upward: every message becomes an outbox row.

Anything that calls send_mail() (our services, allauth, Django itself) writes a row in
the caller's transaction; mentoring.tasks.drain_outbox delivers it through
settings.OUTBOX_DELIVERY_BACKEND.
"""

from django.core.mail.backends.base import BaseEmailBackend


class OutboxEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        from .services import outbox_add

        count = 0
        for message in email_messages:
            outbox_add(message=message)
            count += 1
        return count

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


def render_templated(*, to, template: str, context: dict, headers: dict | None = None, subject: str | None = None):
    """An email from `<template>_subject.txt`, `<template>.txt` and `<template>.html`.

    `to` is the recipient Employee: the message is rendered in their time zone, so dates
    shown with |date read as their own wall-clock time, whoever caused the email. A caller
    that words the subject itself passes `subject` and the subject template is not rendered.
    """
    import zoneinfo

    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.utils import timezone

    context = {"site_url": settings.SITE_URL, "person": to, **context}
    try:
        tz = zoneinfo.ZoneInfo(to.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    with timezone.override(tz):
        if subject is None:
            subject = " ".join(render_to_string(f"{template}_subject.txt", context).split())
        message = EmailMultiAlternatives(subject=subject, body=render_to_string(f"{template}.txt", context), to=[to.email], headers=headers or {})
        message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def send_templated(*, to, template: str, context: dict, headers: dict | None = None, attachments=()) -> None:
    """Render and write to the outbox, in the caller's transaction."""
    message = render_templated(to=to, template=template, context=context, headers=headers)
    for filename, content, mimetype in attachments:
        message.attach(filename, content, mimetype)
    message.send()

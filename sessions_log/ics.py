"""Calendar invites (RFC 5545) with icalendar: one stable UID per meeting, a SEQUENCE that
grows on every change, METHOD:CANCEL when a meeting is cancelled."""

import datetime

import icalendar
from django.conf import settings

PRODID = "-//Upward//Reverse mentoring//EN"


def _event(meeting, *, summary: str, description: str, cancelled: bool = False) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"{meeting.uid}@upward")
    event.add("sequence", meeting.ics_sequence)
    event.add("dtstamp", datetime.datetime.now(datetime.UTC))
    event.add("dtstart", meeting.starts_at.astimezone(datetime.UTC))
    event.add("dtend", meeting.ends_at.astimezone(datetime.UTC))
    event.add("summary", summary)
    event.add("description", description)
    if meeting.location or meeting.video_url:
        event.add("location", meeting.location or meeting.video_url)
    if meeting.video_url:
        event.add("url", meeting.video_url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = icalendar.vCalAddress(f"mailto:{settings.DEFAULT_FROM_EMAIL.split('<')[-1].strip('>')}")
    organizer.params["cn"] = icalendar.vText("Upward")
    event.add("organizer", organizer)
    for enrollment in (meeting.pair.mentor, meeting.pair.mentee):
        if enrollment.employee.erased_at is not None:
            continue  # a pseudonymised address would tell the partner they asked to be erased
        attendee = icalendar.vCalAddress(f"mailto:{enrollment.employee.email}")
        attendee.params["cn"] = icalendar.vText(enrollment.employee.full_name)
        attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
        # Both people booked it in Upward, which records moves and cancellations: a calendar
        # must not ask them to accept it, nor send replies to Upward's no-reply address.
        attendee.params["partstat"] = icalendar.vText("ACCEPTED")
        attendee.params["rsvp"] = icalendar.vText("FALSE")
        event.add("attendee", attendee, encode=0)
    return event


def meeting_summary(meeting) -> str:
    mentor, mentee = meeting.pair.mentor.employee, meeting.pair.mentee.employee
    if mentor.erased_at is not None or mentee.erased_at is not None:
        # Erasure is the person's own business: calendars show no pseudonym to the partner.
        return f"Reverse mentoring: {meeting.pair.program.name}"
    return f"Reverse mentoring: {mentor.full_name} & {mentee.full_name}"


def meeting_description(meeting) -> str:
    # The agenda is shared by the pair; notes, feedback and pulses never go into invites.
    lines = [f"{meeting.pair.program.name}, {meeting.duration_minutes} minutes."]
    if meeting.agenda:
        lines += ["", "Agenda:", meeting.agenda]
    lines += ["", f"Open the pair in Upward: {settings.SITE_URL}/pairs/{meeting.pair_id}/"]
    return "\n".join(lines)


def invite(meeting, *, cancelled: bool = False) -> bytes:
    """The ICS file attached to the invite (METHOD:REQUEST) or the cancellation (METHOD:CANCEL)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    calendar.add_component(_event(meeting, summary=meeting_summary(meeting), description=meeting_description(meeting), cancelled=cancelled))
    return calendar.to_ical()


def download(meeting) -> bytes:
    """One meeting as a file to open in a calendar (METHOD:PUBLISH: an event to add, not an
    invitation to answer). Same UID and SEQUENCE as the invites, so it replaces, not doubles."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(_event(meeting, summary=meeting_summary(meeting), description=meeting_description(meeting), cancelled=meeting.status == "cancelled"))
    return calendar.to_ical()


def feed(meetings, *, name: str) -> bytes:
    """A personal calendar feed: every meeting of the person's pairs (cancelled ones marked)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for meeting in meetings:
        calendar.add_component(
            _event(meeting, summary=meeting_summary(meeting), description=meeting_description(meeting), cancelled=meeting.status == "cancelled")
        )
    return calendar.to_ical()

"""Form parsing and validation (no writes: the services write)."""

import datetime

import pytest
from django.utils import timezone

from programs.forms import SLOTS, ApplicationForm, InviteForm, ProgramForm, ResourceForm, split_emails, split_words
from programs.models import DEFAULT_WEIGHTS, REMINDER_KINDS, Program
from tests.factories import EmployeeFactory, EnrollmentFactory, ProgramFactory, TopicFactory

TODAY = timezone.localdate


def test_split_emails_accepts_lines_commas_and_semicolons():
    text = " Ada@Acme.example,bob@acme.example\n\n<cy@acme.example>; ada@acme.example "
    assert split_emails(text) == ["ada@acme.example", "bob@acme.example", "cy@acme.example"]
    assert split_emails("") == []


def test_split_emails_takes_addresses_from_mail_client_lists_and_keeps_a_non_address_whole():
    assert split_emails("Ann Lee <ann@acme.example>, bo@acme.example cy@acme.example") == ["ann@acme.example", "bo@acme.example", "cy@acme.example"]
    assert split_emails("not an email\nann@acme.example") == ["not an email", "ann@acme.example"]
    outlook = 'Lee, Ann <Ann@acme.example>; Doe, Bob <bob@acme.example>; "Ng, Cy" <cy@acme.example>, dee@acme.example'
    assert split_emails(outlook) == ["ann@acme.example", "bob@acme.example", "cy@acme.example", "dee@acme.example"]


def test_invite_form_keeps_an_entry_that_is_not_an_address_whole_to_be_reported(db):
    from tests.factories import ProgramFactory

    form = InviteForm({"role": "mentor", "emails": "ann@acme.example\nnot an email"}, program=ProgramFactory())
    assert form.is_valid() and form.cleaned_data["emails"] == ["ann@acme.example", "not an email"]


def test_split_words():
    assert split_words(" chess,, podcasts , ") == ["chess", "podcasts"]


def test_availability_slots_cover_weekdays_in_two_hour_blocks():
    values = [value for value, _label in SLOTS]
    assert len(values) == 25 and values[0] == "mon-08" and values[-1] == "fri-16"
    assert dict(SLOTS)["wed-12"] == "Wednesday 12:00–14:00"


def _program_form_data(topic, **overrides) -> dict:
    """A valid program form submission, changed by ``overrides``."""
    data = {
        "name": "P", "slug": "p", "topics": [topic.pk], "mode": "reverse",
        "enrollment_opens_on": TODAY(), "enrollment_closes_on": TODAY() + datetime.timedelta(days=5),
        "starts_on": TODAY() + datetime.timedelta(days=10), "ends_on": TODAY() + datetime.timedelta(days=100),
        "cadence_days": 14, "meeting_minutes": 45, "expected_sessions": 6,
        "mentor_max_level": 3, "mentee_min_level": 6, "min_level_gap": 2,
        "mentees_per_mentor": 1, "max_active_pairs_per_mentor": 2,
        **{f"weight_{k}": 1 for k in DEFAULT_WEIGHTS},
        "pairing_strategy": "best_score", "min_score": 100,
        "reminder_lead_hours": 24, "stuck_after_days": 21, "pulse_alert_threshold": "2.5",
    }  # fmt: skip
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_program_form_stores_weights_and_reminders_as_json():
    topic = TopicFactory(name="AI tools")
    data = _program_form_data(topic, reminder_log_session="on")
    form = ProgramForm(data)
    assert form.is_valid(), form.errors
    fields = form.service_fields()
    assert fields["pairing_weights"] == {k: 1 for k in DEFAULT_WEIGHTS}
    assert fields["reminders"] == {k: k == "log_session" for k in REMINDER_KINDS}
    assert fields["topics"] == [topic] and fields["departments"] == []
    assert "status" not in fields and "created_by" not in fields


@pytest.mark.django_db
def test_program_form_shows_model_rules_as_field_errors():
    year = datetime.date.today().year + 3  # always ahead
    form = ProgramForm({"name": "P", "slug": "p", "starts_on": f"{year}-01-10", "ends_on": f"{year}-01-01", "enrollment_opens_on": f"{year}-01-01", "enrollment_closes_on": f"{year}-01-05"})
    assert not form.is_valid()
    assert form.errors["ends_on"] == ["The program must end after it starts."]
    assert "topics" in form.errors


@pytest.mark.django_db
def test_program_form_locks_mode_and_slug_after_draft():
    assert not ProgramForm(instance=ProgramFactory(status=Program.Status.DRAFT)).fields["mode"].disabled
    locked = ProgramForm(instance=ProgramFactory(status=Program.Status.ENROLLMENT_OPEN))
    assert locked.fields["mode"].disabled and locked.fields["slug"].disabled


@pytest.mark.django_db
def test_program_form_offers_inactive_topics_already_on_the_program():
    old = TopicFactory(name="Retired topic", active=False)
    program = ProgramFactory(topics=[old])
    assert old in ProgramForm(instance=program).fields["topics"].queryset
    assert old not in ProgramForm().fields["topics"].queryset


def test_invite_form_needs_a_selection():
    form = InviteForm({"role": "mentor"})
    assert not form.is_valid() and form.non_field_errors()


@pytest.mark.django_db
def test_invite_form_level_range():
    assert InviteForm({"role": "mentee", "level_min": 6}).is_valid()
    form = InviteForm({"role": "mentee", "level_min": 8, "level_max": 6})
    assert not form.is_valid() and "level_max" in form.errors


def test_resource_form_needs_link_or_file():
    form = ResourceForm({"title": "x", "audience": "everyone"})
    assert not form.is_valid() and "Give a link or upload a file." in form.non_field_errors()
    assert ResourceForm({"title": "x", "audience": "everyone", "url": "example.com/guide"}).is_valid()


@pytest.mark.django_db
def test_application_form_builds_the_application():
    program = ProgramFactory(mode=Program.Mode.TWO_WAY)
    me = EmployeeFactory(level=2)
    avoid = EmployeeFactory(email="Avoid@acme.example")
    ai, social = program.topics.order_by("name")
    data = {
        f"topic_{ai.pk}": "5", f"topic_{social.pk}": "", f"extra_{social.pk}": "2",
        "interests": "a, b", "languages": "English", "availability": ["tue-10"], "time_zone": "UTC",
        "motivation": " hi ", "not_with": "avoid@ACME.example",
    }  # fmt: skip
    form = ApplicationForm(data, program=program, role="mentor", employee=me)
    assert form.is_valid(), form.errors
    app = form.application()
    assert app.role == "mentor" and app.topic_levels == {ai.pk: 5} and app.extra_topic_levels == {social.pk: 2}
    assert app.interests == ["a", "b"] and app.availability == ["tue-10"] and app.motivation == "hi"
    assert app.not_with == [avoid]


@pytest.mark.django_db
def test_application_form_prefills_from_the_enrollment():
    enrollment = EnrollmentFactory(role="mentee", interests=["golf"], languages=["English"], time_zone="Asia/Tokyo")
    initial = ApplicationForm.initial_for(employee=enrollment.employee, enrollment=enrollment)
    first = enrollment.program.topics.first()
    assert initial["interests"] == "golf" and initial["time_zone"] == "Asia/Tokyo"
    assert initial[f"topic_{first.pk}"] == 2
    assert ApplicationForm.initial_for(employee=enrollment.employee, enrollment=None) == {"time_zone": "Europe/London"}


@pytest.mark.django_db
def test_program_form_disables_what_the_status_fixed_and_says_why():
    today = TODAY()
    active = ProgramForm(
        instance=ProgramFactory(
            status=Program.Status.ACTIVE, enrollment_opens_on=today - datetime.timedelta(days=60), enrollment_closes_on=today - datetime.timedelta(days=40),
            starts_on=today - datetime.timedelta(days=30), ends_on=today + datetime.timedelta(days=100),
        )
    )  # fmt: skip
    for name in ("enrollment_opens_on", "enrollment_closes_on", "starts_on", "mentor_max_level", "mentee_min_level", "min_level_gap", "departments"):
        assert active.fields[name].disabled and active.fields[name].help_text, name
    assert not active.fields["ends_on"].disabled and not active.fields["name"].disabled
    assert "start date are fixed" in active.lock_note
    draft = ProgramForm(instance=ProgramFactory(status=Program.Status.DRAFT))
    assert not any(field.disabled for field in draft.fields.values()) and draft.lock_note == ""


def test_decision_form_caps_the_message():
    from programs.forms import DecisionForm

    form = DecisionForm({"enrollment": ["1"], "decision": "approved", "message": "x" * 2001})
    assert form.errors["message"] == ["The message is 2001 characters long; keep it to 2000 or fewer."]


def test_clone_form_refuses_an_opening_day_in_the_past():
    from programs.forms import CloneForm

    form = CloneForm({"name": "Again", "slug": "again", "enrollment_opens_on": "2020-02-01"})
    assert form.errors["enrollment_opens_on"] == ["1 Feb 2020 is in the past: choose today or a later day (every other date moves with it)."]


# --- Cross-field rules: schedule, one submission, description ------------------------------------


@pytest.mark.django_db
def test_program_form_refuses_sessions_that_cannot_fit_in_one_message_with_the_numbers():
    from django.utils.formats import date_format

    start = TODAY() + datetime.timedelta(days=10)
    form = ProgramForm(_program_form_data(TopicFactory(), starts_on=start, ends_on=start + datetime.timedelta(days=2), expected_sessions=6, cadence_days=14))
    assert not form.is_valid()
    assert form.errors == {
        "expected_sessions": [
            "6 sessions every 14 days need 84 days from the start, but the program runs only 2 days. "
            f"To fix this, end the program on {date_format(start + datetime.timedelta(days=84))} or later, or expect fewer sessions and meet more often."
        ]
    }


@pytest.mark.django_db
def test_program_form_says_how_many_sessions_fit_and_how_often_to_meet():
    from django.utils.formats import date_format

    start = TODAY() + datetime.timedelta(days=10)
    form = ProgramForm(_program_form_data(TopicFactory(), starts_on=start, ends_on=start + datetime.timedelta(days=60), expected_sessions=6, cadence_days=14))
    assert not form.is_valid()
    assert form.errors == {
        "expected_sessions": [
            "6 sessions every 14 days need 84 days from the start, but the program runs only 60 days. To fix this, end the program on "
            f"{date_format(start + datetime.timedelta(days=84))} or later, meet every 10 days or more often, or expect 4 sessions or fewer."
        ]
    }


@pytest.mark.parametrize(
    ("runs", "sessions", "every", "fixes"),
    [
        (15, 10, 14, "meet every day, or expect only 1 session."),  # daily fits them all; one fits at this pace
        (10, 2, 14, "or meet every 5 days or more often."),  # not one fits at this pace
        (5, 10, 3, "or expect only 1 session."),  # not all fit even daily
    ],
)
@pytest.mark.django_db
def test_the_schedule_message_offers_only_the_fixes_that_work_alone(runs, sessions, every, fixes):
    start = TODAY() + datetime.timedelta(days=10)
    form = ProgramForm(_program_form_data(TopicFactory(), starts_on=start, ends_on=start + datetime.timedelta(days=runs), expected_sessions=sessions, cadence_days=every))
    assert not form.is_valid()
    [message] = form.errors["expected_sessions"]
    assert f"need {sessions * every} days from the start, but the program runs only {runs} days." in message and message.endswith(fixes)


@pytest.mark.django_db
def test_program_form_accepts_sessions_that_just_fit():
    start = TODAY() + datetime.timedelta(days=10)
    form = ProgramForm(_program_form_data(TopicFactory(), starts_on=start, ends_on=start + datetime.timedelta(days=84), expected_sessions=6, cadence_days=14))
    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_program_form_reports_every_problem_it_can_in_one_submission():
    """A field with its own error does not hide the rules across the fields that are fine."""
    EmployeeFactory(level=2)
    EmployeeFactory(level=8)
    start = TODAY() + datetime.timedelta(days=10)
    form = ProgramForm(
        _program_form_data(
            TopicFactory(), name="", meeting_minutes=5,
            enrollment_opens_on=TODAY() - datetime.timedelta(days=3),  # in the past
            mentor_max_level=3, mentee_min_level=6, min_level_gap=7,  # levels 2 and 8 are 6 apart
            starts_on=start, ends_on=start + datetime.timedelta(days=20), expected_sessions=6, cadence_days=14,
        )
    )  # fmt: skip
    assert not form.is_valid()
    assert {"name", "meeting_minutes", "enrollment_opens_on", "min_level_gap", "expected_sessions"} <= set(form.errors)
    assert "No pair can meet these rules" in form.errors["min_level_gap"][0]


@pytest.mark.django_db
def test_program_form_does_not_judge_a_schedule_on_the_saved_value_of_a_field_with_an_error():
    program = ProgramFactory(status=Program.Status.DRAFT, cadence_days=14, expected_sessions=6)
    data = {**_program_form_data(program.topics.first(), slug=program.slug), "starts_on": program.starts_on, "ends_on": program.ends_on}
    form = ProgramForm({**data, "cadence_days": "", "expected_sessions": 50}, instance=program)
    assert not form.is_valid()
    assert form.errors["cadence_days"] == ["This field is required."]
    assert "expected_sessions" not in form.errors and "ends_on" not in form.errors


@pytest.mark.django_db
def test_an_edit_that_leaves_a_saved_schedule_alone_is_not_refused_for_it():
    """A running program saved before the rule existed keeps saving its other settings."""
    program = ProgramFactory(status=Program.Status.ACTIVE, expected_sessions=40, cadence_days=14)  # 40 x 14 days: more than it runs
    form = ProgramForm(instance=program)
    data = {name: form[name].value() for name in form.fields if not form.fields[name].disabled}
    data = {k: v for k, v in data.items() if v not in (None, False)}
    data.update({"name": "Renamed", "topics": [t.pk for t in program.topics.all()], "departments": []})
    form = ProgramForm(data, instance=program)
    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_program_description_has_a_limit_the_form_shows():
    form = ProgramForm(_program_form_data(TopicFactory(), description="x" * 1001))
    assert not form.is_valid()
    assert form.errors["description"] == ["The description is 1001 characters long; keep it to 1000 or fewer."]
    assert "Up to 1,000 characters" in str(form["description"].help_text)
    assert 'maxlength="1000"' in str(form["description"])
    assert ProgramForm(_program_form_data(TopicFactory(name="Other"), slug="q", description="x" * 1000)).is_valid()

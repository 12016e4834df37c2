"""Forms for pairs at work. They parse and check the shape of input; the services in
sessions_log/services.py decide what is allowed and do the writing.

Dates and times typed by a person are in *their* time zone (the one the middleware activated
for the request); `local_datetime` turns them into an aware datetime, stored as UTC.
"""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy as _

from pairing.models import Pair
from programs.models import Topic

from .models import Insight
from .services import NOTE_MAX, GoalInput, LogInput, log_has_content

DATE = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}
TIME = {"attrs": {"type": "time", "step": 300}, "format": "%H:%M"}
ONE_TO_FIVE = [(i, str(i)) for i in range(1, 6)]
ZERO_TO_TEN = [(i, str(i)) for i in range(0, 11)]
GOAL_ROWS = 5
ACTION_ROWS = 3
# Free text has a ceiling, so a pasted document does not become a session log: long notes,
# shorter comments and reflections, one-paragraph insights.
COMMENT_MAX = 2_000
INSIGHT_MAX = 1_000


def at_most(limit: int):
    """A validator saying "10,000 characters at most" (and how many were typed)."""

    def validate(value: str) -> None:
        if value is not None and len(value) > limit:
            raise ValidationError(
                gettext("%(limit)s characters at most: this has %(count)s.") % {"limit": number_format(limit, force_grouping=True), "count": number_format(len(value), force_grouping=True)},
                code="max_length",
            )

    return validate


def _long_text(label, limit: int, *, rows: int = 3, **kwargs):
    return forms.CharField(label=label, validators=[at_most(limit)], widget=forms.Textarea(attrs={"rows": rows}), **kwargs)


def local_datetime(day: datetime.date, time: datetime.time) -> datetime.datetime:
    """The aware datetime for a wall-clock day and time in the current (the person's) zone."""
    zone = timezone.get_current_timezone()
    naive = datetime.datetime.combine(day, time)
    aware = naive.replace(tzinfo=zone)
    # When clocks go forward an hour is skipped: that time does not exist, so say so rather
    # than silently book the meeting an hour off.
    if aware.astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise ValidationError(_("That time does not exist in your time zone (the clocks change that night). Choose another time."))
    return aware


def _scale(label, choices=ONE_TO_FIVE, **kwargs):
    required = _("Choose a number from 0 to 10.") if choices is ZERO_TO_TEN else _("Choose a number from 1 to 5.")
    kwargs.setdefault("error_messages", {"required": required})
    return forms.TypedChoiceField(label=label, choices=choices, coerce=int, widget=forms.RadioSelect(attrs={"class": "btn-check"}), **kwargs)


def _topics_field(label):
    return forms.ModelMultipleChoiceField(label=label, queryset=Topic.objects.none(), required=False, widget=forms.CheckboxSelectMultiple)


# --- Agreement -----------------------------------------------------------------------------------------


class AgreementForm(forms.Form):
    meeting_frequency = forms.CharField(label=_("How often we meet"), max_length=200, required=False, help_text=_("For example: every two weeks, 45 minutes, on video."))
    boundaries = _long_text(_("Boundaries"), NOTE_MAX, required=False, help_text=_("Topics you keep out, how you give feedback, how you reach each other."))
    confidentiality = _long_text(_("Confidentiality"), NOTE_MAX, required=False)
    # The agreement as the form was opened on (services.agreement_revision).
    revision = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)


class GoalForm(forms.Form):
    title = forms.CharField(label=_("Goal"), max_length=200, required=False)
    progress = forms.IntegerField(label=_("Progress (%)"), min_value=0, max_value=100, required=False, widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    note = forms.CharField(label=_("Progress note"), max_length=500, required=False)

    def goal(self) -> GoalInput | None:
        title = (self.cleaned_data.get("title") or "").strip()
        if not title:
            return None
        return GoalInput(title=title, progress=self.cleaned_data.get("progress") or 0, note=self.cleaned_data.get("note") or "")


GoalFormSet = forms.formset_factory(GoalForm, extra=0, max_num=12, absolute_max=12)


def goal_formset(data=None, *, goals=()):
    """The agreement's goals plus empty rows, so there are at least GOAL_ROWS to fill in."""
    initial = [{"title": g.title, "progress": g.progress, "note": g.note} for g in goals]
    initial += [{} for _ in range(max(GOAL_ROWS - len(initial), 1))]
    return GoalFormSet(data, initial=initial, prefix="goals")


class GoalProgressForm(forms.Form):
    progress = forms.IntegerField(label=_("Progress (%)"), min_value=0, max_value=100, widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    note = forms.CharField(label=_("Progress note"), max_length=500, required=False)


# --- Meetings --------------------------------------------------------------------------------------------


class SlotForm(forms.Form):
    """A day and a start time in the person's zone; also read alone for the partner's-time hint."""

    day = forms.DateField(label=_("Date"), widget=forms.DateInput(**DATE))
    time = forms.TimeField(label=_("Start time"), widget=forms.TimeInput(**TIME))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("day") and cleaned.get("time"):
            try:
                cleaned["starts_at"] = local_datetime(cleaned["day"], cleaned["time"])
            except ValidationError as exc:
                self.add_error("time", exc)
        return cleaned


class _WhenForm(SlotForm):
    duration_minutes = forms.IntegerField(label=_("Length (minutes)"), min_value=10, max_value=240, widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 5}))


class MeetingForm(_WhenForm):
    location = forms.CharField(label=_("Place"), max_length=200, required=False, help_text=_("A room or a café; leave empty for a video call."))
    video_url = forms.URLField(label=_("Video link"), required=False, assume_scheme="https")
    agenda = _long_text(_("Agenda"), COMMENT_MAX, required=False)
    topics = _topics_field(_("Topics for this meeting"))

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topics"].queryset = program.topics.order_by("name")


class MeetingDetailsForm(forms.Form):
    """Where and what, not when (moving has its own form, and a reason)."""

    location = MeetingForm.base_fields["location"]
    video_url = MeetingForm.base_fields["video_url"]
    agenda = MeetingForm.base_fields["agenda"]
    topics = _topics_field(_("Topics for this meeting"))

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topics"].queryset = program.topics.order_by("name")


class RescheduleForm(_WhenForm):
    reason = forms.CharField(label=_("Why it moves"), max_length=500, required=False, help_text=_("Your partner sees this in the email."))
    # The meeting's version when the form was shown: a move by the partner since is not undone.
    sequence = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why it is cancelled"), max_length=500, help_text=_("Your partner sees this in the email."), error_messages={"required": _("Say briefly why, so your partner knows.")}
    )


# --- Session logs, notes, pulse, feedback ----------------------------------------------------------------------


class SessionLogForm(forms.Form):
    held_on = forms.DateField(label=_("Date"), widget=forms.DateInput(**DATE))
    minutes = forms.IntegerField(label=_("Minutes"), min_value=5, max_value=480, widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": 5}))
    topics = _topics_field(_("Topics covered"))
    mentor_learned = _long_text(_("What the mentor learned"), NOTE_MAX, required=False)
    mentee_learned = _long_text(_("What the mentee learned"), NOTE_MAX, required=False)
    shared_notes = _long_text(_("Shared notes"), NOTE_MAX, required=False, help_text=_("Both of you see these."))
    private_note = _long_text(_("My private note"), NOTE_MAX, required=False, help_text=_("Only you can ever read this: not your partner, not HR, not executives."))

    def __init__(self, *args, program, with_actions: bool = False, log=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = log  # the log being edited: its actions count as content
        self.fields["topics"].queryset = program.topics.order_by("name")
        self.action_rows = []
        if with_actions:
            for i in range(ACTION_ROWS):
                self.fields[f"action_{i}_text"] = forms.CharField(label=_("Action %(n)s") % {"n": i + 1}, max_length=500, required=False)
                self.fields[f"action_{i}_due"] = forms.DateField(label=_("Due (optional)"), required=False, widget=forms.DateInput(**DATE))
                self.action_rows.append((self[f"action_{i}_text"], self[f"action_{i}_due"]))

    def clean(self):
        data = super().clean()
        # Said on the field, as the service would refuse it anyway (`_validate_log`).
        today = timezone.localdate()
        if data.get("held_on") and data["held_on"] > today:
            self.add_error("held_on", _("A session is logged after it happened: the date is in the future."))
        for i in range(len(self.action_rows)):
            due = data.get(f"action_{i}_due")
            if due and not (data.get(f"action_{i}_text") or "").strip():
                # A date alone would be dropped without a word: ask what it is for.
                self.add_error(f"action_{i}_text", _("Write the action this date is for, or clear the date."))
            elif due and due < today:
                self.add_error(f"action_{i}_due", _("The due date is in the past."))
        if not self.errors and not log_has_content(self.log_input(), log=self.log):
            # As the service would refuse it, but said with what this person can fill in.
            if self.action_rows:
                message = _("Say what the session covered: choose a topic, or write what was learned, a shared note or an action you commit to.")
            else:
                message = _("Say what the session covered: choose a topic, or write what was learned or a shared note.")
            if (data.get("private_note") or "").strip():
                message += " " + _("A private note alone is not enough: only you can read it, so your partner would see an empty log.")
            raise ValidationError(message, code="empty")
        return data

    def log_input(self) -> LogInput:
        data = self.cleaned_data
        actions = [(data[f"action_{i}_text"], data.get(f"action_{i}_due")) for i in range(len(self.action_rows)) if (data.get(f"action_{i}_text") or "").strip()]
        return LogInput(
            held_on=data["held_on"],
            minutes=data["minutes"],
            topics=list(data["topics"]),
            mentor_learned=data["mentor_learned"],
            mentee_learned=data["mentee_learned"],
            shared_notes=data["shared_notes"],
            private_note=data["private_note"],
            actions=actions,
        )


class PrivateNoteForm(forms.Form):
    text = _long_text(
        _("My private note"),
        NOTE_MAX,
        rows=5,
        required=False,
        help_text=_("Only you can ever read this: not your partner, not HR, not executives. Leave it empty to delete it."),
    )


class PulseForm(forms.Form):
    felt_heard = _scale(_("I felt heard"))
    safe_to_be_candid = _scale(_("It felt safe to be candid"))
    wants_to_continue = _scale(_("I want to continue with this pair"))


class FeedbackForm(forms.Form):
    usefulness = _scale(_("How useful was this session?"))
    psychological_safety = _scale(_("How safe did you feel to speak openly?"))
    comment = _long_text(_("Comment (optional)"), COMMENT_MAX, required=False)


class ConcernForm(forms.Form):
    text = _long_text(
        _("What worries you?"), NOTE_MAX, rows=6, error_messages={"required": _("Tell HR what worries you; only HR will read it.")}
    )


# --- Insight to action -------------------------------------------------------------------------------------


class InsightForm(forms.Form):
    topic = forms.ModelChoiceField(
        label=_("Topic"), queryset=Topic.objects.none(), required=False, empty_label=_("No particular topic"),
        error_messages={"invalid_choice": _("Choose one of this program's topics, or no particular topic.")},
    )
    text = _long_text(
        _("Insight"), INSIGHT_MAX, rows=2, help_text=_("What did your mentee realise? Sponsors only ever see counts by topic."), error_messages={"required": _("Write the insight.")}
    )

    def __init__(self, *args, program, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = program.topics.order_by("name")


class ActionForm(forms.Form):
    text = forms.CharField(label=_("What I will do"), max_length=500, error_messages={"required": _("Write the action.")})
    due_on = forms.DateField(label=_("By (optional)"), required=False, widget=forms.DateInput(**DATE))
    insight = forms.ModelChoiceField(
        label=_("From insight (optional)"), queryset=Insight.objects.none(), required=False, empty_label=_("None"), error_messages={"invalid_choice": _("Choose one of this pair's insights.")}
    )

    def __init__(self, *args, pair: Pair, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["insight"].queryset = Insight.objects.filter(pair=pair).order_by("-created_at")
        self.fields["insight"].label_from_instance = lambda i: i.text[:80]


# --- Closure ----------------------------------------------------------------------------------------------------

CLOSE_REASONS = [
    (Pair.EndReason.COMPLETED, _("We have finished: the program goals are met")),
    (Pair.EndReason.NOT_A_FIT, Pair.EndReason.NOT_A_FIT.label),
    (Pair.EndReason.OTHER, Pair.EndReason.OTHER.label),
]


class PairCloseForm(forms.Form):
    reason = forms.ChoiceField(label=_("Why the pair ends"), choices=CLOSE_REASONS, widget=forms.RadioSelect, error_messages={"required": _("Choose why the pair ends.")})
    reflection = _long_text(
        _("Your reflection"),
        COMMENT_MAX,
        rows=5,
        help_text=_("What did you learn, what would you keep? Only you can read it: your partner sees only that you wrote one, HR and executives never see it."),
        error_messages={"required": _("Write a short reflection: what did you learn, what would you keep?")},
    )


class ReflectionForm(forms.Form):
    """On the ended pair's page, under the heading "Your reflection", which labels the box."""

    text = _long_text(
        "",
        COMMENT_MAX,
        rows=5,
        help_text=_("What did you learn, what would you keep? Only you can read it: your partner sees only that you wrote one, HR and executives never see it."),
        error_messages={"required": _("Write a short reflection: what did you learn, what would you keep?")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].widget.attrs["aria-labelledby"] = "reflection-heading"


# --- Surveys ----------------------------------------------------------------------------------------------------


class SurveyForm(forms.Form):
    """One 1–5 question per survey item, plus would-recommend (0–10) except at baseline."""

    def __init__(self, *args, items, ask_recommend: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.item_keys = []
        for key, _item, label in items:
            self.fields[key] = _scale(label)
            self.item_keys.append(key)
        if ask_recommend:
            self.fields["would_recommend"] = _scale(_("How likely are you to recommend this program to a colleague?"), choices=ZERO_TO_TEN)

    def item_fields(self):
        return [self[key] for key in self.item_keys]

    def scores(self) -> dict[str, int]:
        return {key: self.cleaned_data[key] for key in self.item_keys}

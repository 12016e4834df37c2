"""Forms for the HR console and the enrollment form.

Forms only parse and validate input; the services in programs/services.py do the writing.
"""

import datetime
import re
from pathlib import PurePath

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Fieldset, Layout, Row
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, validate_email
from django.template.defaultfilters import filesizeformat
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mentoring.models import MAX_LEVEL, Department, Employee
from mentoring.timezones import time_zone_choices

from . import services
from .models import DEFAULT_WEIGHTS, DESCRIPTION_MAX, REMINDER_KINDS, WEIGHT_LABELS, Enrollment, EnrollmentTopic, Program, Resource, Role, Topic
from .services import Application

DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}
ENTRY_SEPARATORS = re.compile(r"[\n,;]+")


def split_words(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']"""
    return [word.strip() for word in (text or "").split(",") if word.strip()]


def split_emails(text: str) -> list[str]:
    """Emails pasted one per line or separated by commas (or spaces), lower-cased, duplicates
    dropped. A mail client's 'Ann Lee <ann@acme.example>' gives the address alone; an entry
    with no address at all stays one entry ('not an email'), for the caller to refuse whole."""
    seen = []
    chunks = []
    for line in (text or "").splitlines():
        if "<" in line:
            # Outlook's 'Lee, Ann <ann@acme.example>; Doe, Bob <bob@...>': the commas belong to
            # the names, the addresses are between the brackets (plus any bare ones).
            chunks += re.findall(r"<([^<>]*)>", line)
            chunks += [w for w in re.split(r"[\s,;]+", re.sub(r"<[^<>]*>", " ", line)) if "@" in w]
        else:
            chunks += ENTRY_SEPARATORS.split(line)
    for chunk in chunks:
        words = [w.strip("<>()\"'").lower() for w in chunk.split()]
        words = [w for w in words if w]
        for token in [w for w in words if "@" in w] or ([" ".join(words)] if words else []):
            if token not in seen:
                seen.append(token)
    return seen


def not_emails(emails: list[str]) -> list[str]:
    """The entries of `split_emails` that are not email addresses."""
    invalid = []
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            invalid.append(email)
    return invalid


def employees_by_email(emails: list[str]) -> tuple[list[Employee], list[str]]:
    """The directory entries for these emails (in the order given) and the emails not found."""
    found = {e.email_lower: e for e in Employee.objects.annotate(email_lower=Lower("email")).filter(email_lower__in=emails).select_related("department")}
    return [found[e] for e in emails if e in found], [e for e in emails if e not in found]


# --- Topics ----------------------------------------------------------------------------------


class TopicForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    description = forms.CharField(label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    active = forms.BooleanField(
        label=gettext_lazy("Active"), required=False, initial=True, help_text=gettext_lazy("Inactive topics stay on old programs but are not offered for new ones.")
    )


# --- Programs --------------------------------------------------------------------------------

WEIGHT_PREFIX = "weight_"
REMINDER_PREFIX = "reminder_"


class TextAreaField(forms.CharField):
    """A text area's value with its line breaks as the browser counts them for maxlength: one
    character each, though it sends each as two (CR LF). Normalised before the length check, so
    a text that fits the box is not refused as too long."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


class ProgramForm(forms.ModelForm):
    """Every Program field in sections. The pairing weights and reminder switches are one
    input each here and are stored into the program's JSON fields."""

    class Meta:
        model = Program
        fields = [
            "name", "slug", "description", "objectives", "topics", "mode",
            "enrollment_opens_on", "enrollment_closes_on", "starts_on", "ends_on",
            "cadence_days", "meeting_minutes", "expected_sessions", "midpoint_survey_on", "final_survey_on",
            "mentor_max_level", "mentee_min_level", "min_level_gap", "departments", "self_enrollment",
            "mentees_per_mentor", "max_active_pairs_per_mentor",
            "ban_same_department", "ban_same_manager", "pairing_strategy", "min_score",
            "reminder_lead_hours", "stuck_after_days", "pulse_alert_threshold",
            "agreement_template",
        ]  # fmt: skip
        field_classes = {name: TextAreaField for name in services.TEXT_FIELDS}
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "objectives": forms.Textarea(attrs={"rows": 3}),
            "agreement_template": forms.Textarea(attrs={"rows": 6}),
            "topics": forms.CheckboxSelectMultiple,
            "departments": forms.CheckboxSelectMultiple,
            "mode": forms.RadioSelect,
            "pairing_strategy": forms.RadioSelect,
            **{name: forms.DateInput(**DATE_WIDGET) for name in ("enrollment_opens_on", "enrollment_closes_on", "starts_on", "ends_on", "midpoint_survey_on", "final_survey_on")},
        }
        error_messages = {
            "slug": {"unique": gettext_lazy("Another program already uses this short name: choose another (it appears in links).")},
            "description": {"max_length": gettext_lazy("The description is %(show_value)d characters long; keep it to %(limit_value)d or fewer.")},
        }
        help_texts = {
            "topics": gettext_lazy("What mentors teach and mentees learn in this program."),
            "agreement_template": gettext_lazy("Each pair starts its agreement from this text: goals, how often to meet, confidentiality, boundaries."),
            "mentor_max_level": gettext_lazy("Higher levels are more senior."),
        }

    # The program as the edit form was opened on (services.program_revision); not on a new one.
    revision = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        program = self.instance
        if not program.pk:
            del self.fields["revision"]
        topics = Topic.objects.filter(active=True)
        if program.pk:
            topics = (topics | Topic.objects.filter(programs=program)).distinct()
        self.fields["topics"].queryset = topics.order_by("name")
        self.fields["departments"].queryset = Department.objects.order_by("name")
        self.fields["description"].help_text = _("Up to %(max)s characters: people read it on the program page, on their home page and in invitations.") % {"max": f"{DESCRIPTION_MAX:,}"}
        self.fields["mode"].choices = Program.Mode.choices  # no empty choice for radios
        self.fields["pairing_strategy"].choices = Program.Strategy.choices
        # What the program's status has fixed is shown but not editable; the service refuses it too.
        self.locked = services.locked_fields(program) if program.pk else {}
        # A finished program has one reason for nearly every field: it is said once, at the top
        # and as a short note per section, not under each field with the hints for filling it in.
        self.finished = bool(program.pk) and program.status in (Program.Status.COMPLETED, Program.Status.ARCHIVED)
        for name, why in self.locked.items():
            if name in self.fields:
                self.fields[name].disabled = True
                self.fields[name].help_text = "" if self.finished else why
        self.lock_note = services.locked_summary(program) if program.pk and program.status != Program.Status.DRAFT else ""

        weights = {**DEFAULT_WEIGHTS, **(program.pairing_weights or {})}
        for key, label in WEIGHT_LABELS.items():
            self.fields[WEIGHT_PREFIX + key] = forms.IntegerField(
                label=label,
                min_value=0,
                max_value=100,
                initial=weights.get(key, 0),
                error_messages={"min_value": _("Weights must be zero or more."), "max_value": _("Use a weight from 0 to 100.")},
            )
        # The number inputs offer what the server accepts (the model's limits), so the
        # arrows stop where a save would be refused.
        for name, field in self.fields.items():
            if isinstance(field, forms.IntegerField) and name in self._meta.fields:
                for validator in Program._meta.get_field(name).validators:
                    if isinstance(validator, MinValueValidator):
                        field.widget.attrs["min"] = validator.limit_value
                    elif isinstance(validator, MaxValueValidator):
                        field.widget.attrs["max"] = validator.limit_value
        # The level rules' model fields carry only the database's range (2**63 - 1 on SQLite),
        # which as an input's max told a person nothing: a level goes as high as a person's can.
        for name, message in (
            ("mentor_max_level", _("Use a level from 0 to %(limit_value)s.")),
            ("mentee_min_level", _("Use a level from 0 to %(limit_value)s.")),
            ("min_level_gap", _("Use a gap from 0 to %(limit_value)s levels.")),
        ):
            self.fields[name].validators.append(MaxValueValidator(MAX_LEVEL, message=message))
            self.fields[name].widget.attrs["max"] = MAX_LEVEL
        reminders = {**{k: True for k in REMINDER_KINDS}, **(program.reminders or {})}
        for kind, label in REMINDER_KINDS.items():
            self.fields[REMINDER_PREFIX + kind] = forms.BooleanField(label=label, required=False, initial=bool(reminders.get(kind)))
        # The JSON fields have one input per key: fixed together, with the reason said once.
        for json_field, prefix in (("pairing_weights", WEIGHT_PREFIX), ("reminders", REMINDER_PREFIX)):
            if json_field in self.locked:
                for name in self.fields:
                    if name.startswith(prefix):
                        self.fields[name].disabled = True
        weights_note = _("Relative importance of each criterion in a pair's score (0 turns a criterion off).")
        if "pairing_weights" in self.locked and not self.finished:
            weights_note = f"{weights_note} {self.locked['pairing_weights']}"

        def note(text: str) -> HTML:
            return HTML('<p class="form-text">{}</p>'.format(escape(text)))

        def locked_note(text: str) -> HTML:
            return HTML('<p class="form-text"><i class="bi bi-lock" aria-hidden="true"></i> {}</p>'.format(escape(text)))

        fixed = _("Fixed now that the program is completed.")
        if self.finished:
            sections = {
                "basics": locked_note(_("Only the name and description can still change.")),
                "dates": locked_note(fixed),
                "eligibility": locked_note(fixed),
                "capacity": locked_note(fixed),
                "pairing": locked_note(fixed),
                # The switches stay open: the final survey still reminds people. The meetings are
                # over, so their lead time no longer matters; the other two shaped the figures.
                "reminders": locked_note(_("Only the reminder switches can still change: reminders still go out for the final survey. The meetings are over, so their lead time is fixed with the rest.")),
                "agreement": locked_note(fixed),
            }
        else:
            sections = {}
        # A hint about setting dates is for dates that can still be set.
        dates_note = [] if all(name in self.locked for name in services.DATE_FIELDS) else [note(_("A date you set or change cannot be in the past."))]
        weights_hint = [] if self.finished else [note(weights_note)]

        def section(key: str) -> list:
            return [sections[key]] if key in sections else []

        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        weight_rows = [Column(WEIGHT_PREFIX + key, css_class="col-md-6 col-lg-4") for key in WEIGHT_LABELS]
        self.helper.layout = Layout(
            Fieldset(_("Basics"), *section("basics"), "name", "slug", "description", "objectives", "topics", "mode", css_class="mb-4"),
            Fieldset(
                _("Dates"),
                *section("dates"),
                *dates_note,
                Row(Column("enrollment_opens_on"), Column("enrollment_closes_on")),
                Row(Column("starts_on"), Column("ends_on")),
                Row(Column("cadence_days"), Column("meeting_minutes"), Column("expected_sessions")),
                Row(Column("midpoint_survey_on"), Column("final_survey_on")),
                css_class="mb-4",
            ),
            Fieldset(
                _("Eligibility"),
                *section("eligibility"),
                Row(Column("mentor_max_level"), Column("mentee_min_level"), Column("min_level_gap")),
                "departments",
                "self_enrollment",
                css_class="mb-4",
            ),
            Fieldset(_("Capacity"), *section("capacity"), Row(Column("mentees_per_mentor"), Column("max_active_pairs_per_mentor")), css_class="mb-4"),
            Fieldset(
                _("Pairing policy"),
                *section("pairing"),
                *weights_hint,
                Row(*weight_rows),
                "ban_same_department",
                "ban_same_manager",
                "pairing_strategy",
                "min_score",
                css_class="mb-4",
            ),
            Fieldset(
                _("Reminders"),
                *section("reminders"),
                *[REMINDER_PREFIX + kind for kind in REMINDER_KINDS],
                Row(Column("reminder_lead_hours"), Column("stuck_after_days"), Column("pulse_alert_threshold")),
                css_class="mb-4",
            ),
            Fieldset(_("Agreement"), *section("agreement"), "agreement_template", css_class="mb-4"),
        )

    def clean_objectives(self):
        """One per line, as the help says: blank lines and stray spaces go."""
        return "\n".join(line.strip() for line in (self.cleaned_data.get("objectives") or "").splitlines() if line.strip())

    def clean(self):
        cleaned = super().clean()
        weight_names = [WEIGHT_PREFIX + key for key in DEFAULT_WEIGHTS]
        if all(name in cleaned for name in weight_names):
            weights = {key: cleaned[WEIGHT_PREFIX + key] for key in DEFAULT_WEIGHTS}
            if sum(weights.values()) <= 0:
                self.add_error(WEIGHT_PREFIX + "topics", _("At least one weight must be above zero."))
            else:
                # Model.clean() (run next by ModelForm) checks the JSON as it will be stored.
                self.instance.pairing_weights = weights
        self.instance.reminders = {kind: bool(cleaned.get(REMINDER_PREFIX + kind)) for kind in REMINDER_KINDS}
        # Past dates, fixed fields and level rules no pair can meet: as field errors here, and
        # refused again by the service for anything that does not come through this form.
        program = self.instance if self.instance.pk else None
        # The dates as entered, before a refusal below takes one out of cleaned_data: the
        # model's rules across dates still judge it (see _post_clean).
        self.entered_dates = {name: cleaned[name] for name in services.DATE_FIELDS if name in cleaned}
        names = dict.fromkeys([*services.DATE_FIELDS, *services.LEVEL_FIELDS, *services.SCHEDULE_FIELDS, *(["departments", "mode", "slug"] if program else [])])
        checked = {name: cleaned[name] for name in names if name in cleaned}
        # A field with its own error is left out, and so are the rules that need it: the rest
        # are still checked, so one submission reports every problem it can.
        undecided = [name for name in names if name not in cleaned]
        for name, message in services.program_change_problems(program=program, fields=checked, undecided=undecided).items():
            if name not in self.errors:
                self.add_error(name if name in self.fields else None, message)
        return cleaned

    def _post_clean(self):
        # Program.clean() orders the dates against each other on the instance, which would hold
        # the saved value (or nothing) for a date refused here, say for being in the past: the
        # order problems would then come one submission later, or be judged on a date the
        # person did not enter. For its check the instance holds each date as entered, and
        # none for a date that could not be read; then it gets back what it held.
        entered = getattr(self, "entered_dates", {})
        held = {name: getattr(self.instance, name) for name in services.DATE_FIELDS if name not in self.cleaned_data}
        for name in held:
            setattr(self.instance, name, entered.get(name))
        try:
            super()._post_clean()
        finally:
            for name, value in held.items():
                setattr(self.instance, name, value)

    def _update_errors(self, errors):
        # Program.clean() may name a JSON field that has no single input here.
        if hasattr(errors, "error_dict"):
            mapped: dict[str, list] = {}
            for name, messages in errors.error_dict.items():
                mapped.setdefault(name if name in self.fields else NON_FIELD_ERRORS, []).extend(messages)
            errors = ValidationError(mapped)
        super()._update_errors(errors)

    def mark_differences_from_saved(self) -> list[str]:
        """After an edit conflict: put the saved value next to every entry that differs from
        the program as saved now (the instance the form was made with), and return their labels.
        Fields the program's status has fixed are not entries: they show the saved value."""
        differing = []
        for name, field in self.fields.items():
            if name == "revision" or field.disabled:
                continue
            saved = self.get_initial_for_field(field, name)
            if name in self.cleaned_data:
                differs = not _same_entry(saved, self.cleaned_data[name])
            else:  # an entry with an error: compare what was typed
                differs = field.has_changed(saved, self[name].data)
            if differs:
                differing.append((name, saved))
        for name, saved in differing:
            self.add_error(name, _("Saved now: %(value)s") % {"value": _shown(self.fields[name], saved)})
        return [str(self.fields[name].label) for name, _saved in differing]

    def service_fields(self) -> dict:
        """Keyword arguments for program_create / program_update."""
        # What the program's status has fixed is not sent: the form cannot change it, and its
        # shown value, cleaned again, could differ from the stored one in form only.
        data = {name: self.cleaned_data[name] for name in self.Meta.fields if name in self.cleaned_data and not self.fields[name].disabled}
        if not self.fields[WEIGHT_PREFIX + "topics"].disabled:
            data["pairing_weights"] = {key: self.cleaned_data[WEIGHT_PREFIX + key] for key in DEFAULT_WEIGHTS}
        if not self.fields[REMINDER_PREFIX + next(iter(REMINDER_KINDS))].disabled:
            data["reminders"] = {kind: bool(self.cleaned_data.get(REMINDER_PREFIX + kind)) for kind in REMINDER_KINDS}
        for name in ("topics", "departments"):
            if name in data:
                data[name] = list(data[name])
        return data


def _same_entry(saved, entered) -> bool:
    if isinstance(entered, (QuerySet, list)):  # topics, departments
        return {getattr(x, "pk", x) for x in saved or ()} == {getattr(x, "pk", x) for x in entered}
    if isinstance(entered, str):  # a browser sends a text area's line breaks as \r\n
        return (saved or "").replace("\r\n", "\n").strip() == entered.replace("\r\n", "\n").strip()
    return saved == entered


def _shown(field: forms.Field, value) -> str:
    """A saved value as the person would recognise it in the form."""
    if isinstance(field, forms.BooleanField):
        return _("ticked") if value else _("not ticked")
    if isinstance(field, forms.ModelMultipleChoiceField):
        return ", ".join(str(x) for x in value) if value else _("none")
    if value is None or value == "":
        return _("empty")
    if isinstance(value, datetime.date):
        return date_format(value)
    if isinstance(field, forms.ChoiceField):
        return str(dict(field.choices).get(value, value))
    return f"“{Truncator(str(value)).chars(120)}”" if isinstance(value, str) else str(value)


class CloneForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("New name"), max_length=150)
    slug = forms.SlugField(label=gettext_lazy("New short name"), max_length=80, help_text=gettext_lazy("Used in links, e.g. 'ai-for-leaders-2027'."))
    enrollment_opens_on = forms.DateField(
        label=gettext_lazy("Enrollment opens"),
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=gettext_lazy("Today or later. Every other date moves by the same number of days."),
    )

    def clean_enrollment_opens_on(self):
        day = self.cleaned_data["enrollment_opens_on"]
        if day < services.today():
            raise ValidationError(_("%(day)s is in the past: choose today or a later day (every other date moves with it).") % {"day": date_format(day)})
        return day


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=Program.Status.choices)
    note = forms.CharField(required=False, max_length=300)


# Files a training resource may be: documents, slides, sheets, images, audio and video.  Not
# programs, scripts, web pages or archives: participants download them from a page HR vouches
# for, and an .exe or .html there would be an easy way to pass on something harmful.
RESOURCE_EXTENSIONS = (
    ".pdf", ".doc", ".docx", ".odt", ".rtf", ".txt", ".md",
    ".ppt", ".pptx", ".odp", ".key",
    ".xls", ".xlsx", ".ods", ".csv",
    ".png", ".jpg", ".jpeg", ".gif", ".webp",
    ".mp3", ".m4a", ".wav", ".mp4", ".m4v", ".mov", ".webm",
)


class ResourceForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    url = forms.URLField(label=gettext_lazy("Link"), required=False, assume_scheme="https")
    file = forms.FileField(label=gettext_lazy("or a file"), required=False)
    audience = forms.ChoiceField(label=gettext_lazy("For"), choices=Resource.Audience.choices, initial=Resource.Audience.EVERYONE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at request time so the limit follows the setting.
        self.fields["file"].help_text = _("A document, slides, a sheet, an image, audio or video, up to %(limit)s.") % {
            "limit": filesizeformat(settings.RESOURCE_MAX_BYTES)
        }
        self.fields["file"].widget.attrs["accept"] = ",".join(RESOURCE_EXTENSIONS)

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if not upload:
            return upload
        name = PurePath(upload.name).name
        if PurePath(name).suffix.lower() not in RESOURCE_EXTENSIONS:
            raise ValidationError(
                _("“%(name)s” is not a kind of file Upward shares. Upload a document (PDF, Word, text), slides, a sheet, an image, audio or video, or give a link instead."),
                code="file_type",
                params={"name": name},
            )
        limit = settings.RESOURCE_MAX_BYTES
        if upload.size > limit:
            size = filesizeformat(upload.size)
            if size == filesizeformat(limit):  # just over: the rounded sizes would read the same
                size = _("just over %(limit)s") % {"limit": filesizeformat(limit)}
            raise ValidationError(
                _("“%(name)s” is %(size)s; the limit is %(limit)s. Share a link to a large file instead."),
                code="file_size",
                params={"name": name, "size": size, "limit": filesizeformat(limit)},
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("url") and not cleaned.get("file") and not self.errors:
            raise ValidationError(_("Give a link or upload a file."))
        if cleaned.get("url") and cleaned.get("file"):
            raise ValidationError(_("Give a link or upload a file, not both: add them as two resources if both are wanted."))
        return cleaned


# --- Invitations ------------------------------------------------------------------------------


class InviteForm(forms.Form):
    role = forms.ChoiceField(label=gettext_lazy("Invite them as"), choices=Role.choices, widget=forms.RadioSelect, initial=Role.MENTOR)
    department = forms.ModelChoiceField(label=gettext_lazy("Department"), queryset=Department.objects.order_by("name"), required=False, empty_label=gettext_lazy("Any department"))
    level_min = forms.IntegerField(label=gettext_lazy("Lowest level"), min_value=0, required=False)
    level_max = forms.IntegerField(label=gettext_lazy("Highest level"), min_value=0, required=False)
    emails = forms.CharField(
        label=gettext_lazy("Or paste email addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("One per line or separated by commas. Emails not in the directory are reported."),
    )
    message = forms.CharField(
        label=gettext_lazy("Personal message (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Added to the invitation email."),
    )

    apply_by = forms.DateField(
        label=gettext_lazy("Last day to apply"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=gettext_lazy("People invited now can apply until the end of this day in their own time zone."),
    )

    def __init__(self, *args, program=None, late: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.program, self.late = program, late
        if late:
            self.fields["apply_by"].required = True
            self.fields["apply_by"].initial = services.late_apply_by_default(program)
            # The picker offers only days the server accepts (today to the day before the end).
            self.fields["apply_by"].widget.attrs.update(
                min=services.late_apply_by_first().isoformat(), max=(program.ends_on - datetime.timedelta(days=1)).isoformat()
            )
            self.fields["apply_by"].error_messages["required"] = _("Choose the last day to apply.")
        else:
            del self.fields["apply_by"]

    def clean_emails(self):
        # Entries found nowhere (a typo, 'not an email') are listed after the preview, the
        # others invited: one stray line does not hold back the rest.
        return split_emails(self.cleaned_data["emails"])

    def clean_apply_by(self):
        day = self.cleaned_data.get("apply_by")
        problems = services.late_apply_by_problems(self.program, day)
        if problems:
            raise ValidationError(problems[0])
        return day

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("level_min"), cleaned.get("level_max")
        if low is not None and high is not None and low > high:
            self.add_error("level_max", _("The highest level must be at least the lowest level."))
        if not (cleaned.get("department") or low is not None or high is not None or cleaned.get("emails")) and not self.errors:
            raise ValidationError(_("Choose a department or a level range, or paste email addresses."))
        return cleaned

    @property
    def uses_directory_filter(self) -> bool:
        c = self.cleaned_data
        return bool(c.get("department") or c.get("level_min") is not None or c.get("level_max") is not None)


# --- Enrollment -------------------------------------------------------------------------------

WEEKDAYS = [("mon", gettext_lazy("Mon")), ("tue", gettext_lazy("Tue")), ("wed", gettext_lazy("Wed")), ("thu", gettext_lazy("Thu")), ("fri", gettext_lazy("Fri"))]
WEEKDAY_NAMES = {"mon": gettext_lazy("Monday"), "tue": gettext_lazy("Tuesday"), "wed": gettext_lazy("Wednesday"), "thu": gettext_lazy("Thursday"), "fri": gettext_lazy("Friday")}
SLOT_HOURS = [8, 10, 12, 14, 16]
SLOTS = [(f"{day}-{hour:02d}", f"{WEEKDAY_NAMES[day]} {hour:02d}:00–{hour + 2:02d}:00") for day, _label in WEEKDAYS for hour in SLOT_HOURS]
LEVEL_CHOICES = [("", "—"), *[(n, str(n)) for n in range(1, 6)]]
MAX_NOT_WITH = 10


class AvailabilityForm(forms.Form):
    """When and in which languages a person can meet: the weekly grid of two-hour slots in
    their own time zone (templates/programs/_availability_fields.html). On the application,
    and on its own once the application is approved (programs.views.enrollment_availability)."""

    languages = forms.CharField(
        label=gettext_lazy("Languages you can hold a meeting in"),
        max_length=300,
        help_text=gettext_lazy("Separated by commas, e.g. English, Spanish."),
        error_messages={"required": gettext_lazy("Give at least one language you can hold a meeting in.")},
    )
    availability = forms.MultipleChoiceField(label=gettext_lazy("When you can usually meet"), choices=SLOTS, widget=forms.CheckboxSelectMultiple, required=False)
    time_zone = forms.ChoiceField(label=gettext_lazy("Your time zone"))

    weekdays = WEEKDAYS

    def __init__(self, *args, employee: Employee, **kwargs):
        super().__init__(*args, **kwargs)
        self.employee = employee
        self.fields["time_zone"].choices = time_zone_choices(self.initial.get("time_zone") or employee.time_zone)

    def availability_grid(self):
        """Rows of (time label, [(slot value, accessible label, checked), ...]) for the weekly grid."""
        chosen = set(self["availability"].value() or [])
        labels = dict(SLOTS)
        return [
            (f"{hour:02d}:00–{hour + 2:02d}:00", [(f"{day}-{hour:02d}", labels[f"{day}-{hour:02d}"], f"{day}-{hour:02d}" in chosen) for day, _d in WEEKDAYS])
            for hour in SLOT_HOURS
        ]

    @staticmethod
    def initial_from(enrollment: Enrollment) -> dict:
        return {"languages": ", ".join(enrollment.languages), "availability": list(enrollment.availability), "time_zone": enrollment.time_zone}

    def availability_fields(self) -> dict:
        """Keyword arguments for services.enrollment_availability_update."""
        c = self.cleaned_data
        return {"languages": split_words(c["languages"]), "availability": list(c["availability"]), "time_zone": c["time_zone"]}


class ApplicationForm(AvailabilityForm):
    """One person's answers for one role. Topic fields are made per program topic:
    `topic_<id>` for the role's own list, `extra_<id>` for the other list in two-way programs."""

    field_order = ["interests", "languages", "availability", "time_zone", "motivation", "not_with"]

    interests = forms.CharField(
        label=gettext_lazy("Interests"),
        required=False,
        max_length=500,
        help_text=gettext_lazy("Separated by commas, e.g. photography, football, podcasts. Shared interests help the pairing."),
    )
    motivation = forms.CharField(label=gettext_lazy("What do you hope to get from the program?"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 4}))
    not_with = forms.CharField(
        label=gettext_lazy("Please do not pair me with (optional, confidential)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "Work email addresses of colleagues, one per line. This list is confidential: only the pairing engine uses it. "
            "Nobody sees it, not your future partner, not the people listed and not HR; if HR tries to pair you with "
            "someone on it, they are told only that a confidential preference rules that pair out. You do not have to give a reason."
        ),
    )

    def __init__(self, *args, program: Program, role: str, employee: Employee, **kwargs):
        super().__init__(*args, employee=employee, **kwargs)
        self.program, self.role = program, role
        self.topics = list(program.topics.all())
        own_help = _("How confident are you teaching it? 1 = the basics, 5 = I could run a workshop.") if role == Role.MENTOR else _("Your level today: 1 = new to it, 5 = expert.")
        for topic in self.topics:
            self.fields[f"topic_{topic.pk}"] = self._level_field(topic.name, own_help)
        if program.mode == Program.Mode.TWO_WAY:
            other_help = _("Your level today: 1 = new to it, 5 = expert.") if role == Role.MENTOR else _("How confident are you teaching it? 1 = the basics, 5 = I could run a workshop.")
            for topic in self.topics:
                self.fields[f"extra_{topic.pk}"] = self._level_field(topic.name, other_help)

    @staticmethod
    def _level_field(label, help_text):
        return forms.TypedChoiceField(label=label, choices=LEVEL_CHOICES, coerce=int, empty_value=None, required=False, help_text=help_text)

    @property
    def is_two_way(self) -> bool:
        return self.program.mode == Program.Mode.TWO_WAY

    def own_rows(self):
        return [(topic, self[f"topic_{topic.pk}"]) for topic in self.topics]

    def extra_rows(self):
        return [(topic, self[f"extra_{topic.pk}"]) for topic in self.topics] if self.is_two_way else []

    def clean_not_with(self):
        emails = split_emails(self.cleaned_data["not_with"])
        if len(emails) > MAX_NOT_WITH:
            raise ValidationError(_("List at most %(n)d colleagues.") % {"n": MAX_NOT_WITH})
        if invalid := not_emails(emails):
            raise ValidationError(_("These are not email addresses: %(emails)s.") % {"emails": ", ".join(invalid)})
        people, unknown = employees_by_email(emails)
        if unknown:
            raise ValidationError(_("Not found in the company directory: %(emails)s. Check the spelling.") % {"emails": ", ".join(unknown)})
        if any(person.pk == self.employee.pk for person in people):
            raise ValidationError(_("You cannot list yourself."))
        return people

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(f"topic_{t.pk}") for t in self.topics):
            message = _("Choose at least one topic you can teach.") if self.role == Role.MENTOR else _("Rate at least one topic you want to learn.")
            self.add_error(None, message)
        return cleaned

    def application(self):
        c = self.cleaned_data
        return Application(
            role=self.role,
            topic_levels={t.pk: c[f"topic_{t.pk}"] for t in self.topics if c.get(f"topic_{t.pk}")},
            extra_topic_levels={t.pk: c[f"extra_{t.pk}"] for t in self.topics if c.get(f"extra_{t.pk}")} if self.is_two_way else {},
            interests=split_words(c["interests"]),
            **self.availability_fields(),
            motivation=c["motivation"].strip(),
            not_with=c["not_with"],
        )

    @staticmethod
    def initial_for(*, employee: Employee, enrollment: Enrollment | None) -> dict:
        """Prefill: the person's own previous answers, or their directory time zone."""
        if enrollment is None or enrollment.status == Enrollment.Status.INVITED:
            return {"time_zone": employee.time_zone}
        own_kind = EnrollmentTopic.Kind.TEACH if enrollment.role == Role.MENTOR else EnrollmentTopic.Kind.LEARN
        initial = {
            **AvailabilityForm.initial_from(enrollment),
            "interests": ", ".join(enrollment.interests),
            "motivation": enrollment.motivation,
            # The author's own list, shown back to them only.
            "not_with": "\n".join(e.email for e in enrollment.not_with.all()),
        }
        for rating in enrollment.topic_ratings.all():
            initial[f"{'topic' if rating.kind == own_kind else 'extra'}_{rating.topic_id}"] = rating.level
        return initial


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why are you leaving?"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("HR reads this to re-match your partner and improve the program."),
        error_messages={"required": gettext_lazy("Say briefly why you are leaving: HR reads it to re-match your partner.")},
    )

    def __init__(self, *args, declining: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if declining:  # an invitation not answered yet: no partner to re-match, no reason owed
            field = self.fields["reason"]
            field.required = False
            field.label = _("Anything HR should know? (optional)")
            field.help_text = _("For example, a better time for you to join a later program.")


# --- Review -----------------------------------------------------------------------------------


class ReviewFilterForm(forms.Form):
    SELECT = {"class": "form-select"}
    role = forms.ChoiceField(label=gettext_lazy("Role"), choices=[("", gettext_lazy("Both roles")), *Role.choices], required=False, widget=forms.Select(attrs=SELECT))
    status = forms.ChoiceField(
        label=gettext_lazy("Status"), choices=[("", gettext_lazy("Any status")), *Enrollment.Status.choices], required=False, widget=forms.Select(attrs=SELECT)
    )
    department = forms.ModelChoiceField(
        label=gettext_lazy("Department"),
        queryset=Department.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("All departments"),
        widget=forms.Select(attrs=SELECT),
    )
    level = forms.IntegerField(label=gettext_lazy("Level"), min_value=0, required=False, widget=forms.NumberInput(attrs={"class": "form-control"}))


class IdListField(forms.Field):
    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError) as exc:
            raise ValidationError(_("Invalid selection.")) from exc


class DecisionForm(forms.Form):
    DECISIONS = [
        (Enrollment.Status.APPROVED, gettext_lazy("Approve")),
        (Enrollment.Status.WAITLISTED, gettext_lazy("Waitlist")),
        (Enrollment.Status.DECLINED, gettext_lazy("Decline")),
    ]
    enrollment = IdListField(required=False)
    # Every application matching the page's filters, on every page (not only the ticked ones).
    all_matching = forms.BooleanField(required=False)
    decision = forms.ChoiceField(choices=DECISIONS)
    message = forms.CharField(
        required=False,
        max_length=services.MESSAGE_MAX,
        error_messages={"max_length": gettext_lazy("The message is %(show_value)d characters long; keep it to %(limit_value)d or fewer.")},
    )
    # When the page was loaded: what another HR admin decided since is not overwritten.
    seen_at = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("enrollment") and not cleaned.get("all_matching") and not self.errors:
            raise ValidationError(_("Select at least one application first."))
        return cleaned

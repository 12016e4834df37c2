"""Forms for the HR pairing pages. They parse and validate input; pairing/services.py writes."""

from django import forms
from django.db.models import QuerySet
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from programs.models import Enrollment

from . import engine
from .models import Pair, PairingOverride

SELECT = {"class": "form-select"}
# Person and pair lists run to hundreds of options: static/js/pairing.js makes these
# type-to-find (Tom Select); without JavaScript they are plain selects.
SEARCHABLE = {**SELECT, "data-searchable": "true", "data-no-results": _("No one matches that.")}


class LongSelect(forms.Select):
    """A select of hundreds of options (people, pairs), written out directly: Django's
    widget templates render one sub-template per option, which took ~0.2 s of a 300-pair
    review page's six choosers. Same markup, no option groups (these have none)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "\n",
            "{}",
            (
                (format_html('<option value="{}" selected>{}</option>' if option["selected"] else '<option value="{}">{}</option>', option["value"], option["label"]),)
                for _group, group, _index in widget["optgroups"]
                for option in group
            ),
        )
        return format_html('<select name="{}"{}>\n{}\n</select>', widget["name"], flatatt(widget["attrs"]), options)


class PersonChoiceField(forms.ModelChoiceField):
    """An enrollment shown as "Name · Department · level" (querysets select the department)."""

    widget = LongSelect(attrs=SEARCHABLE)

    def label_from_instance(self, obj: Enrollment) -> str:
        # The email tells namesakes in one department apart, and can be typed to find them.
        e = obj.employee
        label = f"{e.full_name} · {e.department.name} · {e.level_text} · {e.email}"
        return f"{label} · {_('has a pair')}" if getattr(obj, "has_pair", False) else label


class PairChoiceField(forms.ModelChoiceField):
    widget = LongSelect(attrs=SEARCHABLE)

    def label_from_instance(self, obj: Pair) -> str:
        return f"{obj.mentor.employee.full_name} → {obj.mentee.employee.full_name} ({obj.score}/{engine.MAX_SCORE})"


class MentorMenteeForm(forms.Form):
    mentor = PersonChoiceField(label=_("Mentor"), queryset=Enrollment.objects.none(), empty_label=_("Choose a mentor"))
    mentee = PersonChoiceField(label=_("Mentee"), queryset=Enrollment.objects.none(), empty_label=_("Choose a mentee"))

    # Several of these forms share a page: each keeps its own element ids.
    id_prefix = "person"

    def __init__(self, *args, mentors: QuerySet[Enrollment], mentees: QuerySet[Enrollment], **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)
        self.fields["mentor"].queryset = mentors
        self.fields["mentee"].queryset = mentees


class OverrideForm(MentorMenteeForm):
    """Pin a mentor and mentee together, or keep them apart, on the next run."""

    id_prefix = "override"
    kind = forms.ChoiceField(label=_("Decision"), choices=PairingOverride.Kind.choices, initial=PairingOverride.Kind.PIN, widget=forms.Select(attrs=SELECT))


class ManualPairForm(MentorMenteeForm):
    """Pair two people of the run's pool by hand."""

    id_prefix = "manual"


class SwapForm(forms.Form):
    pair_a = PairChoiceField(label=_("First pair"), queryset=Pair.objects.none(), empty_label=_("Choose a pair"))
    pair_b = PairChoiceField(label=_("Second pair"), queryset=Pair.objects.none(), empty_label=_("Choose a pair"))

    def __init__(self, *args, pairs: QuerySet[Pair], **kwargs):
        kwargs.setdefault("auto_id", "swap_%s")
        super().__init__(*args, **kwargs)
        self.fields["pair_a"].queryset = pairs
        self.fields["pair_b"].queryset = pairs

    def clean(self):
        data = super().clean()
        if data.get("pair_a") and data.get("pair_a") == data.get("pair_b"):
            raise forms.ValidationError(_("Choose two different pairs to swap their mentors."))
        return data


# "A participant withdrew" is what the withdrawal itself records (the enrollment ends with
# it); HR ending a pair for that reason would tell both they are still in the program.
HR_END_REASONS = [(value, label) for value, label in Pair.EndReason.choices if value != Pair.EndReason.WITHDRAWAL]


class PairEndForm(forms.Form):
    reason = forms.ChoiceField(label=_("Why does the pair end?"), choices=HR_END_REASONS, widget=forms.Select(attrs=SELECT))
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=500, widget=forms.TextInput(attrs={"class": "form-control"}))


class PairPauseForm(forms.Form):
    note = forms.CharField(
        label=_("Note to both of them (optional)"), required=False, max_length=500,
        help_text=_("They see it on their pair page and in the email, e.g. “back after parental leave in March”."),
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class PairNudgeForm(forms.Form):
    message = forms.CharField(
        label=_("Message (optional)"), required=False, max_length=1000,
        help_text=_("Both of them get it by email with a link to their pair page."),
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}),
    )


class PairSearchForm(forms.Form):
    q = forms.CharField(label=_("Name or email"), required=False, max_length=100, widget=forms.TextInput(attrs={"class": "form-control", "type": "search"}))
    show = forms.ChoiceField(label=_("Show"), required=False, widget=forms.Select(attrs=SELECT))

    def __init__(self, *args, filters: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["show"].choices = [("", _("All pairs")), *filters.items()]

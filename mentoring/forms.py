from pathlib import PurePath

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .timezones import time_zone_choices

ROSTER_EXTENSIONS = (".csv", ".xlsx")


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Roster file"),
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Read at request time so the limit follows the setting.
        self.fields["file"].help_text = _(
            "A CSV or Excel (.xlsx) export from your HRIS, up to %(limit)s. Nothing changes until you review the preview and apply it."
        ) % {"limit": filesizeformat(settings.ROSTER_IMPORT_MAX_BYTES)}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = PurePath(upload.name).name
        if PurePath(name).suffix.lower() not in ROSTER_EXTENSIONS:
            raise forms.ValidationError(
                _("“%(name)s” is not a CSV or XLSX file. Export the roster from your HRIS as CSV or Excel (.xlsx)."),
                code="file_type",
                params={"name": name},
            )
        limit = settings.ROSTER_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                _("“%(name)s” is %(size)s; the limit is %(limit)s. Split the roster or remove unused columns."),
                code="file_size",
                params={"name": name, "size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            )
        return upload


class TimeZoneForm(forms.Form):
    """A person's own time zone: every page, email and calendar invite uses it."""

    time_zone = forms.ChoiceField(label=gettext_lazy("Your time zone"))

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, initial={"time_zone": current}, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices(current)

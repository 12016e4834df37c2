"""The HR console's roster import: upload -> preview -> apply."""

from django.contrib import messages
from django.db.models.fields.json import KT
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from . import roster
from .forms import RosterUploadForm
from .models import RosterImport
from .roles import hr_required
from .roster import RosterError

RECENT_IMPORTS = 25


@hr_required
def roster_import(request):
    form = RosterUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            created = roster.roster_import_create(data=upload.read(), filename=upload.name, uploaded_by=request.user)
        except RosterError as exc:
            form.add_error("file", str(exc))
        else:
            errors = created.summary["counts"]["errors"]
            if errors:
                messages.warning(
                    request,
                    ngettext(
                        "The file has %(count)d problem; nothing was changed. Fix it and upload the file again.",
                        "The file has %(count)d problems; nothing was changed. Fix them and upload the file again.",
                        errors,
                    )
                    % {"count": errors},
                )
            elif new_departments := created.summary.get("new_departments"):
                # Legitimate, but a misspelt department would split a team: say so before applying.
                messages.warning(
                    request,
                    ngettext(
                        "Preview ready. It creates %(count)d new department (%(names)s); check the spelling, then apply the changes.",
                        "Preview ready. It creates %(count)d new departments (%(names)s); check the spelling, then apply the changes.",
                        created.summary["counts"]["new_departments"],
                    )
                    % {"count": created.summary["counts"]["new_departments"], "names": ", ".join(d["name"] for d in new_departments[:5])
                       + (", …" if created.summary["counts"]["new_departments"] > 5 else "")},
                )
                if created.summary.get("unusual_levels"):
                    messages.warning(request, _("Some levels are far above the rest of the directory: check them too."))
            elif created.summary.get("unusual_levels"):
                messages.warning(request, _("Preview ready. Some levels are far above the rest of the directory; check them, then apply the changes."))
            else:
                messages.success(request, _("Preview ready. Check the changes below, then apply them."))
            return redirect("roster_import_detail", pk=created.pk)
    # The summaries can be large (every planned change); the list needs only their counts.
    counts = {f"count_{key}": KT(f"summary__counts__{key}") for key in ("rows", "errors", "creates", "updates", "leavers")}
    imports = RosterImport.objects.select_related("uploaded_by").defer("summary").annotate(**counts)[:RECENT_IMPORTS]
    return render(request, "mentoring/roster_import.html", {"form": form, "imports": imports})


@hr_required
@require_GET
def roster_import_detail(request, pk: int):
    roster_import = get_object_or_404(RosterImport.objects.select_related("uploaded_by"), pk=pk)
    summary = roster_import.summary or {}
    counts = summary.get("counts", {})
    return render(
        request,
        "mentoring/roster_import_detail.html",
        {
            "roster_import": roster_import,
            "summary": summary,
            "counts": counts,
            "can_apply": roster_import.status == RosterImport.Status.PREVIEWED and not counts.get("errors") and bool(roster_import.file),
            # A preview whose file went with an erasure (it named the erased person).
            "file_gone": roster_import.status == RosterImport.Status.PREVIEWED and not roster_import.file,
        },
    )


@hr_required
@require_POST
def roster_import_apply(request, pk: int):
    get_object_or_404(RosterImport, pk=pk)
    try:
        _applied, plan = roster.roster_import_apply(roster_import_id=pk, by=request.user)
    except RosterError as exc:
        messages.error(request, str(exc))
        roster.roster_import_refresh(roster_import_id=pk)
    else:
        counts = plan.counts()
        messages.success(
            request,
            _(
                "Roster applied. Added: %(creates)d · updated: %(updates)d · level changes: %(level_changes)d · "
                "leavers: %(leavers)d · rejoiners: %(rejoiners)d · unchanged: %(unchanged)d."
            )
            % counts,
        )
    return redirect("roster_import_detail", pk=pk)

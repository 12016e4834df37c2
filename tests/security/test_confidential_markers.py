"""Confidential fields reach nobody but their author.

A unique marker is planted in every confidential field (private notes, feedback comments, the
concern, the "please not with" lists; the pulse has no free text, so its questions and its
"answered" badge stand in, and its answers are checked as loaded objects). Then the markers are
searched for in:
- every page of the authorization matrix, as every role, with every method the view serves,
  plus the pages of a proposed match run, the CSV exports, each person's data download and
  HR's download of it for them;
- the template context of each of those pages: no pulse, and no note, feedback or "not with"
  list of anyone but the reader, is even loaded;
- the Django admin, as a superuser: every changelist and change form;
- every email, in the outbox table and as delivered;
- every table of the database (a marker lives in its own table only: not in the audit log,
  a reminder, an outbox row or a match run's stored inputs);
- every log record of the whole run, every logger at DEBUG.
(This replaces tests/sessions_log/test_privacy.py, which checked a subset of these pages.)
"""

import base64
import dataclasses
import io
import logging
import zipfile

import pytest
from django.contrib import admin
from django.core import mail
from django.db.models import Model, QuerySet
from django.test import Client
from django.urls import reverse

from mentoring.models import Employee, OutboxMessage, User
from pairing.models import MatchRun, Pair
from programs.models import Enrollment
from sessions_log.models import Concern, Feedback, PrivateNote, PulseAlert, SafetyPulse, SessionLog
from tests.auth_helpers import login_with_mfa
from tests.security import matrix, url_rules
from tests.security.world import MARKERS, PAIR_TEXT, ROLES, World, build_world


@pytest.fixture
def every_log_record(caplog):
    """Every logger at DEBUG into caplog, from before the world is built to the end."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is not logging.getLogger() and not logger.propagate:
            logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    yield caplog
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled
        if caplog.handler in logger.handlers and logger is not logging.getLogger():
            logger.removeHandler(caplog.handler)


@pytest.fixture
def world(db, settings, tmp_path, deliver_outbox, every_log_record) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    return build_world(deliver_outbox=deliver_outbox)


def hidden_from(role: str, *, with_pair_text: bool = True):
    markers = [*MARKERS, *(PAIR_TEXT if with_pair_text else ())]
    return [m for m in markers if role not in m.may_see]


def found_in(text: str, markers) -> list[str]:
    lowered = text.lower()
    return [m.text for m in markers if m.text.lower() in lowered]


# --- Objects loaded for a page ---------------------------------------------------------------------


def _children(value):
    if isinstance(value, QuerySet):
        return list(value._result_cache or [])
    if isinstance(value, Model):
        out = list(value._state.fields_cache.values())
        for cached in getattr(value, "_prefetched_objects_cache", {}).values():
            out += list(cached._result_cache or []) if isinstance(cached, QuerySet) else [cached]
        return out + [v for v in vars(value).values() if isinstance(v, (list, tuple, Model))]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return []


def confidential_objects_in(context, reader_employee_id: int | None) -> list[str]:
    """Confidential rows reachable from a template context that the reader may not hold."""
    found, seen, stack = [], set(), [(context, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > 8 or id(value) in seen or isinstance(value, (str, bytes, int, float, bool, type(None))):
            continue
        seen.add(id(value))
        if isinstance(value, SafetyPulse):
            found.append(f"SafetyPulse #{value.pk}")  # its answers are never fetched for a page
        elif isinstance(value, PrivateNote) and value.author_id != reader_employee_id:
            found.append(f"PrivateNote #{value.pk} of employee #{value.author_id}")
        elif isinstance(value, Feedback) and value.author.employee_id != reader_employee_id:
            found.append(f"Feedback #{value.pk}")
        elif isinstance(value, Enrollment) and value.employee_id != reader_employee_id and "not_with" in getattr(value, "_prefetched_objects_cache", {}):
            found.append(f"the not-with list of enrollment #{value.pk}")
        stack.extend((child, depth + 1) for child in _children(value))
    return found


# --- Pages ------------------------------------------------------------------------------------------


def extra_pages(w: World) -> list[str]:
    """Pages the matrix's kwargs do not reach: a proposed run whose inputs hold a "not with"
    list, the other program's HR pages and export, a meeting's log form, searches."""
    run = {"slug": w.matching_program.slug, "run_id": w.proposed_run.pk}
    return [
        reverse("pairing_home", kwargs={"slug": w.matching_program.slug}),
        reverse("match_run_review", kwargs=run),
        reverse("match_run_progress", kwargs=run),
        reverse("match_run_alternatives", kwargs={**run, "enrollment_id": w.pool_mentee.pk}),
        reverse("pairs_list", kwargs={"slug": w.matching_program.slug}),
        reverse("program_detail", args=[w.matching_program.pk]),
        reverse("program_review", args=[w.matching_program.pk]),
        reverse("program_export", args=[w.matching_program.pk]),
        reverse("program_dashboard", args=[w.matching_program.pk]),
        reverse("employee_detail", args=[w.pool_mentee.employee_id]),
        reverse("employee_detail", args=[w.mentee_enrollment.employee_id]),
        reverse("session_log_create", args=[w.pair_a.pk]) + f"?meeting={w.past_meeting.pk}",
        reverse("directory") + "?q=Qzsec",
        reverse("audit_log") + "?object_type=pairing.matchrun",
        reverse("program_review", args=[w.program.pk]) + "?status=approved",
    ]


def test_pages_exports_and_downloads_show_markers_to_their_author_only(world, every_log_record):
    clients = world.clients()
    leaks, requests = [], 0

    def check(role, label, outcome):
        nonlocal requests
        requests += 1
        if outcome.kind == "error":
            leaks.append(f"{label} as {role}: server error {outcome.body[:200]}")
        for text in found_in(outcome.body, hidden_from(role)):
            leaks.append(f"{label} as {role} shows {text!r}")
        for context in outcome.context or []:
            for what in confidential_objects_in(context, getattr(world.employee(role), "pk", None)):
                leaks.append(f"{label} as {role} loads {what}")

    # Refusals were searched for every marker by the authorization matrix; here, every page a
    # role does get, with every method the view serves.
    for pattern in matrix.all_patterns():
        rule = url_rules.URLS.get(pattern.key)
        if url_rules.category_of(pattern.route) is not None or rule is None:
            continue
        url = matrix.url_for(pattern, world)
        for role in ROLES:
            for method in rule.methods:
                if rule.expected(role, method) == ("ok",):
                    check(role, f"{method} {url}", matrix.request(clients[role], method, url, rollback=True, keep_context=True))
    for url in extra_pages(world):
        for role in ROLES:
            check(role, f"GET {url}", matrix.request(clients[role], "GET", url, rollback=True, keep_context=True))

    # Each person's data download (a ZIP of JSON): their own markers at most.
    for role in ROLES[1:]:
        response = clients[role].post(reverse("my_data"))
        requests += 1
        assert response.status_code == 200 and response["Content-Type"] == "application/zip", role
        with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content)) as archive:
            text = "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
        leaks += [f"the data download of {role} holds {t!r}" for t in found_in(text, hidden_from(role))]
        if role in ("mentor_a", "mentee_a"):
            own = "qzsec-mentor-private-note-4471" if role == "mentor_a" else "qzsec-mentee-private-note-9035"
            assert own in text, f"{role}'s download lacks their own private note: the check above means nothing"

    # HR's download of a person's data, for them: never what HR may not see, and not even what
    # the pair wrote (HR's pair page shows how much they wrote, never what).
    for role in ("mentor_a", "mentee_a", "other", "loner"):
        response = clients["hr"].post(reverse("employee_export", args=[world.employee(role).pk]))
        requests += 1
        assert response.status_code == 200 and response["Content-Type"] == "application/zip", role
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            text = "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
        leaks += [f"HR's download of {role}'s data holds {t!r}" for t in found_in(text, [*hidden_from("hr"), *PAIR_TEXT])]
        if role == "mentor_a":
            assert "qzsec-concern-text-5126" in text, "HR's download of the mentor's data lacks the concern raised to HR: the check above means nothing"

    # The checks can fail: each author does see their own marker.
    page = matrix.request(clients["mentor_a"], "GET", reverse("pair_detail", args=[world.pair_a.pk]), rollback=True).body
    assert "qzsec-mentor-private-note-4471" in page and "Pulse answered" in page and "qzsec-shared-notes-3307" in page
    page = matrix.request(clients["mentee_a"], "GET", reverse("pair_detail", args=[world.pair_a.pk]), rollback=True).body
    assert "qzsec-mentee-private-note-9035" in page
    page = matrix.request(clients["hr"], "GET", reverse("hr_care"), rollback=True).body
    assert "qzsec-concern-text-5126" in page
    assert requests > 250
    assert not leaks, "\n".join(leaks)
    assert_no_marker_in_logs(every_log_record)


def test_the_admin_shows_no_confidential_field_even_to_a_superuser(world, every_log_record):
    superuser = User.objects.create_superuser(email="root@acme.example", password="x")
    client = Client()
    login_with_mfa(client, superuser)  # the admin needs the second factor too
    leaks, pages = [], 0
    # Besides the first rows of every model: the rows that hold or point at a marker.
    holders = {
        Enrollment: [world.mentor_enrollment, world.mentee_enrollment, world.pool_mentee],
        Employee: [world.mentor_enrollment.employee, world.mentee_enrollment.employee, world.pool_mentee.employee, *Employee.objects.filter(last_name__startswith="Qzsecnotwith")],
        Concern: [world.concern],
        MatchRun: [world.proposed_run, world.match_run],
        Pair: [world.pair_a],
        SessionLog: [world.log],
        PulseAlert: [world.alert],
    }
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        pks = [*model._base_manager.order_by("pk").values_list("pk", flat=True)[:8], *(row.pk for row in holders.get(model, ()))]
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        urls += [reverse("admin:{}_{}_change".format(*info), args=[pk]) for pk in dict.fromkeys(pks)]
        # The people on "not with" lists are employees: their own directory rows show their
        # names. What must not show is the list, on an enrollment's pages (or anywhere else).
        markers = [m for m in MARKERS if not (model is Employee and m.home == "mentoring.Employee")]
        for url in urls:
            response = client.get(url)
            pages += 1
            assert response.status_code == 200, url
            leaks += [f"{url} shows {text!r}" for text in found_in(response.content.decode(), markers)]
    assert pages > 100
    # Rows that hold a marker are not even registered, or their field is left out.
    for model in (PrivateNote, Feedback, SafetyPulse):
        assert model not in admin.site._registry, f"{model.__name__} is confidential: keep it out of the admin"
    assert not leaks, "\n".join(leaks)
    assert_no_marker_in_logs(every_log_record)


def email_texts() -> list[tuple[str, str]]:
    """(label, text) for every email: as written to the outbox table and as delivered."""
    out = []
    for row in OutboxMessage.objects.all():
        parts = [row.subject, row.body_text, *(a["content"] for a in row.alternatives)]
        parts += [base64.b64decode(a["content_b64"]).decode("utf-8", "replace") for a in row.attachments]
        out.append((f"outbox #{row.pk} {row.subject!r} to {row.to}", "\n".join(parts)))
    for message in mail.outbox:
        parts = [message.subject, message.body, *(str(content) for content, _type in getattr(message, "alternatives", []))]
        parts += [content.decode() if isinstance(content, bytes) else str(content) for _name, content, _type in message.attachments]
        out.append((f"delivered {message.subject!r} to {message.to}", "\n".join(parts)))
    return out


def test_no_email_carries_a_confidential_field(world, every_log_record):
    texts = email_texts()
    assert len(texts) > 15
    # Mail about the pair does travel (the check means something): the shared agenda does.
    assert any("Shared agenda" in text for _label, text in texts)
    # HR's notices of the concern and the pulse alert are among them (sessions_log.services.hr_notify_pair_care).
    assert any("raised a confidential concern" in text for _label, text in texts) and any("safety pulse" in text for _label, text in texts)
    leaks = [f"{label} holds {t!r}" for label, text in texts for t in found_in(text, MARKERS)]
    assert not leaks, "\n".join(leaks)
    assert_no_marker_in_logs(every_log_record)


def test_each_marker_is_stored_in_its_own_table_only(world):
    """Not copied into the audit log, a reminder's context, an outbox row or a run's inputs."""
    from django.apps import apps

    leaks, homes = [], set()
    for model in apps.get_models(include_auto_created=True):
        text = repr(list(model._base_manager.values_list())).lower()
        for marker in MARKERS:
            if marker.text.lower() not in text:
                continue
            if model._meta.db_table == marker.home_table:
                homes.add(marker.text)
            else:
                leaks.append(f"{marker.field} ({marker.text!r}) is copied into {model._meta.db_table}")
    assert not leaks, "\n".join(leaks)
    assert homes == {m.text for m in MARKERS if m.home}, "a planted marker is missing from its own table: the search means nothing"


def assert_no_marker_in_logs(caplog) -> None:
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "no log record was captured: the log check would mean nothing"
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    text = "\n".join(formatter.format(r) for r in records)
    leaks = found_in(text, [*MARKERS, *PAIR_TEXT])
    assert not leaks, f"log output holds {leaks}"

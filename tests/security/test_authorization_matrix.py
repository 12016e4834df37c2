"""Every URL of the site, as every role, with GET and POST.

The URL patterns come from the URL configuration itself, so a view nobody declared in
tests/security/url_rules.py fails the suite. For each (URL, role, method) the table says what
must happen: the people allowed get the page; an outsider to an object gets 404 (not 403, not
the data); a wrong role gets the product's 403; anonymous people go to the login page. A
refused request shows none of the world's secrets and changes no row of any table; every page
a signed-in person gets is marked Cache-Control: no-store.
Allowed requests run inside a rolled-back savepoint, so one world serves every request.
"""

import logging
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from tests.security import matrix, url_rules
from tests.security.world import ROLES


def test_every_url_pattern_is_declared_in_the_matrix():
    patterns = matrix.all_patterns()
    missing = [p for p in patterns if p.key not in url_rules.URLS and url_rules.category_of(p.route) is None]
    keys = {p.key for p in patterns}
    stale = sorted(set(url_rules.URLS) - keys)
    message = "\n".join(
        [
            *(
                f"URL pattern {p.key!r} (route {p.route!r}) is not in the authorization matrix: add one line to URLS in "
                f"tests/security/url_rules.py saying who may use it, e.g.  {p.key!r}: hr(lambda w: {{...kwargs from the world...}}, GET_POST),"
                for p in missing
            ),
            *(f"URLS in tests/security/url_rules.py names {key!r}, which is no longer a URL pattern: remove or rename it." for key in stale),
        ]
    )
    assert not missing and not stale, message
    # The third-party families are enumerated too, not skipped: each has patterns to request.
    for name, rule in url_rules.CATEGORY_RULES.items():
        assert any(p.route.startswith(rule.prefix) for p in patterns), f"no URL under {rule.prefix} ({name}) any more: update CATEGORY_RULES"


@dataclass
class Tally:
    tried: int = 0
    leaks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


# The admin does not tell non-staff people apart by role: anonymous, a participant (HR admins
# are participants too) and an executive (who is not) stand for everyone.
ADMIN_ROLES = ("anonymous", "mentor_a", "executive")


def _admin_expected(pattern, role: str, method: str) -> str:
    if pattern.key == "admin:login":
        return "login" if role == "anonymous" else "403"
    if pattern.key == "admin:logout":
        return "ok"  # non-staff are sent to the admin index (and so to its login), not signed out
    return "admin_login"


def _refused(tally: Tally, label: str, outcome, written_before: int, world, role: str, baseline, *, outsider: bool = True) -> None:
    """A refusal changes no row (sessions aside) and shows an outsider none of the world's secrets."""
    found = matrix.secrets_in(outcome.body, matrix.world_secrets(world, role)) if outsider else []
    if found:
        tally.leaks.append(f"{label}: the refusal shows {found}")
    if written_before < 0 or matrix.rows_written() != written_before:
        changed = matrix.changed_tables(baseline, matrix.fingerprint())
        if changed:
            tally.leaks.append(f"{label}: a refused request changed {changed}")


def _try_app_url(tally, pattern, url, world, clients, baseline):
    rule = url_rules.URLS[pattern.key]
    for role in ROLES:
        for method in ("GET", "POST"):
            expected = rule.expected(role, method)
            written = matrix.rows_written()
            outcome = matrix.request(clients[role], method, url, rollback=expected == ("ok",))
            tally.tried += 1
            label = f"{method} {url} ({pattern.key}) as {role}: expected {'/'.join(expected)}, got {outcome.status} {outcome.kind} {outcome.location}".rstrip()
            if outcome.kind not in expected:
                if outcome.kind == "ok" and expected != ("405",):
                    tally.leaks.append(label)
                elif "404" in expected and outcome.kind == "403":
                    tally.leaks.append(label + " (a 403 tells an outsider the object exists)")
                else:
                    tally.failures.append(label + (f": {outcome.body[:300]}" if outcome.kind == "error" else ""))
            if outcome.kind == "ok" and role != "anonymous" and "no-store" not in outcome.cache_control:
                tally.failures.append(f"{label}: a signed-in page a browser may keep (Cache-Control: {outcome.cache_control!r})")
            if expected != ("ok",):
                _refused(tally, label, outcome, written, world, role, baseline, outsider=role not in rule.allowed_roles())


def _try_category_url(tally, pattern, url, category, world, clients, baseline):
    roles = ADMIN_ROLES if category == "admin" else ROLES
    for role in roles:
        for method in ("GET", "POST"):
            if category == "admin":
                expected = _admin_expected(pattern, role, method)
            elif method == "GET" or role == "anonymous":
                expected = "any"  # allauth: anyone may open its pages (see CATEGORY_RULES)
            else:
                continue
            written = matrix.rows_written()
            outcome = matrix.request(clients[role], method, url, rollback=False)
            tally.tried += 1
            label = f"{method} {url} ({pattern.key}) as {role}: expected {expected}, got {outcome.status} {outcome.kind} {outcome.location}".rstrip()
            wrong = outcome.kind == "error" or (expected != "any" and outcome.kind != expected)
            if pattern.key == "admin:logout" and outcome.location.split("?")[0] != reverse("admin:index"):
                wrong = True
            if wrong:
                (tally.leaks if outcome.kind == "ok" and expected != "ok" else tally.failures).append(label + (f": {outcome.body[:300]}" if outcome.kind == "error" else ""))
            _refused(tally, label, outcome, written, world, role, baseline)


@pytest.fixture
def quiet_refusals():
    """Thousands of expected 403/404s: Django's warning (with a traceback) for each is noise.
    Server errors are still logged."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


def test_every_url_as_every_role(world, quiet_refusals):
    clients = world.clients()
    baseline = matrix.fingerprint()
    tally = Tally()
    for pattern in matrix.all_patterns():
        category = url_rules.category_of(pattern.route)
        if category is None and pattern.key not in url_rules.URLS:
            continue  # reported by test_every_url_pattern_is_declared_in_the_matrix
        url = matrix.url_for(pattern, world)
        if category is None:
            _try_app_url(tally, pattern, url, world, clients, baseline)
        else:
            _try_category_url(tally, pattern, url, category, world, clients, baseline)

    # Whatever slipped between the per-request checks: the world is exactly as built.
    changed = matrix.changed_tables(baseline, matrix.fingerprint())
    if changed:
        tally.leaks.append(f"after all requests, these tables differ from the world as built: {changed}")
    summary = f"{tally.tried} requests tried, {len(tally.leaks)} leaks"
    if tally.failures:
        summary += f", {len(tally.failures)} other mismatches"
    matrix.REPORT.append(summary)
    print(summary)
    assert not tally.leaks and not tally.failures, "\n".join([summary, *tally.leaks, *tally.failures])


# URL kwargs that mix an object the person may open with an id from elsewhere: pair A's URL
# with pair B's meeting, program A's slug with another program's match run. (url name, role
# allowed on the URL, kwargs) -> must be 404, as if the id did not exist.
def mixed_ids(w):
    pa, b, slug = w.pair_a.pk, w.b, w.program.slug
    return [
        ("meeting_reschedule", "mentor_a", {"pk": pa, "meeting_id": b["meeting"].pk}),
        ("meeting_cancel", "mentor_a", {"pk": pa, "meeting_id": b["meeting"].pk}),
        ("meeting_ics", "mentee_a", {"pk": pa, "meeting_id": b["meeting"].pk}),
        ("meeting_details", "mentor_a", {"pk": pa, "meeting_id": b["meeting"].pk}),
        ("session_log_edit", "mentor_a", {"pk": pa, "log_id": b["log"].pk}),
        ("private_note_edit", "mentee_a", {"pk": pa, "log_id": b["log"].pk}),
        ("pulse_submit", "mentor_a", {"pk": pa, "log_id": b["log"].pk}),
        ("feedback_submit", "mentee_a", {"pk": pa, "log_id": b["log"].pk}),
        ("goal_progress", "mentee_a", {"pk": pa, "goal_id": b["goal"].pk}),
        ("action_set_done", "mentee_a", {"pk": pa, "action_id": b["action"].pk}),
        ("action_edit", "mentee_a", {"pk": pa, "action_id": b["action"].pk}),
        ("insight_edit", "mentor_a", {"pk": pa, "insight_id": b["insight"].pk}),
        ("session_log_create", "mentor_a", {"pk": pa, "?": f"meeting={b['past_meeting'].pk}"}),
        ("resource_mark", "mentee_a", {"pk": w.mentee_enrollment.pk, "resource_pk": b["resource"].pk}),
        ("resource_remove", "hr", {"pk": w.program.pk, "resource_pk": b["resource"].pk}),
        ("enrollment_reopen", "hr", {"pk": w.program.pk, "enrollment_pk": b["enrollment"].pk}),
        ("program_dashboard_progress", "hr", {"pk": w.program.pk, "run_id": b["snapshot_run"].pk}),
        ("match_run_review", "hr", {"slug": slug, "run_id": b["run"].pk}),
        ("match_run_progress", "hr", {"slug": slug, "run_id": b["run"].pk}),
        ("match_run_publish", "hr", {"slug": slug, "run_id": b["run"].pk}),
        ("proposal_pair_manually", "hr", {"slug": slug, "run_id": b["run"].pk}),
        ("proposal_swap", "hr", {"slug": slug, "run_id": b["run"].pk}),
        ("match_run_alternatives", "hr", {"slug": slug, "run_id": w.match_run.pk, "enrollment_id": b["enrollment"].pk}),
        ("proposal_unpair", "hr", {"slug": slug, "run_id": w.match_run.pk, "pair_id": b["pair"].pk}),
        ("override_remove", "hr", {"slug": slug, "override_id": b["override"].pk}),
        ("pair_end", "hr", {"slug": slug, "pair_id": b["pair"].pk}),
    ]


def test_an_id_from_another_pair_or_program_is_not_found(world, quiet_refusals):
    clients = world.clients()
    baseline = matrix.fingerprint()
    problems = []
    for name, role, kwargs in mixed_ids(world):
        query = kwargs.pop("?", "")
        url = reverse(name, kwargs=kwargs) + (f"?{query}" if query else "")
        for method in ("GET", "POST"):
            outcome = matrix.request(clients[role], method, url, rollback=False)
            served = method in url_rules.URLS[name].methods
            if outcome.kind not in (("404",) if served else ("404", "405")):
                problems.append(f"{method} {url} as {role}: got {outcome.status} {outcome.kind} {outcome.location}")
    changed = matrix.changed_tables(baseline, matrix.fingerprint())
    assert not problems and not changed, "\n".join([*problems, f"tables changed: {changed}" if changed else ""])

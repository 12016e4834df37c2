"""Who may do what on every URL of the site: the table the authorization matrix checks.

Adding a view? Add one line to URLS below, keyed by the URL name, e.g.

    "audit_log": hr(),
    "pair_thing": pair(lambda w: {"pk": w.pair_a.pk, "thing_id": w.thing.pk}, methods=GET_POST),

Audiences (who gets through; everyone else gets the refusal shown):
    public       everyone, signed in or not (secret-token URLs, health check)
    signed_in    any signed-in person (anonymous: login); `allowed=` narrows it, others 404
    participant  anyone with the participant role: their own pages (executive: 403)
    pair         the mentor and mentee of pair A; any other participant, HR included: 404
    owner        the roles in `allowed` (their own enrollment...); other participants: 404
    hr           HR admins; everyone else: 403
    executive    executives; everyone else: 403
Anonymous people are always sent to the login page (except on public URLs). A role that gets
through but uses a method the view does not serve gets 405 (an outsider 404 or 405).

allauth's pages (accounts/) and the Django admin (admin/) are covered by the CATEGORY_RULES
below, pattern by pattern, so a new allauth or admin URL is tried automatically.
"""

from collections.abc import Callable
from dataclasses import dataclass

from tests.security.world import PARTICIPANTS, ROLES, SIGNED_IN, World

GET = ("GET",)
POST = ("POST",)
GET_POST = ("GET", "POST")


def no_kwargs(world: World) -> dict:
    return {}


@dataclass(frozen=True)
class Rule:
    audience: str
    kwargs: Callable[[World], dict] = no_kwargs
    methods: tuple[str, ...] = GET
    allowed: tuple[str, ...] | None = None
    query: str = ""

    def allowed_roles(self) -> frozenset[str]:
        if self.allowed is not None:
            return frozenset(self.allowed)
        return frozenset(
            {
                "public": ROLES,
                "signed_in": SIGNED_IN,
                "participant": PARTICIPANTS,
                "pair": ("mentor_a", "mentee_a"),
                "hr": ("hr",),
                "executive": ("executive",),
            }[self.audience]
        )

    def expected(self, role: str, method: str) -> tuple[str, ...]:
        """The acceptable outcomes, the usual one first: 'ok', '405', '404', '403' or 'login'."""
        if role == "anonymous" and self.audience != "public":
            return ("login",)
        if role in self.allowed_roles():
            return ("ok",) if method in self.methods else ("405",)
        if self.audience in ("hr", "executive", "participant"):
            return ("403",)
        if role == "executive" and self.audience in ("pair", "owner"):
            return ("403",)  # not a participant: the role check refuses before any lookup
        # An outsider learns nothing either way: a method the view never serves is refused
        # (405) whatever the object, some views checking the method before the lookup.
        return ("404",) if method in self.methods else ("404", "405")


def public(kwargs=no_kwargs, methods=GET, **kw) -> Rule:
    return Rule("public", kwargs, methods, **kw)


def signed_in(kwargs=no_kwargs, methods=GET, **kw) -> Rule:
    return Rule("signed_in", kwargs, methods, **kw)


def participant(kwargs=no_kwargs, methods=GET, **kw) -> Rule:
    return Rule("participant", kwargs, methods, **kw)


def pair(kwargs, methods=GET, **kw) -> Rule:
    return Rule("pair", kwargs, methods, **kw)


def owner(kwargs, methods=GET, *, allowed, **kw) -> Rule:
    return Rule("owner", kwargs, methods, allowed=allowed, **kw)


def hr(kwargs=no_kwargs, methods=GET, **kw) -> Rule:
    return Rule("hr", kwargs, methods, **kw)


def executive(kwargs=no_kwargs, methods=GET, **kw) -> Rule:
    return Rule("executive", kwargs, methods, **kw)


# --- kwargs builders --------------------------------------------------------------------------

def program_pk(w): return {"pk": w.program.pk}  # noqa: E704
def program_slug(w): return {"slug": w.program.slug}  # noqa: E704
def run(w): return {"slug": w.program.slug, "run_id": w.match_run.pk}  # noqa: E704
def pair_a(w): return {"pk": w.pair_a.pk}  # noqa: E704
def log(w): return {"pk": w.pair_a.pk, "log_id": w.log.pk}  # noqa: E704
def meeting(w): return {"pk": w.pair_a.pk, "meeting_id": w.meeting.pk}  # noqa: E704


URLS: dict[str, Rule] = {
    # mentoring: home, directory, roster, health, privacy
    "home": signed_in(),
    "participant_home": participant(),
    "hr_home": hr(),
    "executive_home": executive(allowed=("executive", "hr")),  # HR reads the sponsors' dashboard too
    "directory": hr(),
    "employee_detail": hr(lambda w: {"pk": w.mentor_enrollment.employee_id}),
    "employee_role_change": hr(lambda w: {"pk": w.mentor_enrollment.employee_id}, POST),
    "employee_erase": hr(lambda w: {"pk": w.mentor_enrollment.employee_id}, GET_POST),
    "employee_export": hr(lambda w: {"pk": w.mentor_enrollment.employee_id}, POST),
    "audit_log": hr(),
    "my_data": signed_in(methods=GET_POST),
    "time_zone_settings": signed_in(methods=GET_POST),
    "roster_import": hr(methods=GET_POST),
    "roster_import_detail": hr(lambda w: {"pk": w.roster_import.pk}),
    "roster_import_apply": hr(lambda w: {"pk": w.roster_import.pk}, POST),
    "healthz": public(),
    # reminders and the outbox
    "reminder_unsubscribe": public(lambda w: {"token": w.unsubscribe}, GET_POST),
    "reminder_preferences": participant(methods=GET_POST),
    "hr_reminders": hr(),
    "hr_reminders_retry": hr(methods=POST),
    # HR pair care
    "hr_care": hr(),
    "hr_alert_resolve": hr(lambda w: {"pk": w.alert.pk}, POST),
    "hr_concern_status": hr(lambda w: {"pk": w.concern.pk}, POST),
    # programs: HR console
    "topic_list": hr(),
    "topic_create": hr(methods=GET_POST),
    "topic_edit": hr(lambda w: {"pk": w.topic.pk}, GET_POST),
    "program_list": hr(),
    "program_create": hr(methods=GET_POST),
    "program_detail": hr(program_pk),
    "program_edit": hr(program_pk, GET_POST),
    "program_clone": hr(program_pk, GET_POST),
    "program_transition": hr(program_pk, POST),
    "resource_add": hr(program_pk, POST),
    "resource_remove": hr(lambda w: {"pk": w.program.pk, "resource_pk": w.resource.pk}, POST),
    "program_invite": hr(program_pk, GET_POST),
    "program_review": hr(program_pk),
    "program_review_decide": hr(program_pk, POST),
    "enrollment_reopen": hr(lambda w: {"pk": w.program.pk, "enrollment_pk": w.mentee_enrollment.pk}, POST),
    "program_dashboard": hr(program_pk),
    "program_dashboard_refresh": hr(program_pk, POST),
    "program_dashboard_progress": hr(lambda w: {"pk": w.program.pk, "run_id": w.snapshot_run.pk}),
    "program_export": hr(program_pk),
    # programs: participants
    # The file is for mentees of its program (and HR); nobody else learns it exists.
    "resource_download": signed_in(lambda w: {"pk": w.resource.pk}, allowed=("mentee_a", "hr")),
    "program_apply": participant(lambda w: {"slug": w.open_program.slug}, GET_POST),
    "enrollment_withdraw": owner(lambda w: {"pk": w.mentor_enrollment.pk}, GET_POST, allowed=("mentor_a",)),
    "enrollment_availability": owner(lambda w: {"pk": w.mentor_enrollment.pk}, GET_POST, allowed=("mentor_a",)),
    "resource_mark": owner(lambda w: {"pk": w.mentee_enrollment.pk, "resource_pk": w.resource.pk}, POST, allowed=("mentee_a",)),
    # pairing: HR console
    "pairing_home": hr(program_slug),
    "match_run_start": hr(program_slug, POST),
    "override_set": hr(program_slug, POST),
    "override_remove": hr(lambda w: {"slug": w.program.slug, "override_id": w.override.pk}, POST),
    "match_run_review": hr(run),
    "match_run_progress": hr(run),
    "match_run_alternatives": hr(lambda w: {**run(w), "enrollment_id": w.mentee_enrollment.pk}),
    "proposal_pair_manually": hr(run, POST),
    "proposal_swap": hr(run, POST),
    "proposal_unpair": hr(lambda w: {**run(w), "pair_id": w.pair_a.pk}, POST),
    "match_run_publish": hr(run, POST),
    "pairs_list": hr(program_slug),
    "pair_end": hr(lambda w: {"slug": w.program.slug, "pair_id": w.pair_a.pk}, POST),
    "hr_pair": hr(lambda w: {"slug": w.program.slug, "pair_id": w.pair_a.pk}),
    "hr_pair_pause": hr(lambda w: {"slug": w.program.slug, "pair_id": w.pair_a.pk}, POST),
    "hr_pair_resume": hr(lambda w: {"slug": w.program.slug, "pair_id": w.pair_a.pk}, POST),
    "hr_pair_check_in": hr(lambda w: {"slug": w.program.slug, "pair_id": w.pair_a.pk}, POST),
    # sessions_log: one pair's pages
    "pair_detail": pair(pair_a),
    "agreement_edit": pair(pair_a, GET_POST),
    "agreement_acknowledge": pair(pair_a, GET_POST),
    "goal_progress": pair(lambda w: {"pk": w.pair_a.pk, "goal_id": w.goal.pk}, GET_POST),
    "meeting_schedule": pair(pair_a, GET_POST),
    "meeting_reschedule": pair(meeting, GET_POST),
    "meeting_cancel": pair(meeting, GET_POST),
    "meeting_ics": pair(meeting),
    "meeting_details": pair(meeting, GET_POST),
    "session_log_create": pair(pair_a, GET_POST),
    "session_log_edit": pair(log, GET_POST),
    "private_note_edit": pair(log, GET_POST),
    "pulse_submit": pair(log, GET_POST, allowed=("mentor_a",)),  # the mentor's alone
    "feedback_submit": pair(log, GET_POST),
    "concern_raise": pair(pair_a, GET_POST, allowed=("mentor_a",)),  # mentees talk to HR directly
    "insight_add": pair(pair_a, GET_POST),
    "action_commit": pair(pair_a, GET_POST),
    "action_set_done": pair(lambda w: {"pk": w.pair_a.pk, "action_id": w.action.pk}, GET_POST),
    "insight_edit": pair(lambda w: {"pk": w.pair_a.pk, "insight_id": w.insight.pk}, GET_POST),
    "action_edit": pair(lambda w: {"pk": w.pair_a.pk, "action_id": w.action.pk}, GET_POST),
    "pair_close": pair(pair_a, GET_POST),
    "reflection_save": pair(pair_a, GET_POST),
    # sessions_log: the signed-in participant's own pages
    "my_pairs": participant(),
    "survey_list": participant(),
    "survey_answer": owner(lambda w: {"enrollment_id": w.mentor_enrollment.pk, "kind": "baseline"}, GET_POST, allowed=("mentor_a",)),
    "calendar_settings": participant(),
    "calendar_revoke": participant(methods=POST),
    # No login: the secret token is the key (calendar apps fetch it on their own).
    "calendar_feed": public(lambda w: {"token": w.feed.token}),
}


@dataclass(frozen=True)
class CategoryRule:
    """A whole family of third-party URLs, each pattern still requested one by one."""

    prefix: str
    why: str


CATEGORY_RULES = {
    "accounts": CategoryRule(
        "accounts/",
        "allauth's own pages: every role may open them; none may answer with a server error or "
        "show anything from the world. POSTs are tried anonymously only: a signed-in person's "
        "POST there acts on their own login (signs them out, changes their password or MFA).",
    ),
    "admin": CategoryRule(
        "admin/",
        "Django admin: nobody in the matrix is staff, so every GET and POST is sent to the admin "
        "login and shows no data (signed-in people are not signed out by it either).",
    ),
}


def category_of(route: str) -> str | None:
    for name, rule in CATEGORY_RULES.items():
        if route.startswith(rule.prefix):
            return name
    return None

import datetime
import logging

from celery import shared_task
from django.db.models import Exists, OuterRef
from django.utils import timezone

from mentoring.queue import nudge
from programs.models import Program

from . import services
from .models import MatchRun, Pair

# The sweep restarts the ending of a completed program's pairs after this long without one.
ENDING_QUIET = datetime.timedelta(minutes=2)

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=1500, time_limit=1800)
def execute_match_run(run_id: int) -> None:
    """Solve one queued run. Safe to run twice: only the first claims it."""
    services.match_run_execute(run_id=run_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=1500, time_limit=1800)
def announce_match_run(run_id: int) -> None:
    """Email both sides of every pair of a large published run. Safe to run twice."""
    services.match_run_announce(run_id=run_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=1500, time_limit=1800)
def end_pairs_of_completed_program(program_id: int) -> None:
    """End the live pairs of a large program that completed. Safe to run twice."""
    services.pairs_end_for_completed_program(program_id=program_id)


@shared_task(acks_late=True, ignore_result=True)
def resume_match_runs() -> int:
    """Beat: start runs whose nudge was lost (broker down) and requeue runs whose worker died;
    tell the people of published runs nobody has told yet (the same: a lost nudge, a worker
    killed mid-way, whose transaction rolled back); end the pairs left live in completed
    programs (the same again)."""
    now = timezone.now()
    MatchRun.objects.filter(status=MatchRun.Status.RUNNING, started_at__lt=now - datetime.timedelta(minutes=35)).update(
        status=MatchRun.Status.QUEUED, progress=0, progress_note="Restarted after the worker stopped"
    )
    stale = list(MatchRun.objects.filter(status=MatchRun.Status.QUEUED, created_at__lt=now - datetime.timedelta(seconds=30)).values_list("pk", flat=True))
    for run_id in stale:
        services.match_run_execute(run_id=run_id)
    untold = list(
        MatchRun.objects.filter(status=MatchRun.Status.PUBLISHED, announced_at__isnull=True, published_at__lt=now - datetime.timedelta(seconds=30)).values_list("pk", flat=True)
    )
    told = 0
    for run_id in untold:
        try:
            services.match_run_announce(run_id=run_id)
        except Exception:  # noqa: BLE001 - one run that cannot be told must not keep the others waiting
            logger.exception("Could not email the people of published match run %s; the next sweep tries again.", run_id)
        else:
            told += 1
    # A completed program whose pairs are still live, and no ending for a while: the nudge
    # was lost or the worker died. Queued, not run here: it can take minutes.
    quiet = now - ENDING_QUIET
    completed = list(
        Program.objects.filter(status=Program.Status.COMPLETED, pairs__status__in=services.LIVE, transitions__to_status=Program.Status.COMPLETED, transitions__at__lt=quiet)
        .exclude(Exists(Pair.objects.filter(program=OuterRef("pk"), end_reason=Pair.EndReason.COMPLETED, ended_at__gte=quiet)))
        .values_list("pk", flat=True).distinct()
    )
    for program_id in completed:
        nudge(end_pairs_of_completed_program, program_id)
    return len(stale) + told + len(completed)

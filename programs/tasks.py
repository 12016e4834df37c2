from celery import shared_task
from django.db.models import Exists, OuterRef
from django.utils import timezone

from . import snapshots
from .models import MetricSnapshot, Program, SnapshotRun


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=1500, time_limit=1800)
def snapshot_all_programs() -> int:
    """Nightly: today's snapshot for every program that has started and is not archived.
    Safe to run twice: a day's snapshot is replaced, not duplicated."""
    count = 0
    for program in Program.objects.filter(status__in=[Program.Status.MATCHING, Program.Status.ACTIVE, Program.Status.COMPLETED]):
        snapshots.snapshot_save(program=program)
        count += 1
    # An archived program is final, but its last day's figures may be missing: the snapshot
    # queued when it completed or was archived never ran (broker down, or folded into a refresh
    # already under way). Catch up once; afterwards it is left alone.
    final_day = MetricSnapshot.objects.filter(program=OuterRef("pk"), as_of=OuterRef("ends_on"))
    for program in Program.objects.filter(status=Program.Status.ARCHIVED, ends_on__lte=timezone.localdate()).exclude(Exists(final_day)):
        snapshots.snapshot_save(program=program)
        count += 1
    return count


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=600, time_limit=660)
def run_snapshot(run_id: int) -> None:
    """HR's on-demand refresh. Only the first worker to claim the run computes it."""
    if not SnapshotRun.objects.filter(pk=run_id, status=SnapshotRun.Status.QUEUED).update(status=SnapshotRun.Status.RUNNING, progress=20):
        return
    run = SnapshotRun.objects.select_related("program").get(pk=run_id)
    try:
        snapshots.snapshot_save(program=run.program)
    except Exception as exc:
        SnapshotRun.objects.filter(pk=run_id).update(status=SnapshotRun.Status.FAILED, error=type(exc).__name__, finished_at=timezone.now(), progress=100)
        raise
    SnapshotRun.objects.filter(pk=run_id).update(status=SnapshotRun.Status.DONE, finished_at=timezone.now(), progress=100)

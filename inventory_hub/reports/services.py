"""Report exports: create a job, write its file row by row with progress, run and e-mail schedules."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from inventory_hub.reports import periods, selectors
from inventory_hub.reports.models import ReportJob, ReportSchedule
from inventory_hub.reports.writers import row_writer_open

logger = logging.getLogger(__name__)

# Sent by name: services must not import the tasks module that imports them.
REPORT_JOB_TASK_NAME = "inventory_hub.reports.tasks.report_job_run_task"
MIME_TYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def reports_dir() -> Path:
    path = Path(settings.REPORTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def report_job_path(job: ReportJob) -> Path | None:
    """The finished file of a done job, or None (never a partial file: those have no name here)."""
    if job.status != ReportJob.Status.DONE or not job.file_name:
        return None
    path = reports_dir() / job.file_name
    return path if path.is_file() else None


def report_job_create(
    *,
    user_id: int | None,
    kind: str,
    format: str,
    date_from: dt.date,
    date_to: dt.date,
    location_ids: Iterable[int],
    schedule_id: int | None = None,
    enqueue: bool = True,
    now: dt.datetime | None = None,
) -> ReportJob:
    """Queue an export; a worker writes the file (enqueued once the job row is committed)."""
    with transaction.atomic():
        job = ReportJob.objects.create(
            requested_by_id=user_id,
            schedule_id=schedule_id,
            kind=kind,
            format=format,
            date_from=date_from,
            date_to=date_to,
            location_ids=sorted(set(location_ids)),
            created_at=now or timezone.now(),
        )
        if enqueue:
            transaction.on_commit(lambda: current_app.send_task(REPORT_JOB_TASK_NAME, args=[job.pk]))
    return job


def _claim(job_id: int, now: dt.datetime) -> bool:
    # Queued, or running for longer than a task may live: its worker died, so this re-run takes over.
    stale = now - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    claimable = Q(status=ReportJob.Status.QUEUED) | Q(status=ReportJob.Status.RUNNING, started_at__lt=stale)
    return (
        ReportJob.objects.filter(claimable, pk=job_id).update(
            status=ReportJob.Status.RUNNING, started_at=now, rows_written=0, error=""
        )
        == 1
    )


def report_job_run(*, job_id: int, now: dt.datetime | None = None) -> ReportJob:
    """Write a queued job's file, streaming rows from the database; mark it done or failed.

    Rows go straight from a chunked cursor to the writer, so memory does not grow with the
    report. The file is written under a temporary name and renamed only when complete: a job
    that fails midway leaves no file behind and is never offered for download.
    """
    now = now or timezone.now()
    if not _claim(job_id, now):
        return ReportJob.objects.get(pk=job_id)  # done, failed, or another worker has it
    job = ReportJob.objects.get(pk=job_id)
    final = reports_dir() / f"report-{job.pk}-{job.kind}-{job.date_from:%Y%m%d}-{job.date_to:%Y%m%d}.{job.extension}"
    partial = final.with_name(final.name + ".part")
    written = 0
    try:
        report = selectors.report_get(
            kind=job.kind, date_from=job.date_from, date_to=job.date_to, location_ids=job.location_ids, now=now
        )
        ReportJob.objects.filter(pk=job.pk).update(rows_total=report.count())
        writer = row_writer_open(
            format=job.format, path=partial, header=report.header, title=report.title, widths=report.widths
        )
        try:
            every = settings.REPORTS_PROGRESS_EVERY
            for row in report.rows():
                writer.write(row)
                written += 1
                if written % every == 0:
                    ReportJob.objects.filter(pk=job.pk).update(rows_written=written)
        except BaseException:
            writer.discard()  # never finish (zip) a workbook of half the rows
            raise
        writer.close()
        os.replace(partial, final)
    except Exception as error:
        logger.exception("Report job %s failed after %s rows", job.pk, written)
        partial.unlink(missing_ok=True)
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportJob.Status.FAILED,
            rows_written=written,
            error=f"Failed after {written:,} rows: {type(error).__name__}: {error}",
            finished_at=timezone.now(),
        )
    else:
        ReportJob.objects.filter(pk=job.pk).update(
            status=ReportJob.Status.DONE,
            rows_written=written,
            file_name=final.name,
            file_size=final.stat().st_size,
            finished_at=timezone.now(),
        )
    return ReportJob.objects.get(pk=job.pk)


def report_files_purge(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Delete the files (and jobs) of exports finished longer ago than `older_than`; returns jobs removed."""
    cutoff = (now or timezone.now()) - older_than
    old = ReportJob.objects.filter(finished_at__lt=cutoff)
    for file_name in old.exclude(file_name="").values_list("file_name", flat=True):
        (reports_dir() / file_name).unlink(missing_ok=True)
    deleted, _ = old.delete()
    return deleted


# --- Schedules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSpec:
    kind: str
    format: str
    location_ids: list[int]
    frequency: str
    send_hour: int
    recipients: list[str]


def report_schedule_create(
    *, spec: ScheduleSpec, user_id: int | None, now: dt.datetime | None = None
) -> ReportSchedule:
    """Add a schedule; its first run is at the next send hour (on a Monday when weekly)."""
    with transaction.atomic():
        schedule = ReportSchedule.objects.create(
            kind=spec.kind,
            format=spec.format,
            frequency=spec.frequency,
            send_hour=spec.send_hour,
            recipients="\n".join(spec.recipients),
            created_by_id=user_id,
            next_run_at=periods.schedule_next_run(
                frequency=spec.frequency, send_hour=spec.send_hour, after=now or timezone.now()
            ),
        )
        schedule.locations.set(spec.location_ids)
    return schedule


def report_schedule_delete(*, schedule_id: int) -> bool:
    """Remove a schedule (its past jobs stay); False when it was already gone."""
    deleted, _ = ReportSchedule.objects.filter(pk=schedule_id).delete()
    return deleted > 0


def report_schedules_due_claim(*, now: dt.datetime) -> list[tuple[int, dt.date, dt.date]]:
    """Claim the due schedules: (schedule id, first day, last day) of each run this caller must do.

    Each claim is a compare-and-set on next_run_at, so two beats never run one period twice;
    the period comes from the claimed run time, so a late run still reports the right days.
    """
    claimed: list[tuple[int, dt.date, dt.date]] = []
    due = ReportSchedule.objects.filter(is_active=True, next_run_at__lte=now).values_list(
        "pk", "frequency", "send_hour", "next_run_at"
    )
    for schedule_id, frequency, send_hour, run_at in due:
        following = periods.schedule_next_run(frequency=frequency, send_hour=send_hour, after=max(run_at, now))
        if ReportSchedule.objects.filter(pk=schedule_id, next_run_at=run_at).update(
            next_run_at=following, last_run_at=now
        ):
            claimed.append((schedule_id, *periods.schedule_period(frequency=frequency, run_at=run_at)))
    return claimed


def report_schedule_run(
    *, schedule_id: int, date_from: dt.date, date_to: dt.date, now: dt.datetime | None = None
) -> ReportJob | None:
    """Generate one period's report of a schedule and e-mail it; safe to run twice (one job, one e-mail)."""
    schedule = ReportSchedule.objects.filter(pk=schedule_id).prefetch_related("locations").first()
    if schedule is None:
        return None
    job = ReportJob.objects.filter(schedule_id=schedule_id, date_from=date_from, date_to=date_to).first()
    if job is None:
        job = report_job_create(
            user_id=schedule.created_by_id,
            schedule_id=schedule.pk,
            kind=schedule.kind,
            format=schedule.format,
            date_from=date_from,
            date_to=date_to,
            location_ids=[location.pk for location in schedule.locations.all()],
            enqueue=False,  # run right here: the e-mail needs the file
            now=now,
        )
    job = report_job_run(job_id=job.pk, now=now)
    if job.is_active:
        return job  # a duplicate run of this task is writing it, and e-mails it when done
    report_schedule_email(job=job, schedule=schedule, now=now)
    return ReportJob.objects.get(pk=job.pk)


def report_schedule_email(*, job: ReportJob, schedule: ReportSchedule, now: dt.datetime | None = None) -> bool:
    """E-mail a finished scheduled job to the schedule's recipients, once; False when already sent."""
    if not ReportJob.objects.filter(pk=job.pk, emailed_at__isnull=True).update(emailed_at=now or timezone.now()):
        return False
    locations = ", ".join(sorted(selectors.location_code_map(job.location_ids).values())) or "—"
    period = f"{job.date_from:%Y-%m-%d}" + ("" if job.date_from == job.date_to else f" to {job.date_to:%Y-%m-%d}")
    lines = [f"{job.get_kind_display()} report, {period} (UTC), locations: {locations}.", ""]
    path = report_job_path(job)
    attach = path is not None and path.stat().st_size <= settings.REPORTS_MAX_ATTACHMENT_BYTES
    if job.status == ReportJob.Status.FAILED:
        lines.append(f"The report could not be generated. {job.error}")
    elif attach:
        lines.append(f"{job.rows_written:,} rows, attached as {job.get_format_display()}.")
    else:
        lines.append(
            f"{job.rows_written:,} rows: the file is too large to attach ({job.file_size or 0:,} bytes); "
            "download it from the Reports page of Inventory Hub."
        )
    lines += ["", f"Sent by Inventory Hub for the {schedule.get_frequency_display().lower()} schedule #{schedule.pk}."]
    message = EmailMessage(
        subject=f"Inventory Hub: {job.get_kind_display()} report, {period}",
        body="\n".join(lines),
        to=schedule.recipient_list,
    )
    if attach and path is not None:
        message.attach_file(str(path), MIME_TYPES[job.format])
    try:
        message.send()
    except Exception:
        # Not sent: let a retry of the task send it.
        ReportJob.objects.filter(pk=job.pk).update(emailed_at=None)
        raise
    return True

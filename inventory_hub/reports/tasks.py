"""Celery tasks of report exports: thin, ids in, one service call."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from inventory_hub.reports import services


@shared_task(name=services.REPORT_JOB_TASK_NAME, acks_late=True, ignore_result=True)
def report_job_run_task(job_id: int) -> None:
    """Write one export's file (enqueued when an admin starts it on the reports page)."""
    services.report_job_run(job_id=job_id)


@shared_task(acks_late=True, time_limit=60, soft_time_limit=45, ignore_result=True)
def report_schedules_due_task() -> None:
    """Beat's entry: claim each due schedule and enqueue its run for the period just ended."""
    for schedule_id, date_from, date_to in services.report_schedules_due_claim(now=timezone.now()):
        report_schedule_run_task.delay(schedule_id, date_from.isoformat(), date_to.isoformat())


@shared_task(
    acks_late=True,
    autoretry_for=(OSError,),  # the mail server was unreachable: the e-mail is marked unsent, so retry
    retry_backoff=60,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def report_schedule_run_task(schedule_id: int, date_from: str, date_to: str) -> None:
    """Generate one scheduled report and e-mail it."""
    services.report_schedule_run(
        schedule_id=schedule_id, date_from=dt.date.fromisoformat(date_from), date_to=dt.date.fromisoformat(date_to)
    )


@shared_task(acks_late=True, time_limit=300, soft_time_limit=240, ignore_result=True)
def report_files_purge_task() -> None:
    """Delete export files (and their jobs) older than REPORTS_KEEP_DAYS."""
    services.report_files_purge(older_than=dt.timedelta(days=settings.REPORTS_KEEP_DAYS))

"""Celery tasks of the connectors app: thin, ids in, one service call."""

from __future__ import annotations

import datetime as dt

from celery import current_app, shared_task
from django.conf import settings
from django.utils import timezone

from inventory_hub.connectors import services


@shared_task(acks_late=True, time_limit=60, soft_time_limit=45)
def connectors_poll_due_task() -> list[int]:
    """Beat's one polling entry: enqueue a poll for each enabled connector that is due."""
    claimed = services.connectors_due_claim(now=timezone.now())
    for connector_id in claimed:
        current_app.send_task(services.POLL_TASK_NAME, args=[connector_id])
    return claimed


@shared_task(acks_late=True, time_limit=60, soft_time_limit=45)
def poll_runs_expire_task() -> int:
    """Free the claim of polls whose worker died mid-poll."""
    limit = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    return services.poll_runs_expire(older_than=limit)

"""Celery tasks that belong to no domain."""

from __future__ import annotations

import socket

from celery import shared_task
from django.utils import timezone

from inventory_hub.core.models import WorkerHeartbeat


@shared_task(acks_late=True, time_limit=30, soft_time_limit=20)
def worker_heartbeat_task(hostname: str | None = None) -> str:
    """Record that a worker is alive; beat runs it every minute."""
    name = hostname or socket.gethostname()
    WorkerHeartbeat.objects.update_or_create(hostname=name, defaults={"seen_at": timezone.now()})
    return name

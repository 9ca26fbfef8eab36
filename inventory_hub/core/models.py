"""Models that belong to no domain: global capabilities and worker liveness."""

from __future__ import annotations

from django.db import models


class Capability(models.Model):
    """Holds permissions that belong to no model (e.g. exporting reports); has no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("export_reports", "Can export and schedule reports")]

    def __str__(self) -> str:
        return "capability"


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task: is anything polling at all?"""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"

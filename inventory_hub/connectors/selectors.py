"""Reads about connectors and their polls."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import OuterRef, QuerySet, Subquery

from inventory_hub.connectors.models import Connector, PollRun
from inventory_hub.core.models import WorkerHeartbeat


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectorHealth:
    """A connector with its last poll, as the home and connectors pages show it."""

    connector: Connector
    last_run: PollRun | None

    @property
    def state(self) -> str:
        """One word for the badge: disabled, never, running, failing or ok."""
        if not self.connector.enabled:
            return "disabled"
        if self.last_run is None:
            return "never"
        if self.last_run.status == PollRun.Status.RUNNING:
            return "running"
        if self.last_run.status == PollRun.Status.FAILED:
            return "failing"
        return "ok"


def connector_health_list() -> list[ConnectorHealth]:
    """Every connector with its most recent poll run (two queries, whatever the count)."""
    connectors = list(
        Connector.objects.annotate(
            last_run_id=Subquery(
                PollRun.objects.filter(connector=OuterRef("pk")).order_by("-started_at").values("pk")[:1]
            )
        ).order_by("role", "name")
    )
    runs = PollRun.objects.in_bulk([c.last_run_id for c in connectors if c.last_run_id])  # type: ignore[attr-defined]
    return [ConnectorHealth(connector=c, last_run=runs.get(c.last_run_id)) for c in connectors]  # type: ignore[attr-defined]


def poll_run_recent_list(*, limit: int = 20) -> QuerySet[PollRun]:
    """The latest poll runs of every connector."""
    return PollRun.objects.select_related("connector").order_by("-started_at")[:limit]


def worker_last_seen() -> dt.datetime | None:
    """When any Celery worker last ran the heartbeat task."""
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    return beat.seen_at if beat else None

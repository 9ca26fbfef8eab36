"""Writes about connectors: which are due for a poll, the poll-run claim, enabling and disabling.

The claim is a row in PollRun under a partial unique constraint (one running poll per
connector), so it holds across worker processes and machines, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import current_app
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from inventory_hub.connectors.models import Connector, PollRun

# The task the fan-out enqueues, by name: the poll pipeline lives in a higher layer
# (observations), which connectors must not import.
POLL_TASK_NAME = "inventory_hub.observations.tasks.connector_poll_task"


DueConnector = tuple[int, "dt.datetime | None", int]  # id, next_poll_at as seen, interval


def connectors_due_list(*, now: dt.datetime) -> list[DueConnector]:
    """Enabled connectors whose poll is due at `now`, most overdue first."""
    return list(
        Connector.objects.filter(enabled=True)
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        .order_by(F("next_poll_at").asc(nulls_first=True), "pk")
        .values_list("pk", "next_poll_at", "poll_interval_seconds")
    )


def connectors_due_claim(*, now: dt.datetime, due: list[DueConnector] | None = None) -> list[int]:
    """Claim the due connectors for one fan-out; returns the ids this caller must enqueue.

    Each claim is a compare-and-set on next_poll_at: of two beats (or two fan-outs) that saw
    the same due connector, exactly one moves its next_poll_at forward and enqueues it.
    """
    claimed: list[int] = []
    for connector_id, seen_next_poll_at, interval in due if due is not None else connectors_due_list(now=now):
        updated = Connector.objects.filter(pk=connector_id, enabled=True, next_poll_at=seen_next_poll_at).update(
            next_poll_at=now + dt.timedelta(seconds=interval)
        )
        if updated == 1:
            claimed.append(connector_id)
    return claimed


def poll_run_claim(
    *, connector_id: int, trigger: str = PollRun.Trigger.SCHEDULE, now: dt.datetime | None = None
) -> PollRun | None:
    """Start a poll run, or None when the connector is disabled or already being polled."""
    try:
        with transaction.atomic():
            if not Connector.objects.filter(pk=connector_id, enabled=True).exists():
                return None
            return PollRun.objects.create(connector_id=connector_id, trigger=trigger, started_at=now or timezone.now())
    except IntegrityError:
        return None  # another worker holds the running poll


def poll_run_finish(*, run: PollRun, counts: dict[str, Any], now: dt.datetime | None = None) -> PollRun:
    """Record a poll run as succeeded with its counts and durations."""
    PollRun.objects.filter(pk=run.pk, status=PollRun.Status.RUNNING).update(
        status=PollRun.Status.SUCCEEDED, finished_at=now or timezone.now(), **counts
    )
    run.refresh_from_db()
    return run


def poll_run_fail(*, run: PollRun, error: str, permanent: bool, now: dt.datetime | None = None) -> PollRun:
    """Record a poll run as failed; a permanent error also disables its connector."""
    now = now or timezone.now()
    with transaction.atomic():
        PollRun.objects.filter(pk=run.pk, status=PollRun.Status.RUNNING).update(
            status=PollRun.Status.FAILED,
            finished_at=now,
            error=error,
            error_kind=PollRun.ErrorKind.PERMANENT if permanent else PollRun.ErrorKind.TRANSIENT,
        )
        if permanent:
            connector_disable(connector_id=run.connector_id, reason=error, now=now)
    run.refresh_from_db()
    return run


def poll_runs_expire(*, older_than: dt.timedelta, now: dt.datetime | None = None) -> int:
    """Fail running polls older than the hard time limit (their worker died), freeing the claim."""
    now = now or timezone.now()
    return PollRun.objects.filter(status=PollRun.Status.RUNNING, started_at__lt=now - older_than).update(
        status=PollRun.Status.FAILED,
        finished_at=now,
        error_kind=PollRun.ErrorKind.TRANSIENT,
        error="The worker running this poll stopped before finishing (killed or restarted).",
    )


def connector_disable(*, connector_id: int, reason: str, now: dt.datetime | None = None) -> None:
    """Stop polling a connector, saying why."""
    Connector.objects.filter(pk=connector_id).update(
        enabled=False,
        disabled_reason=reason.strip() or "Disabled by an admin.",
        disabled_at=now or timezone.now(),
    )


def connector_enable(*, connector_id: int) -> None:
    """Resume polling a connector at once."""
    Connector.objects.filter(pk=connector_id).update(
        enabled=True, disabled_reason="", disabled_at=None, next_poll_at=None
    )


class ConnectorDisabledError(Exception):
    """A disabled connector cannot be polled; enable it first."""


def connector_poll_now(*, connector_id: int, now: dt.datetime | None = None) -> bool:
    """The admin's "poll now": make the connector due and enqueue its poll exactly as the fan-out does.

    The connector is marked due (next_poll_at NULL), then claimed with the fan-out's own
    compare-and-set, so a beat running at the same instant cannot enqueue it a second time.
    The poll task is sent once the transaction commits. Returns False when the fan-out claimed
    it first (its poll is already on its way). Raises ConnectorDisabledError for a disabled one.
    """
    now = now or timezone.now()
    with transaction.atomic():
        connector = (
            Connector.objects.select_for_update().only("pk", "enabled", "poll_interval_seconds").get(pk=connector_id)
        )
        if not connector.enabled:
            raise ConnectorDisabledError(connector_id)
        Connector.objects.filter(pk=connector_id).update(next_poll_at=None)
        claimed = connectors_due_claim(now=now, due=[(connector_id, None, connector.poll_interval_seconds)])
        for claimed_id in claimed:
            transaction.on_commit(
                lambda pk=claimed_id: current_app.send_task(
                    POLL_TASK_NAME, args=[pk], kwargs={"trigger": PollRun.Trigger.MANUAL}
                )
            )
    return bool(claimed)

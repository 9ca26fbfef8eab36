"""Celery tasks of the poll pipeline: thin, ids in, one service call."""

from __future__ import annotations

from celery import current_app, shared_task

from inventory_hub.connectors.base import TransientConnectorError

# The next step, by name: reconciliation is a higher layer that observations must not import.
RECONCILE_TASK_NAME = "inventory_hub.reconciliation.tasks.reconciliation_after_poll_task"


@shared_task(
    name="inventory_hub.observations.tasks.connector_poll_task",  # the fan-out enqueues it by name
    acks_late=True,  # safe: a poll is idempotent and claims its connector
    autoretry_for=(TransientConnectorError,),
    retry_backoff=15,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=25 * 60,
    time_limit=30 * 60,
    ignore_result=True,
)
def connector_poll_task(connector_id: int, trigger: str = "schedule") -> None:
    """Poll one connector (enqueued by the beat fan-out, or by "poll now" with trigger "manual")."""
    from inventory_hub.connectors.models import PollRun
    from inventory_hub.observations import services  # keeps task import light for the worker

    if trigger not in PollRun.Trigger.values:
        trigger = PollRun.Trigger.SCHEDULE
    run = services.connector_poll(connector_id=connector_id, trigger=trigger)
    if run is not None and run.status == run.Status.SUCCEEDED and run.positions_changed:
        current_app.send_task(RECONCILE_TASK_NAME, args=[run.pk])

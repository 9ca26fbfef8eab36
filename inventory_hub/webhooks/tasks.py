"""Celery tasks of webhook intake: thin, ids in, one service call."""

from __future__ import annotations

import datetime as dt

from celery import current_app, shared_task
from django.conf import settings

from inventory_hub.connectors.base import TransientConnectorError

RECONCILE_TASK_NAME = "inventory_hub.reconciliation.tasks.reconciliation_after_poll_task"


@shared_task(
    name="inventory_hub.webhooks.tasks.webhook_delivery_apply_task",
    bind=True,
    acks_late=True,  # safe: applying twice finds the delivery applied and does nothing
    max_retries=40,
    soft_time_limit=10 * 60,
    time_limit=15 * 60,
    ignore_result=True,
)
def webhook_delivery_apply_task(self, delivery_id: int) -> None:  # noqa: ANN001 (Celery's bound task)
    """Poll the delivery's connector now so its announced change is read within seconds."""
    from inventory_hub.webhooks import services

    try:
        run = services.delivery_apply(delivery_id=delivery_id)
    except services.PollBusyError as exc:
        # The running poll may have started before the delivery: poll again once it is done.
        raise self.retry(exc=exc, countdown=3) from exc
    except TransientConnectorError as exc:
        raise self.retry(exc=exc, countdown=15) from exc
    if run is not None and run.status == run.Status.SUCCEEDED and run.positions_changed:
        current_app.send_task(RECONCILE_TASK_NAME, args=[run.pk])


@shared_task(acks_late=True, time_limit=30 * 60, soft_time_limit=25 * 60, ignore_result=True)
def webhook_deliveries_purge_task() -> None:
    """Beat: drop settled deliveries older than WEBHOOK_KEEP_DAYS."""
    from inventory_hub.webhooks import services

    services.deliveries_purge(older_than=dt.timedelta(days=settings.WEBHOOK_KEEP_DAYS))

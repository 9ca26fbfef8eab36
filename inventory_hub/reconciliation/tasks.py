"""Celery tasks of reconciliation: thin, primitives in, one service call."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="inventory_hub.reconciliation.tasks.reconciliation_sweep_task",  # beat enqueues it by name
    acks_late=True,  # safe: a run upserts per (location, SKU, hop), so running twice changes nothing
    soft_time_limit=25 * 60,
    time_limit=30 * 60,
    ignore_result=True,
)
def reconciliation_sweep_task() -> None:
    """The periodic full sweep: every key, so whatever an incremental run missed is repaired."""
    from django.utils import timezone

    from inventory_hub.reconciliation import exposure, services  # keeps task import light for the worker

    services.reconciliation_run()
    exposure.exposure_record(now=timezone.now())


@shared_task(
    name="inventory_hub.reconciliation.tasks.reconciliation_after_poll_task",  # the poll task sends it by name
    acks_late=True,
    soft_time_limit=10 * 60,
    time_limit=15 * 60,
    ignore_result=True,
)
def reconciliation_after_poll_task(poll_run_id: int) -> None:
    """Reconcile the (location, SKU) keys one poll changed, right after it was stored, and measure
    the hop lags of those keys (a downstream change may reflect an earlier WMS change)."""
    from django.utils import timezone

    from inventory_hub.reconciliation import exposure, hop_lags, preview, services

    services.reconciliation_after_poll(poll_run_id=poll_run_id)
    hop_lags.hop_lags_after_poll(poll_run_id=poll_run_id)
    exposure.exposure_record_after_poll(poll_run_id=poll_run_id, now=timezone.now())
    preview.rule_previews_warm()  # an ops lead editing a rule then never waits for the new positions

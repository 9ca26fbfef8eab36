"""Celery tasks of tracing: thin, primitives in, one service call."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="inventory_hub.tracing.tasks.oversells_detect_task",
    acks_late=True,  # safe: one oversell per order line, so running twice changes nothing
    soft_time_limit=10 * 60,
    time_limit=15 * 60,
    ignore_result=True,
)
def oversells_detect_task(order_line_ids: list[int] | None = None) -> None:
    """Check new storefront order lines for oversells and trace them; then look for cascade loops."""
    from inventory_hub.tracing import services  # keeps task import light for the worker

    services.oversells_detect(order_line_ids=order_line_ids)
    services.cascade_loops_detect()


@shared_task(
    name="inventory_hub.tracing.tasks.oversells_detect_due_task",  # beat enqueues it by name
    acks_late=True,  # safe: one oversell per order line, and the watermark only moves forward
    soft_time_limit=10 * 60,
    time_limit=15 * 60,
    ignore_result=True,
)
def oversells_detect_due_task() -> None:
    """Beat's entry: check the orders whose WMS truth the latest WMS polls completed."""
    from inventory_hub.tracing import detection

    detection.oversells_detect_due()

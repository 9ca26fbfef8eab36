"""The poll pipeline: claim → fetch (no transaction) → store (one transaction) → finish.

A poll is all-or-nothing and safe to re-run: positions merge by natural key, events and orders
are deduplicated by their source ids, and the connector's cursors advance in the same
transaction as the data they cover.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
from django.db import transaction
from django.utils import timezone

from inventory_hub.connectors import registry
from inventory_hub.connectors import services as connector_services
from inventory_hub.connectors.base import ConnectorConfig, PermanentConnectorError, TransientConnectorError
from inventory_hub.connectors.models import Connector, LocationMapping, PollRun
from inventory_hub.observations import ingest
from inventory_hub.observations.fetch import Fetched, poll_fetch, spool_lines
from inventory_hub.observations.models import InventoryEvent, Order, OrderLine

logger = logging.getLogger(__name__)
BATCH = 2_000


def connector_config(connector: Connector) -> ConnectorConfig:
    """The adapter's view of a connector row (decrypted credentials included)."""
    return ConnectorConfig(
        name=connector.name, base_url=connector.base_url, credentials=connector.credentials, options=connector.options
    )


def connector_poll(
    *,
    connector_id: int,
    trigger: str = PollRun.Trigger.SCHEDULE,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    now: dt.datetime | None = None,
) -> PollRun | None:
    """Poll one connector end to end; None when it is disabled or another poll holds it.

    A permanent error disables the connector (its reason is the error); a transient one is
    recorded and re-raised for the task to retry.
    """
    run = connector_services.poll_run_claim(connector_id=connector_id, trigger=trigger, now=now)
    if run is None:
        return None
    connector = Connector.objects.get(pk=connector_id)
    fetched: Fetched | None = None
    adapter = None
    try:
        adapter = registry.adapter_class(connector.adapter)(
            connector_config(connector), transport=transport, sleep=sleep
        )
        fetched = poll_fetch(adapter, cursors=connector.cursors, read_at=run.started_at)
        return poll_store(run=run, connector=connector, fetched=fetched, now=now)
    except PermanentConnectorError as exc:
        return connector_services.poll_run_fail(run=run, error=str(exc), permanent=True)
    except TransientConnectorError as exc:
        connector_services.poll_run_fail(run=run, error=str(exc), permanent=False)
        raise
    except Exception as exc:
        # A bug or a database failure: record it readably, keep the connector enabled, re-raise.
        connector_services.poll_run_fail(run=run, error=f"Unexpected error while polling: {exc!r}", permanent=False)
        raise
    finally:
        if fetched is not None:
            fetched.close()
        if adapter is not None:
            adapter.close()


def poll_store(*, run: PollRun, connector: Connector, fetched: Fetched, now: dt.datetime | None = None) -> PollRun:
    """Store everything one poll fetched in a single transaction, and finish its run."""
    simulated = now is not None  # a backfill stamps everything with simulated time
    now = now or timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        mappings = _location_mappings_sync(connector=connector, locations=fetched.locations)
        ingest.staging_create()
        ingest.staging_load(fetched.positions)
        changed, unmapped = ingest.positions_merge(
            connector_id=connector.pk, poll_run_id=run.pk, now=now, full=fetched.positions_full
        )
        events_new, events_unmapped = _events_store(
            connector=connector, run=run, records=spool_lines(fetched.events), mappings=mappings, now=now
        )
        orders_new, orders_unmapped = _orders_store(
            connector=connector, run=run, records=spool_lines(fetched.orders), mappings=mappings, now=now
        )
        if fetched.cursors:
            Connector.objects.filter(pk=connector.pk).update(cursors={**connector.cursors, **fetched.cursors})
        finished = PollRun.objects.filter(pk=run.pk, status=PollRun.Status.RUNNING).update(
            status=PollRun.Status.SUCCEEDED,
            finished_at=now if simulated else timezone.now(),
            pages=fetched.pages,
            positions_seen=fetched.positions_seen,
            positions_full_read=fetched.positions_full,
            positions_changed=changed,
            records_unmapped=unmapped + events_unmapped + orders_unmapped,
            events_new=events_new,
            orders_new=orders_new,
            fetch_seconds=fetched.seconds,
            store_seconds=time.perf_counter() - started,
        )
        if finished != 1:
            # The run was expired (its worker was presumed dead): storing now could race a retry.
            raise TransientConnectorError("This poll ran past its time limit and was expired; nothing was stored.")
    run.refresh_from_db()
    return run


def _location_mappings_sync(*, connector: Connector, locations: list[Any]) -> dict[str, int | None]:
    """Record every external location the system reported; returns external id → hub location id."""
    LocationMapping.objects.bulk_create(
        [
            LocationMapping(connector=connector, external_id=loc.external_id, external_name=loc.name)
            for loc in locations
        ],
        update_conflicts=True,
        unique_fields=["connector", "external_id"],
        update_fields=["external_name"],
    )
    return dict(LocationMapping.objects.filter(connector=connector).values_list("external_id", "location_id"))


def _batches(records: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, BATCH)):
        yield batch


def _unseen(batch: list[dict[str, Any]], *, model: Any, connector: Connector, key: str) -> list[dict[str, Any]]:
    """Records whose source id (`key`) is neither stored for this connector nor earlier in the batch."""
    known = set(
        model.objects.filter(connector=connector, **{f"{key}__in": [r[key] for r in batch]}).values_list(key, flat=True)
    )
    fresh = []
    for record in batch:
        if record[key] not in known:  # pages may overlap, so a batch can repeat a record
            known.add(record[key])
            fresh.append(record)
    return fresh


def _events_store(
    *,
    connector: Connector,
    run: PollRun,
    records: Iterable[dict[str, Any]],
    mappings: dict[str, int | None],
    now: dt.datetime,
) -> tuple[int, int]:
    """Insert events not seen before (by the source's own id); returns (new, unmapped)."""
    new = unmapped = 0
    for batch in _batches(records):
        rows = []
        for r in _unseen(batch, model=InventoryEvent, connector=connector, key="source_event_id"):
            location_id = mappings.get(r["external_location_id"])
            if location_id is None:
                unmapped += 1
                continue
            rows.append(
                InventoryEvent(
                    connector=connector,
                    source_event_id=r["source_event_id"],
                    kind=r["kind"],
                    location_id=location_id,
                    sku=r["sku"],
                    bin=r["bin"],
                    channel=r["channel"],
                    delta=r["delta"],
                    quantity_after=r["quantity_after"],
                    occurred_at=dt.datetime.fromisoformat(r["occurred_at"]),
                    observed_at=now,
                    raw=r["raw"],
                    poll_run=run,
                )
            )
        InventoryEvent.objects.bulk_create(rows)
        new += len(rows)
    return new, unmapped


def _orders_store(
    *,
    connector: Connector,
    run: PollRun,
    records: Iterable[dict[str, Any]],
    mappings: dict[str, int | None],
    now: dt.datetime,
) -> tuple[int, int]:
    """Insert orders not seen before with their lines; returns (new orders, unmapped lines)."""
    new = unmapped = 0
    for batch in _batches(records):
        fresh = _unseen(batch, model=Order, connector=connector, key="source_order_id")
        orders = Order.objects.bulk_create(
            [
                Order(
                    connector=connector,
                    source_order_id=r["source_order_id"],
                    name=r["name"],
                    channel=r["channel"],
                    placed_at=dt.datetime.fromisoformat(r["placed_at"]),
                    observed_at=now,
                    raw=r["raw"],
                    poll_run=run,
                )
                for r in fresh
            ]
        )
        lines = []
        for order, r in zip(orders, fresh, strict=True):
            for line in r["lines"]:
                location_id = mappings.get(line["external_location_id"])
                if location_id is None:
                    unmapped += 1
                    continue
                lines.append(
                    OrderLine(
                        order=order,
                        source_line_id=line["source_line_id"],
                        location_id=location_id,
                        sku=line["sku"],
                        quantity=line["quantity"],
                    )
                )
        OrderLine.objects.bulk_create(lines)
        new += len(orders)
    return new, unmapped

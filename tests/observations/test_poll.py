"""The poll pipeline: all-or-nothing, idempotent, one poll per connector at a time."""

from __future__ import annotations

import datetime as dt
import threading
import tracemalloc
from unittest import mock

import pytest
from django.db import connection

from inventory_hub.connectors import registry
from inventory_hub.connectors.base import ExternalLocation, PermanentConnectorError, TransientConnectorError
from inventory_hub.connectors.models import Connector, LocationMapping, PollRun
from inventory_hub.observations import services
from inventory_hub.observations.fetch import POSITIONS_OVERLAP, poll_fetch
from inventory_hub.observations.models import InventoryEvent, InventoryPosition, Order, OrderLine, PositionChange
from tests.factories import ConnectorFactory, LocationFactory
from tests.observations import fakes
from tests.observations.fakes import event, order, position

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fake_system(monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "csv", "tests.observations.fakes.FakeAdapter")
    system = fakes.FakeSystem(
        locations=[
            ExternalLocation("wh-1", "Warehouse 1"),
            ExternalLocation("wh-2", "Warehouse 2"),
            ExternalLocation("wh-x", "Not mapped"),
        ],
        positions=[
            position("wh-1", "SKU-A", 47),
            position("wh-1", "SKU-B", 5, 2),
            position("wh-2", "SKU-A", 12),
            position("wh-1", "SKU-A", 3, bin="QUARANTINE"),
            position("wh-x", "SKU-A", 9),
        ],
        events=[event(1), event(2), event(3, location="wh-x")],
        orders=[order(1), order(2, location="wh-2")],
    )
    monkeypatch.setattr(fakes, "SYSTEM", system)
    return system


@pytest.fixture
def connector():
    connector = ConnectorFactory(adapter="csv", role="wms")
    LocationMapping.objects.create(connector=connector, external_id="wh-1", location=LocationFactory(code="FC-1"))
    LocationMapping.objects.create(connector=connector, external_id="wh-2", location=LocationFactory(code="STORE-B"))
    return connector


def _state(connector):
    """Everything a poll may write, for before/after comparisons."""
    connector.refresh_from_db()
    return (
        sorted(
            InventoryPosition.objects.values_list("location__code", "sku", "bin", "on_hand", "allocated", "available")
        ),
        PositionChange.objects.count(),
        sorted(InventoryEvent.objects.values_list("source_event_id", flat=True)),
        sorted(Order.objects.values_list("source_order_id", flat=True)),
        OrderLine.objects.count(),
        connector.cursors,
    )


def test_a_poll_stores_mapped_positions_events_and_orders_with_counts(connector):
    run = services.connector_poll(connector_id=connector.pk)

    assert run.status == PollRun.Status.SUCCEEDED
    assert sorted(
        InventoryPosition.objects.values_list("location__code", "sku", "bin", "on_hand", "allocated", "available")
    ) == [
        ("FC-1", "SKU-A", "", 47, 0, 47),
        ("FC-1", "SKU-A", "QUARANTINE", 3, 0, 3),
        ("FC-1", "SKU-B", "", 5, 2, 3),
        ("STORE-B", "SKU-A", "", 12, 0, 12),
    ]
    assert (run.positions_seen, run.positions_changed, run.events_new, run.orders_new, run.records_unmapped) == (
        5,
        4,
        2,
        2,
        2,
    )
    assert PositionChange.objects.count() == 4
    assert OrderLine.objects.get(order__source_order_id="order-2").location.code == "STORE-B"


def test_unknown_external_locations_are_recorded_for_an_admin_to_map(connector):
    services.connector_poll(connector_id=connector.pk)

    unmapped = LocationMapping.objects.get(connector=connector, external_id="wh-x")
    assert (unmapped.external_name, unmapped.location_id) == ("Not mapped", None)


def test_polling_again_changes_nothing(connector):
    services.connector_poll(connector_id=connector.pk)
    before = _state(connector)

    again = services.connector_poll(connector_id=connector.pk)

    assert _state(connector) == before
    assert (again.positions_changed, again.events_new, again.orders_new) == (0, 0, 0)


def test_a_changed_value_writes_one_history_row_and_updates_the_position(connector, fake_system):
    services.connector_poll(connector_id=connector.pk)
    fake_system.positions[0] = position("wh-1", "SKU-A", 40)

    run = services.connector_poll(connector_id=connector.pk)

    assert run.positions_changed == 1
    assert InventoryPosition.objects.get(location__code="FC-1", sku="SKU-A", bin="").on_hand == 40
    assert list(
        PositionChange.objects.filter(location__code="FC-1", sku="SKU-A", bin="")
        .order_by("changed_at", "id")
        .values_list("on_hand", flat=True)
    ) == [47, 40]


def test_cursors_advance_and_the_next_poll_reads_only_newer_history(connector, fake_system):
    services.connector_poll(connector_id=connector.pk)
    fake_system.events.append(event(9))

    run = services.connector_poll(connector_id=connector.pk)

    connector.refresh_from_db()
    assert connector.cursors["events"] == fake_system.events[-1].occurred_at.isoformat()
    assert run.events_new == 1


def test_a_failure_halfway_through_storing_leaves_the_database_as_before_and_the_next_poll_completes(
    connector, fake_system
):
    services.connector_poll(connector_id=connector.pk)
    fake_system.positions[0] = position("wh-1", "SKU-A", 10)
    fake_system.events.append(event(7))
    fake_system.orders.append(order(5))
    before = _state(connector)

    with (
        mock.patch.object(services, "_orders_store", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        services.connector_poll(connector_id=connector.pk)

    assert _state(connector) == before
    failed = PollRun.objects.order_by("-started_at", "-id").first()
    assert (failed.status, failed.error_kind) == ("failed", "transient")
    assert "disk full" in failed.error
    run = services.connector_poll(connector_id=connector.pk)
    assert (run.status, run.positions_changed, run.events_new, run.orders_new) == ("succeeded", 1, 1, 1)


def test_a_permanent_adapter_error_disables_the_connector_with_its_message(connector, fake_system):
    fake_system.fail_with = PermanentConnectorError("ShipHero rejected the credentials (HTTP 401).")

    run = services.connector_poll(connector_id=connector.pk)

    connector.refresh_from_db()
    assert (run.status, connector.enabled, connector.disabled_reason) == (
        "failed",
        False,
        "ShipHero rejected the credentials (HTTP 401).",
    )
    assert InventoryPosition.objects.exists() is False


def test_a_transient_adapter_error_is_raised_for_retry_and_keeps_the_connector_enabled(connector, fake_system):
    fake_system.fail_with = TransientConnectorError("ShipHero did not answer in time (ReadTimeout).")

    with pytest.raises(TransientConnectorError):
        services.connector_poll(connector_id=connector.pk)

    assert Connector.objects.get(pk=connector.pk).enabled is True
    assert PollRun.objects.get().error_kind == "transient"


def test_fetching_a_large_poll_keeps_memory_bounded(fake_system):
    fake_system.positions = [position("wh-1", f"SKU-{n:06d}", n % 50) for n in range(200_000)]
    fake_system.page_size = 1_000
    adapter = fakes.FakeAdapter(None)

    tracemalloc.start()
    fetched = poll_fetch(adapter, cursors={})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    fetched.close()

    assert fetched.positions_seen == 200_000
    assert peak < 16 << 20  # the 200,000 records themselves are the fake's; the spool moved to disk


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_polling_the_same_connector_at_once_store_it_once(connector, fake_system):
    fake_system.release = threading.Event()
    results = {}

    def worker() -> None:
        try:
            results["first"] = services.connector_poll(connector_id=connector.pk)
        finally:
            connection.close()  # this thread's own database connection

    first = threading.Thread(target=worker)
    first.start()
    assert fake_system.positions_started.wait(timeout=30)  # the first worker holds the claim, fetching
    second = services.connector_poll(connector_id=connector.pk)
    fake_system.release.set()
    first.join(timeout=60)

    assert second is None
    assert results["first"].status == PollRun.Status.SUCCEEDED
    assert PollRun.objects.count() == 1
    assert InventoryPosition.objects.count() == 4
    assert PositionChange.objects.count() == 4


# --- incremental position reads -----------------------------------------------------------------

T1 = fakes.T0 + dt.timedelta(hours=1)


@pytest.fixture
def incremental(fake_system):
    fake_system.reads_changed = True
    return fake_system


def _positions():
    return {(p.location.code, p.sku, p.bin): p.on_hand for p in InventoryPosition.objects.select_related("location")}


def test_the_first_poll_reads_in_full_and_the_next_reads_from_its_start_less_the_overlap(connector, incremental):
    first = services.connector_poll(connector_id=connector.pk, now=T1)
    second = services.connector_poll(connector_id=connector.pk, now=T1 + dt.timedelta(minutes=5))

    connector.refresh_from_db()
    assert incremental.positions_calls == [None, T1 - POSITIONS_OVERLAP]
    assert (first.positions_full_read, second.positions_full_read) == (True, False)
    assert (connector.cursors["positions"], connector.cursors["positions_full"]) == (
        (T1 + dt.timedelta(minutes=5)).isoformat(),
        T1.isoformat(),
    )


def test_an_incremental_poll_stores_what_changed_and_leaves_positions_it_did_not_report(connector, incremental):
    services.connector_poll(connector_id=connector.pk, now=T1)
    incremental.positions[0] = position("wh-1", "SKU-A", 40)
    incremental.changed_at[("wh-1", "SKU-A")] = T1 + dt.timedelta(minutes=3)
    del incremental.positions[2]  # wh-2 SKU-A is gone, which only a full read can tell

    run = services.connector_poll(connector_id=connector.pk, now=T1 + dt.timedelta(minutes=5))

    assert (run.positions_full_read, run.positions_seen, run.positions_changed) == (False, 2, 1)
    assert _positions() == {
        ("FC-1", "SKU-A", ""): 40,
        ("FC-1", "SKU-A", "QUARANTINE"): 3,
        ("FC-1", "SKU-B", ""): 5,
        ("STORE-B", "SKU-A", ""): 12,
    }
    assert PositionChange.objects.filter(location__code="STORE-B").count() == 1


def test_a_full_read_once_the_interval_has_passed_zeroes_the_positions_that_vanished(connector, incremental):
    connector.options = {"full_read_minutes": 30}
    connector.save()
    services.connector_poll(connector_id=connector.pk, now=T1)
    del incremental.positions[2]
    services.connector_poll(connector_id=connector.pk, now=T1 + dt.timedelta(minutes=25))

    run = services.connector_poll(connector_id=connector.pk, now=T1 + dt.timedelta(minutes=30))

    assert incremental.positions_calls[-1] is None
    assert (run.positions_full_read, run.positions_changed) == (True, 1)
    assert _positions()[("STORE-B", "SKU-A", "")] == 0
    connector.refresh_from_db()
    assert connector.cursors["positions_full"] == (T1 + dt.timedelta(minutes=30)).isoformat()


def test_an_incremental_poll_zeroes_an_emptied_bin_of_a_sku_it_reports(connector, incremental):
    services.connector_poll(connector_id=connector.pk, now=T1)
    del incremental.positions[3]  # the QUARANTINE bin of wh-1 SKU-A was emptied
    incremental.changed_at[("wh-1", "SKU-A")] = T1 + dt.timedelta(minutes=1)

    run = services.connector_poll(connector_id=connector.pk, now=T1 + dt.timedelta(minutes=5))

    assert (run.positions_full_read, run.positions_changed) == (False, 1)
    assert _positions()[("FC-1", "SKU-A", "QUARANTINE")] == 0
    assert _positions()[("FC-1", "SKU-A", "")] == 47


def test_a_failure_halfway_through_storing_an_incremental_poll_leaves_the_positions_cursors_unchanged(
    connector, incremental
):
    services.connector_poll(connector_id=connector.pk, now=T1)
    incremental.positions[0] = position("wh-1", "SKU-A", 40)
    incremental.changed_at[("wh-1", "SKU-A")] = T1 + dt.timedelta(minutes=3)
    before = _state(connector)

    with (
        mock.patch.object(services, "_orders_store", side_effect=RuntimeError("disk full")),
        pytest.raises(RuntimeError),
    ):
        services.connector_poll(connector_id=connector.pk, now=T1 + dt.timedelta(minutes=5))

    assert _state(connector) == before
    assert connector.cursors["positions"] == T1.isoformat()
    run = services.connector_poll(connector_id=connector.pk, now=T1 + dt.timedelta(minutes=10))
    assert incremental.positions_calls[-1] == T1 - POSITIONS_OVERLAP
    assert (run.positions_full_read, run.positions_changed) == (False, 1)


def test_a_clock_gone_back_reads_in_full(connector, incremental):
    services.connector_poll(connector_id=connector.pk, now=T1)

    run = services.connector_poll(connector_id=connector.pk, now=T1 - dt.timedelta(minutes=10))

    assert incremental.positions_calls == [None, None]
    assert run.positions_full_read is True


def test_a_full_read_interval_that_is_not_a_positive_integer_disables_the_connector(connector, incremental):
    connector.options = {"full_read_minutes": "hourly"}
    connector.save()

    run = services.connector_poll(connector_id=connector.pk, now=T1)

    connector.refresh_from_db()
    assert (run.status, connector.enabled) == ("failed", False)
    assert connector.disabled_reason == (
        f"{connector.name}: option full_read_minutes must be a positive integer, not 'hourly'."
    )
    assert InventoryPosition.objects.exists() is False

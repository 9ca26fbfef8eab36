from __future__ import annotations

from unittest import mock

import pytest

from inventory_hub.connectors import registry
from inventory_hub.connectors.base import ExternalLocation
from inventory_hub.connectors.models import LocationMapping, PollRun
from inventory_hub.observations.tasks import RECONCILE_TASK_NAME, connector_poll_task
from tests.factories import ConnectorFactory, LocationFactory
from tests.observations import fakes
from tests.observations.fakes import position

pytestmark = pytest.mark.django_db


@pytest.fixture
def connector(monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "csv", "tests.observations.fakes.FakeAdapter")
    monkeypatch.setattr(
        fakes,
        "SYSTEM",
        fakes.FakeSystem(locations=[ExternalLocation("wh-1", "W1")], positions=[position("wh-1", "SKU-A", 5)]),
    )
    connector = ConnectorFactory(adapter="csv")
    LocationMapping.objects.create(connector=connector, external_id="wh-1", location=LocationFactory())
    return connector


def test_a_poll_that_changed_positions_hands_its_run_to_reconciliation(connector):
    with mock.patch("inventory_hub.observations.tasks.current_app.send_task") as send_task:
        connector_poll_task(connector.pk)
        connector_poll_task(connector.pk)  # nothing changed the second time

    assert send_task.call_count == 1
    assert send_task.call_args.args[0] == RECONCILE_TASK_NAME


def test_poll_now_is_recorded_as_a_manual_poll_and_an_unknown_trigger_as_scheduled(connector):
    with mock.patch("inventory_hub.observations.tasks.current_app.send_task"):
        connector_poll_task(connector.pk, trigger="manual")
        connector_poll_task(connector.pk, trigger="nonsense")

    assert list(PollRun.objects.order_by("pk").values_list("trigger", flat=True)) == ["manual", "schedule"]

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory_hub.connectors.models import Connector, PollRun
from inventory_hub.observations.models import InventoryEvent, InventoryPosition, Order

pytestmark = pytest.mark.django_db


def test_demo_without_serving_sets_up_and_backfills_all_three_systems(settings):
    settings.DEBUG = True
    out = io.StringIO()

    call_command("demo", no_serve=True, days=0.5, stdout=out)

    connectors = {c.role: c for c in Connector.objects.all()}
    assert set(connectors) == {"wms", "erp", "storefront"}
    for connector in connectors.values():
        assert InventoryPosition.objects.filter(connector=connector).exists()
        assert PollRun.objects.filter(connector=connector, status="succeeded").count() == 12  # hourly, half a day
    assert InventoryEvent.objects.filter(connector=connectors["wms"]).exists()
    assert InventoryEvent.objects.filter(connector=connectors["erp"]).exists()
    assert Order.objects.filter(connector=connectors["storefront"]).exists()
    assert "username manager" in out.getvalue()


def test_running_the_demo_again_tells_the_same_week_without_duplicates(settings):
    settings.DEBUG = True
    call_command("demo", no_serve=True, days=0.25, stdout=io.StringIO())
    first = (InventoryPosition.objects.count(), InventoryEvent.objects.count(), Order.objects.count())

    call_command("demo", no_serve=True, days=0.25, stdout=io.StringIO())

    assert (InventoryPosition.objects.count(), InventoryEvent.objects.count(), Order.objects.count()) == first
    assert Connector.objects.count() == 3


def test_the_demo_refuses_to_run_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("demo", no_serve=True, stdout=io.StringIO())

    assert Connector.objects.exists() is False

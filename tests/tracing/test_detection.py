"""Live oversell detection: an order is judged once the WMS truth at its instant is in, and once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from inventory_hub.dashboard.management.commands.evaluate_tracing import tracing_backfill
from inventory_hub.tracing import detection
from inventory_hub.tracing.models import Oversell
from tests.factories import ConnectorFactory, PollRunFactory

pytestmark = pytest.mark.django_db


def _poll(connector, minutes_ago, status="succeeded"):
    started = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return PollRunFactory(
        connector=connector, status=status, started_at=started, finished_at=started + dt.timedelta(seconds=5)
    )


def test_truth_is_complete_up_to_the_oldest_latest_successful_wms_poll():
    first, second = ConnectorFactory(role="wms"), ConnectorFactory(role="wms")
    _poll(first, 3)
    _poll(second, 9)
    _poll(second, 1, status="failed")  # a failed poll read nothing

    until = detection.wms_complete_until()

    assert timezone.now() - until > dt.timedelta(minutes=8)


def test_no_truth_without_a_successful_poll_of_every_wms():
    _poll(ConnectorFactory(role="wms"), 3)
    ConnectorFactory(role="wms")  # never polled: its truth is unknown, so no order can be judged

    assert detection.wms_complete_until() is None
    assert detection.oversells_detect_due().checked == 0


def test_the_backfilled_orders_are_checked_once_their_wms_truth_is_in():
    world = tracing_backfill(scenario_name="stressed", seed=None, days=0.25, step_minutes=5)

    first = detection.oversells_detect_due(now=world.now)
    again = detection.oversells_detect_due(now=world.now)

    assert first.until == world.now  # the backfill's last WMS poll started at its end
    assert first.oversells == Oversell.objects.count() > 0
    assert (again.checked, again.oversells) == (0, 0)  # the watermark moved: nothing re-checked

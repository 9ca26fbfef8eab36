"""A sandbox day polled every 5 minutes through the real adapters: oversells scored against the sandbox's truth."""

from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.dashboard.management.commands.evaluate_tracing import tracing_evaluate
from inventory_hub.tracing.models import Oversell, TraceStep
from inventory_hub.tracing.services import oversells_detect

pytestmark = pytest.mark.django_db


def test_detects_the_days_oversells_with_their_origins_and_again_changes_nothing():
    result = tracing_evaluate(scenario_name="two-stores-and-an-fc", seed=None, days=1, step_minutes=5)
    recorded = (Oversell.objects.count(), TraceStep.objects.count())

    again = oversells_detect(now=dt.datetime(2026, 11, 3, 6, 0, tzinfo=dt.UTC))

    # Seed 7's day has 5 true oversells; the one missed is a wholesale allocation that landed
    # between the last WMS poll and the order (invisible until the next poll; see the report).
    assert (result["oversells_truth"], result["oversells_detected"], result["matched"]) == (5, 4, 4)
    assert (result["precision"], result["recall"]) == (1.0, 0.8)
    assert (result["originating_event_accuracy"], result["root_cause_accuracy"]) == (1.0, 1.0)
    assert again.oversells == 0
    assert (Oversell.objects.count(), TraceStep.objects.count()) == recorded

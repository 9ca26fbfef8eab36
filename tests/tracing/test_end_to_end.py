"""A sandbox day polled every 5 minutes through the real adapters: oversells scored against the sandbox's truth."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from inventory_hub.dashboard.management.commands.evaluate_tracing import tracing_evaluate
from inventory_hub.tracing.models import Oversell, TraceStep
from inventory_hub.tracing.services import oversells_detect

pytestmark = pytest.mark.django_db

SCENARIOS = Path(__file__).resolve().parents[2] / "inventory_hub" / "sandbox" / "scenarios"


def test_detects_the_days_oversells_with_their_origins_and_again_changes_nothing():
    result = tracing_evaluate(scenario_name="two-stores-and-an-fc", seed=None, days=1, step_minutes=5)
    recorded = (Oversell.objects.count(), TraceStep.objects.count())

    again = oversells_detect(now=dt.datetime(2026, 11, 3, 6, 0, tzinfo=dt.UTC))

    # Seed 7's day has 5 true oversells, one of them a wholesale allocation seconds before the
    # order in the same poll (seen only in the observation stamped at the order itself).
    assert (result["oversells_truth"], result["oversells_detected"], result["matched"]) == (5, 5, 5)
    assert (result["precision"], result["recall"]) == (1.0, 1.0)
    assert (result["originating_event_accuracy"], result["root_cause_accuracy"]) == (1.0, 1.0)
    assert again.oversells == 0
    assert (Oversell.objects.count(), TraceStep.objects.count()) == recorded


def test_a_scenario_file_in_the_documented_format_is_evaluated(tmp_path):
    # One store, the stressed scenario's faults, a few hours: the file, not a shipped name.
    scenario = json.loads((SCENARIOS / "stressed.json").read_text())
    scenario.update(name="one-store-file", seed=5)
    scenario["locations"] = scenario["locations"][:1]
    code = scenario["locations"][0]["code"]
    scenario["channels"] = [
        {**channel, "locations": [code]} for channel in scenario["channels"] if code in channel.get("locations", [code])
    ]
    path = tmp_path / "one-store.json"
    path.write_text(json.dumps(scenario))

    result = tracing_evaluate(scenario_name=str(path), seed=None, days=0.25, step_minutes=5)

    assert result["scenario"] == "one-store-file"
    assert result["oversells_truth"] > 0
    assert (result["precision"], result["recall"]) == (1.0, 1.0)
    assert set(result["hop_lag_p50_relative_error"]["wms_erp"]) == {code}

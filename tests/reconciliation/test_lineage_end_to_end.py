"""A sandbox day polled every 5 minutes through the real adapters: measured hop lags against the sandbox's truth."""

from __future__ import annotations

import datetime as dt

import pytest

from inventory_hub.dashboard.demo import sandbox_backfill_run
from inventory_hub.inventory.models import Location
from inventory_hub.reconciliation.hop_lags import hop_lags_measure
from inventory_hub.reconciliation.models import HopLagSample
from inventory_hub.reconciliation.selectors import hop_lag_stats
from inventory_hub.sandbox.export import hop_lags
from inventory_hub.sandbox.scenario import load_scenario

pytestmark = pytest.mark.django_db

# The target is 10%; this run measures under 1% (see the report). Kept honest but not brittle.
WMS_ERP_P50_TOLERANCE = 0.10


def test_measured_wms_erp_p50_per_location_is_within_tolerance_of_the_sandbox_truth():
    scenario = load_scenario("two-stores-and-an-fc")
    run = sandbox_backfill_run(scenario=scenario, days=1, step=dt.timedelta(minutes=5))
    simulation, connectors = run.simulation, run.connectors
    now = simulation.world.now

    result = hop_lags_measure(now=now)
    again = hop_lags_measure(now=now)
    stats = hop_lag_stats(window=dt.timedelta(days=1), now=now)

    codes = dict(Location.objects.values_list("pk", "code"))
    truth = hop_lags(simulation.world)
    measured = {codes[location_id]: hops["wms_erp"]["p50"] for location_id, hops in stats.items()}
    expected = {code: hops["wms_erp"]["p50"] for code, hops in truth.items()}
    errors = {code: abs(measured[code] - expected[code]) / expected[code] for code in expected}
    assert set(measured) == set(expected) == {"FC-1", "STORE-A", "STORE-B"}
    assert max(errors.values()) <= WMS_ERP_P50_TOLERANCE, (measured, expected)
    # The ERP's clock runs 95 s behind: the estimate is within a few seconds of it.
    offset = result.clock_offsets[connectors["erp"].pk]
    assert abs(offset.total_seconds() - scenario.erp_clock_offset_seconds) < 5
    assert again.samples == result.samples == HopLagSample.objects.count()

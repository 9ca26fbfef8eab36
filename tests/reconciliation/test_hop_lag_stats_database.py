"""hop_lag_stats computes its percentiles in the database on PostgreSQL: the same numbers as lineage.lag_stats."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from inventory_hub.reconciliation.lineage import lag_stats
from inventory_hub.reconciliation.models import HopLagSample
from inventory_hub.reconciliation.selectors import hop_lag_stats
from tests.factories import LocationFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_match_lag_stats_for_odd_even_and_tiny_counts(seed):
    rng = random.Random(seed)  # noqa: S311 (test data)
    locations = [LocationFactory(), LocationFactory()]
    expected: dict[int, dict[str, dict[str, float | int]]] = {}
    rows = []
    for location in locations:
        for hop, count in (("wms_erp", rng.randint(1, 3)), ("erp_storefront", rng.randint(20, 41))):
            lags = [round(rng.uniform(0, 3600), 3) for _ in range(count)]
            for n, lag in enumerate(lags):
                at = NOW - dt.timedelta(minutes=n + 1)
                rows.append(
                    HopLagSample(
                        location=location,
                        sku=f"S{n}",
                        hop=hop,
                        wms_changed_at=at,
                        reflected_at=at + dt.timedelta(seconds=lag),
                        lag_seconds=lag,
                        method="value_match",
                    )
                )
            stats = lag_stats(lags)
            assert stats is not None
            expected.setdefault(location.pk, {})[hop] = {
                "p50": stats.p50,
                "p95": stats.p95,
                "max": stats.max,
                "count": stats.count,
            }
        # Left out: undatable changes, pending ones and changes outside the window.
        rows.append(
            HopLagSample(
                location=location,
                sku="U",
                hop="wms_erp",
                wms_changed_at=NOW,
                reflected_at=NOW,
                lag_seconds=0.0,
                method="unchanged",
            )
        )
        rows.append(HopLagSample(location=location, sku="P", hop="wms_erp", wms_changed_at=NOW, method="value_match"))
        rows.append(
            HopLagSample(
                location=location,
                sku="O",
                hop="wms_erp",
                wms_changed_at=NOW - dt.timedelta(days=2),
                reflected_at=NOW,
                lag_seconds=99999.0,
                method="value_match",
            )
        )
    HopLagSample.objects.bulk_create(rows)

    found = hop_lag_stats(window=dt.timedelta(days=1), now=NOW)

    assert found.keys() == expected.keys()
    for location_id, hops in expected.items():
        for hop, stats in hops.items():
            assert found[location_id][hop]["count"] == stats["count"]
            for key in ("p50", "p95", "max"):
                assert found[location_id][hop][key] == pytest.approx(stats[key], abs=1e-6), (location_id, hop, key)

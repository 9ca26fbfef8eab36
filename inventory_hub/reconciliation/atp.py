"""Expected ATP per (pool, location, SKU): what a storefront should show, from WMS truth and the
allocation rules in force now (DESIGN.md §3). The number other tools pull instead of a lagged
ERP figure (issue 7)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.utils import timezone

from inventory_hub.connectors.models import Role
from inventory_hub.inventory import selectors as inventory_selectors
from inventory_hub.inventory.models import Pool
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.reconciliation import selectors
from inventory_hub.reconciliation.comparable import HUB_DEFAULT_RULE, expected_atp, key_comparables


@dataclasses.dataclass(frozen=True, slots=True)
class ExpectedAtp:
    """One pool's promise for one (location, SKU); pool None: the location is in no pool (hub default)."""

    pool_id: int | None
    pool_code: str | None
    channel_id: int | None  # the rule's channel; None for a pool-wide rule
    location_id: int
    sku: str
    wms_comparable: int  # on hand in the boundary's bins minus allocated, every WMS summed
    expected_atp: int
    rule: RuleValues
    wms_changed_at: dt.datetime | None


def expected_atp_list(*, location_id: int, skus: Iterable[str], at: dt.datetime | None = None) -> list[ExpectedAtp]:
    """Expected ATP of every active rule covering the location, for each SKU the WMS reports there.

    A SKU no WMS reports is left out: with no truth there is no promise to compute.
    """
    wanted = frozenset(skus)
    if not wanted:
        return []
    at = at or timezone.now()
    connectors = selectors.reconciliation_connector_list()
    observations = selectors.key_observation_map(
        scope={location_id: wanted},
        connectors={Role.WMS: connectors[Role.WMS]},
        excluded_bins=selectors.wms_excluded_bin_map(connector_ids=[c.pk for c in connectors[Role.WMS]]),
        rules={},
    )
    pool_ids = set(Pool.locations.through.objects.filter(location_id=location_id).values_list("pool_id", flat=True))
    rules = [
        (rule, rule_values)
        for rule, rule_values in inventory_selectors.allocation_rule_current_list(at=at)
        if rule.is_active and rule_values is not None and rule.pool_id in pool_ids
    ]
    promises = [(rule.pool_id, rule.pool.code, rule.channel_id, values) for rule, values in rules] or [
        (None, None, None, HUB_DEFAULT_RULE)
    ]
    results = []
    for (_, sku), observation in sorted(observations.items()):
        values = key_comparables(observation)
        if values.wms is None:
            continue
        for pool_id, pool_code, channel_id, rule_values in promises:
            results.append(
                ExpectedAtp(
                    pool_id=pool_id,
                    pool_code=pool_code,
                    channel_id=channel_id,
                    location_id=location_id,
                    sku=sku,
                    wms_comparable=values.wms,
                    expected_atp=expected_atp(values.wms, rule_values),
                    rule=rule_values,
                    wms_changed_at=values.wms_changed_at,
                )
            )
    return results

"""Oversell exposure: phantom units per location now (in SQL), recorded over time for the overview.

Phantom units of a key = max(0, storefront available − WMS comparable); summed per location it is
the live oversell exposure (DESIGN.md §3). `reconciliation.selectors.exposure_by_location` computes
the same figure in Python from every position; here one aggregate does it in the database, so it
can run after every poll.

Why recorded rather than recomputed: the figure at a past instant would need every key's WMS and
storefront history folded to that instant (the largest table), and even "now" is an aggregate over
all of a location's positions — too slow for a page that should answer in milliseconds. So each
reconciliation records it for the locations whose keys it looked at (after a poll: the locations
the poll changed; the periodic sweep: every location), writing a row only when the figure changed:
at most one row per location per poll, usually far fewer, and the overview reads it by index.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import OuterRef, Subquery

from inventory_hub.connectors.models import PollRun, Role
from inventory_hub.inventory.models import Location
from inventory_hub.observations.models import InventoryPosition, PositionChange
from inventory_hub.reconciliation import selectors
from inventory_hub.reconciliation.models import ExposureSample


@dataclasses.dataclass(frozen=True, slots=True)
class Exposure:
    """One location's phantom units and how many SKUs carry them."""

    phantom_units: int
    skus: int


def _ids_in(ids: Iterable[int]) -> str:
    literals = ", ".join(str(int(pk)) for pk in ids)
    return f"connector_id IN ({literals})" if literals else "1 = 0"


def exposure_compute(*, location_ids: Iterable[int] | None = None) -> dict[int, Exposure]:
    """location_id → phantom units now, for every location an enabled WMS or storefront reports (one query).

    As `selectors.exposure_by_location`: only keys with a WMS location total and a storefront
    position count; the WMS comparable is the WMS totals' on hand − allocated minus the on hand of
    the bins their boundary excludes, summed over WMS connectors; of several storefronts the one
    promising the most speaks for the key.
    """
    connectors = selectors.reconciliation_connector_list()
    wms_ids = [c.pk for c in connectors.get(Role.WMS, [])]
    storefront_ids = [c.pk for c in connectors.get(Role.STOREFRONT, [])]
    if not wms_ids or not storefront_ids:
        return {}
    params: list[object] = []
    excluded_cases = ""
    for (connector_id, location_id), bins in sorted(selectors.wms_excluded_bin_map(connector_ids=wms_ids).items()):
        params += sorted(bins)
        excluded_cases += (
            f" WHEN connector_id = {int(connector_id)} AND location_id = {int(location_id)}"
            f" AND bin IN ({', '.join(['%s'] * len(bins))}) THEN -on_hand"
        )
    where = f"{_ids_in(wms_ids + storefront_ids)}"
    if location_ids is not None:
        ids = sorted({int(pk) for pk in location_ids})
        if not ids:
            return {}
        where += f" AND location_id IN ({', '.join(str(pk) for pk in ids)})"
    is_wms, is_storefront = _ids_in(wms_ids), _ids_in(storefront_ids)
    phantom = "wms_totals > 0 AND shown IS NOT NULL AND shown > wms"
    # Built from the table name, int literals and placeholders only: bin names are bound parameters.
    sql = f"""
        WITH keyed AS (
            SELECT location_id, sku,
                SUM(CASE WHEN {is_wms} AND bin = '' THEN 1 ELSE 0 END) AS wms_totals,
                SUM(CASE WHEN {is_wms} AND bin = '' THEN on_hand - allocated{excluded_cases} ELSE 0 END) AS wms,
                MAX(CASE WHEN {is_storefront} AND bin = '' THEN available END) AS shown
            FROM {InventoryPosition._meta.db_table}
            WHERE {where}
            GROUP BY location_id, sku
        )
        SELECT location_id,
               SUM(CASE WHEN {phantom} THEN shown - wms ELSE 0 END),
               SUM(CASE WHEN {phantom} THEN 1 ELSE 0 END)
        FROM keyed
        GROUP BY location_id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {location_id: Exposure(int(units or 0), int(skus or 0)) for location_id, units, skus in cursor}


def exposure_record(*, now: dt.datetime, location_ids: Iterable[int] | None = None) -> int:
    """Record the phantom units of the given locations (every reported one when None) where they changed.

    Returns the number of rows written. Safe to run twice: an unchanged figure writes nothing and
    the same instant twice is ignored by the unique constraint.
    """
    current = exposure_compute(location_ids=location_ids)
    if not current:
        return 0
    latest = exposure_latest_map(location_ids=current)
    rows = [
        ExposureSample(location_id=location_id, recorded_at=now, phantom_units=value.phantom_units, skus=value.skus)
        for location_id, value in sorted(current.items())
        if (found := latest.get(location_id)) is None
        # never before a newer sample: the step line stays in time order
        or ((found[1], found[2]) != (value.phantom_units, value.skus) and found[0] < now)
    ]
    ExposureSample.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def exposure_record_after_poll(*, poll_run_id: int, now: dt.datetime) -> int:
    """Record the phantom units of the locations one poll changed."""
    run = PollRun.objects.filter(pk=poll_run_id).values_list("started_at", flat=True).first()
    if run is None:
        return 0
    # The poll's history rows are stamped when it stored them, so its start bounds the index range.
    location_ids = set(
        PositionChange.objects.filter(changed_at__gte=run, poll_run_id=poll_run_id)
        .values_list("location_id", flat=True)
        .distinct()
    )
    return exposure_record(now=now, location_ids=location_ids) if location_ids else 0


def exposure_latest_map(*, location_ids: Iterable[int] | None = None) -> dict[int, tuple[dt.datetime, int, int]]:
    """location_id → (since, phantom units, SKUs) of its latest sample (one query, an index read per location)."""
    latest = ExposureSample.objects.filter(location=OuterRef("pk")).order_by("-recorded_at")
    locations = Location.objects.all() if location_ids is None else Location.objects.filter(pk__in=list(location_ids))
    rows = locations.annotate(
        at=Subquery(latest.values("recorded_at")[:1]),
        units=Subquery(latest.values("phantom_units")[:1]),
        skus=Subquery(latest.values("skus")[:1]),
    ).values_list("pk", "at", "units", "skus")
    return {pk: (at, units, skus) for pk, at, units, skus in rows if at is not None}


def exposure_history(
    *, since: dt.datetime, until: dt.datetime, location_ids: Iterable[int] | None = None
) -> dict[int, list[tuple[dt.datetime, int]]]:
    """location_id → (instant, phantom units) steps over [since, until], starting with the value in force at `since` (two queries)."""
    found: dict[int, list[tuple[dt.datetime, int]]] = defaultdict(list)
    before = ExposureSample.objects.filter(location=OuterRef("pk"), recorded_at__lte=since).order_by("-recorded_at")
    locations = Location.objects.all() if location_ids is None else Location.objects.filter(pk__in=list(location_ids))
    for pk, units in locations.annotate(units=Subquery(before.values("phantom_units")[:1])).values_list("pk", "units"):
        if units is not None:
            found[pk].append((since, units))
    samples = ExposureSample.objects.filter(recorded_at__gt=since, recorded_at__lte=until)
    if location_ids is not None:
        samples = samples.filter(location_id__in=list(location_ids))
    for location_id, at, units in samples.order_by("recorded_at").values_list(
        "location_id", "recorded_at", "phantom_units"
    ):
        found[location_id].append((at, units))
    return dict(found)

"""Reads of the pools page: each canonical pool beside every system's boundary, and their mismatches.

A page costs a fixed number of queries whatever the number of pools, boundaries or entries:
pools (+ their locations), boundaries (+ their entries), connectors, location mappings. The
comparison itself (`pool_compare`) is pure: plain values in, rows and plain-words mismatches out.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, QuerySet, Sum

from inventory_hub.connectors.models import Connector, LocationMapping, Role
from inventory_hub.inventory import selectors as inventory_selectors
from inventory_hub.inventory.models import Location, Pool, PoolBoundary, PoolBoundaryEntry, PoolChange
from inventory_hub.observations.models import InventoryPosition

ROLE_ORDER = {Role.WMS: 0, Role.ERP: 1, Role.STOREFRONT: 2}
# How each system draws a pool, in the glossary's words.
ROLE_BOUNDARY_WORDS = {
    Role.WMS: "sites and bins",
    Role.ERP: "warehouses",
    Role.STOREFRONT: "locations",
}
POOLS_PER_PAGE = 10


@dataclasses.dataclass(frozen=True, slots=True)
class Mapping_:
    """What a connector's own location id maps to."""

    external_id: str
    external_name: str
    location_id: int | None
    location_code: str | None
    location_name: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class EntryView:
    """One boundary entry, with the hub location its external id maps to."""

    pk: int
    external_location_id: str
    external_name: str
    bin: str
    included: bool
    location_id: int | None
    location_code: str | None
    known: bool  # the connector has a location mapping for this id


@dataclasses.dataclass(frozen=True, slots=True)
class BoundaryView:
    """One system's boundary of a pool (boundary None: the system has not drawn it yet)."""

    connector: Connector
    boundary: PoolBoundary | None
    entries: tuple[EntryView, ...]

    @property
    def role_words(self) -> str:
        return ROLE_BOUNDARY_WORDS.get(self.connector.role, "locations")


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    """How one system's boundary covers one hub location."""

    covered: bool
    names: tuple[str, ...]  # the system's own names for the location (usually one)
    excluded_bins: tuple[str, ...]
    differs: bool  # coverage or excluded bins disagree with the pool / the WMS


@dataclasses.dataclass(frozen=True, slots=True)
class LocationRow:
    location_id: int
    code: str
    name: str
    in_pool: bool
    cells: tuple[Cell, ...]  # one per BoundaryView, in the same order


@dataclasses.dataclass(frozen=True, slots=True)
class Mismatch:
    """A disagreement in plain words; `role` is the system it is about ("" for the pool itself)."""

    role: str
    message: str

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label) if self.role in Role.values else ""


@dataclasses.dataclass(frozen=True, slots=True)
class PoolComparison:
    pool: Pool
    boundaries: tuple[BoundaryView, ...]
    rows: tuple[LocationRow, ...]
    mismatches: tuple[Mismatch, ...]


def _system(connector: Connector) -> str:
    return f"{connector.name} ({connector.get_role_display()})"


def _join(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def pool_compare(
    *,
    pool: Pool,
    locations: Sequence[Location],
    boundaries: Sequence[BoundaryView],
    all_locations: Mapping[int, Location],
) -> PoolComparison:
    """The pool's locations (and any other a boundary reaches) × each system, with the mismatches.

    Coverage: a system covers a hub location when an included entry names one of its own ids that
    maps there. Bins: only the WMS reports bins; a bin the WMS boundary excludes at a site is
    counted by any other system that covers the site without excluding that bin (an ERP warehouse
    or storefront location takes the whole site), which reconciliation sees as `boundary` gaps.
    """
    in_pool = {location.pk for location in locations}
    covered: list[dict[int, list[str]]] = []
    excluded: list[dict[int, set[str]]] = []
    mismatches: list[Mismatch] = []
    for view in boundaries:
        cover: dict[int, list[str]] = defaultdict(list)
        out: dict[int, set[str]] = defaultdict(set)
        for entry in view.entries:
            if entry.location_id is None:
                what = "is not mapped to a hub location" if entry.known else "is not one of its known locations"
                mismatches.append(
                    Mismatch(
                        view.connector.role,
                        f"{_system(view.connector)} names '{entry.external_name or entry.external_location_id}', "
                        f"which {what}: its stock in this pool cannot be compared.",
                    )
                )
                continue
            if entry.included:
                cover[entry.location_id].append(entry.external_name or entry.external_location_id)
            elif entry.bin:
                out[entry.location_id].add(entry.bin)
        covered.append(cover)
        excluded.append(out)

    for view, cover in zip(boundaries, covered, strict=True):
        if view.boundary is None:
            mismatches.append(
                Mismatch(
                    view.connector.role,
                    f"{_system(view.connector)} has no boundary for this pool yet: say which of its "
                    f"{view.role_words} the pool takes.",
                )
            )
            continue
        missing = sorted(all_locations[i].code for i in in_pool - cover.keys())
        if missing:
            mismatches.append(
                Mismatch(
                    view.connector.role,
                    f"{_system(view.connector)} does not cover {_join(missing)}, which the pool includes.",
                )
            )
        extra = sorted(cover.keys() - in_pool)
        for location_id in extra:
            names = _join([f"'{name}'" for name in cover[location_id]])
            mismatches.append(
                Mismatch(
                    view.connector.role,
                    f"{_system(view.connector)} counts {names} ({all_locations[location_id].code}), "
                    "which is not in the pool.",
                )
            )

    # Bins, against the WMS: (bin, who counts it, what excludes it) → the sites where it happens.
    wms_out: dict[int, set[str]] = defaultdict(set)
    for view, out in zip(boundaries, excluded, strict=True):
        if view.connector.role == Role.WMS:
            for location_id, bins in out.items():
                wms_out[location_id] |= bins
    wms_views = [i for i, view in enumerate(boundaries) if view.connector.role == Role.WMS]
    counted_by_others: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    excluded_by_others: dict[tuple[str, str], list[str]] = defaultdict(list)
    for location_id in sorted(in_pool, key=lambda i: all_locations[i].code):
        code = all_locations[location_id].code
        for bin_name in sorted(wms_out.get(location_id, ())):
            counting = tuple(
                boundaries[i].connector.name
                for i, (cover, out) in enumerate(zip(covered, excluded, strict=True))
                if boundaries[i].connector.role != Role.WMS
                and location_id in cover
                and bin_name not in out.get(location_id, ())
            )
            if counting:
                counted_by_others[(bin_name, counting)].append(code)
        for i, (view, cover, out) in enumerate(zip(boundaries, covered, excluded, strict=True)):
            if view.connector.role == Role.WMS or location_id not in cover:
                continue
            for bin_name in sorted(out.get(location_id, set()) - wms_out.get(location_id, set())):
                if any(location_id in covered[w] for w in wms_views):
                    excluded_by_others[(bin_name, boundaries[i].connector.name)].append(code)
    role_of = {view.connector.name: view.connector.role for view in boundaries}
    for (bin_name, counting), codes in counted_by_others.items():
        whole = "takes whole sites" if len(counting) == 1 else "take whole sites"
        mismatches.append(
            Mismatch(
                role_of[counting[0]],
                f"{_join(list(counting))} {whole}, so {_plural(len(counting), 'it counts', 'they count')} "
                f"bin {bin_name} at {_join(codes)}, which the WMS boundary excludes: units there show as "
                "boundary discrepancies.",
            )
        )
    for (bin_name, name), codes in excluded_by_others.items():
        mismatches.append(
            Mismatch(Role.WMS, f"The WMS counts bin {bin_name} at {_join(codes)}, which {name}'s boundary excludes.")
        )

    shown = sorted(
        in_pool | {i for cover in covered for i in cover}, key=lambda i: (i not in in_pool, all_locations[i].code)
    )
    rows = []
    for location_id in shown:
        cells = []
        for view, cover, out in zip(boundaries, covered, excluded, strict=True):
            bins = tuple(sorted(out.get(location_id, ())))
            is_covered = location_id in cover
            if view.connector.role == Role.WMS:
                bins_differ = False
            else:
                bins_differ = is_covered and bool(wms_out.get(location_id, set()) ^ set(bins))
            cells.append(
                Cell(
                    covered=is_covered,
                    names=tuple(cover.get(location_id, ())),
                    excluded_bins=bins,
                    differs=view.boundary is not None and ((location_id in in_pool) != is_covered or bins_differ),
                )
            )
        location = all_locations[location_id]
        rows.append(
            LocationRow(
                location_id=location_id,
                code=location.code,
                name=location.name,
                in_pool=location_id in in_pool,
                cells=tuple(cells),
            )
        )
    return PoolComparison(pool=pool, boundaries=tuple(boundaries), rows=tuple(rows), mismatches=tuple(mismatches))


def _connectors() -> list[Connector]:
    connectors = Connector.objects.only("pk", "name", "role", "adapter", "enabled")
    return sorted(connectors, key=lambda c: (ROLE_ORDER.get(c.role, 9), c.name))


def _mappings(connector_ids: Iterable[int]) -> dict[tuple[int, str], Mapping_]:
    rows = LocationMapping.objects.filter(connector_id__in=list(connector_ids)).values_list(
        "connector_id", "external_id", "external_name", "location_id", "location__code", "location__name"
    )
    return {
        (connector_id, external_id): Mapping_(external_id, name, location_id, code, location_name)
        for connector_id, external_id, name, location_id, code, location_name in rows
    }


def _pool_comparisons(pools: Sequence[Pool]) -> list[PoolComparison]:
    connectors = _connectors()
    mappings = _mappings(c.pk for c in connectors)
    boundaries = (
        PoolBoundary.objects.filter(pool__in=pools)
        .select_related("updated_by")
        .prefetch_related(
            Prefetch("entries", queryset=PoolBoundaryEntry.objects.order_by("external_location_id", "bin"))
        )
    )
    by_pool: dict[int, dict[int, PoolBoundary]] = defaultdict(dict)
    for boundary in boundaries:
        by_pool[boundary.pool_id][boundary.connector_id] = boundary
    # Every location a row may show: the pools' own, and any a boundary reaches through a mapping.
    all_locations = {location.pk: location for pool in pools for location in pool.locations.all()}
    for mapping in mappings.values():
        if mapping.location_id is not None and mapping.location_id not in all_locations:
            all_locations[mapping.location_id] = Location(
                pk=mapping.location_id, code=mapping.location_code or "", name=mapping.location_name or ""
            )
    comparisons = []
    for pool in pools:
        views = []
        for connector in connectors:
            boundary = by_pool[pool.pk].get(connector.pk)
            if boundary is None and not connector.enabled:
                continue  # a disabled system without a boundary has nothing to say about the pool
            entries = []
            for entry in boundary.entries.all() if boundary else ():
                mapping = mappings.get((connector.pk, entry.external_location_id))
                entries.append(
                    EntryView(
                        pk=entry.pk,
                        external_location_id=entry.external_location_id,
                        external_name=mapping.external_name if mapping else "",
                        bin=entry.bin,
                        included=entry.included,
                        location_id=mapping.location_id if mapping else None,
                        location_code=mapping.location_code if mapping else None,
                        known=mapping is not None,
                    )
                )
            views.append(BoundaryView(connector=connector, boundary=boundary, entries=tuple(entries)))
        comparisons.append(
            pool_compare(pool=pool, locations=list(pool.locations.all()), boundaries=views, all_locations=all_locations)
        )
    return comparisons


def _pools() -> QuerySet[Pool]:
    return Pool.objects.select_related("channel").prefetch_related(
        Prefetch("locations", queryset=Location.objects.only("pk", "code", "name").order_by("code"))
    )


def pool_comparison_page(*, page: int = 1) -> tuple[Page[Pool], list[PoolComparison]]:
    """One page of pools, each compared with every system's boundary (seven queries)."""
    page_obj = Paginator(_pools().order_by("code"), POOLS_PER_PAGE).get_page(page)
    return page_obj, _pool_comparisons(list(page_obj.object_list))


def pool_get(*, pool_id: int) -> Pool:
    """One pool with its channel and locations; Pool.DoesNotExist when there is none."""
    return _pools().get(pk=pool_id)


def pool_comparison(*, pool: Pool) -> PoolComparison:
    return _pool_comparisons([pool])[0]


def excluded_bin_units(*, comparison: PoolComparison) -> dict[tuple[str, str], int]:
    """(location code, bin) → units the WMS reports now in each bin its boundary excludes (one query)."""
    wanted: dict[tuple[int, int], set[str]] = defaultdict(set)
    for view in comparison.boundaries:
        if view.connector.role != Role.WMS:
            continue
        for entry in view.entries:
            if not entry.included and entry.bin and entry.location_id is not None:
                wanted[(view.connector.pk, entry.location_id)].add(entry.bin)
    if not wanted:
        return {}
    codes = {row.location_id: row.code for row in comparison.rows}
    rows = (
        InventoryPosition.objects.filter(
            connector_id__in={c for c, _ in wanted},
            location_id__in={loc for _, loc in wanted},
            bin__in={b for bins in wanted.values() for b in bins},
        )
        .values_list("connector_id", "location_id", "bin")
        .annotate(units=Sum("on_hand"))
        .order_by()
    )
    units: dict[tuple[str, str], int] = defaultdict(int)
    for connector_id, location_id, bin_name, total in rows:
        if bin_name in wanted.get((connector_id, location_id), ()):
            units[(codes.get(location_id, "?"), bin_name)] += total or 0
    return dict(units)


def connector_external_choices(*, connector_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """connector id → its own location ids with a label, for the boundary editor's select (one query)."""
    choices: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for (connector_id, _), mapping in sorted(_mappings(connector_ids).items(), key=lambda item: item[0]):
        where = mapping.location_code or "not mapped to a hub location"
        label = f"{mapping.external_name or mapping.external_id} → {where}"
        choices[connector_id].append((mapping.external_id, label))
    return dict(choices)


def pool_history(*, pool: Pool) -> list[PoolChange]:
    return inventory_selectors.pool_change_list(pool=pool)

"""The four reports as streamed rows: each a header, a queryset of tuples, and a row mapper.

Every report covers [date_from 00:00, date_to + 1 day 00:00) in UTC and a set of locations:
  discrepancies   those open at any time in the range (opened before its end, not closed before its start)
  oversells       orders placed in the range
  hop_lags        one row per measured sample (a WMS change and when each hop reflected it), by
                  WMS change time. Rows rather than p50/p95/max per location × hop: the page already
                  shows those, and from the rows a spreadsheet can cut any other percentile, window
                  or SKU, and see the changes not reflected yet (empty lag) that a summary hides.
  rule_changes    allocation rule versions created in the range, of rules whose pool holds one of
                  the locations, each with the values it replaced (empty for a rule's first version)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet, Subquery

from inventory_hub.inventory.models import AllocationRuleVersion, Location, Pool
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass, Hop, HopLagSample
from inventory_hub.reports.models import ReportJob, ReportKind, ReportSchedule
from inventory_hub.reports.writers import Cell
from inventory_hub.tracing.models import Oversell, RootCause

# Rows fetched per round trip (a server-side cursor on PostgreSQL): memory stays flat at any size.
CHUNK_SIZE = 2000

HOPS = dict(Hop.choices)
CLASSES = dict(DiscrepancyClass.choices)
ROOT_CAUSES = dict(RootCause.choices)
METHODS = dict(HopLagSample.Method.choices)


@dataclass(frozen=True)
class Column:
    header: str
    width: int = 14  # XLSX column width, in characters


@dataclass(frozen=True)
class Report:
    """One report's rows: the header, the rows as they stream from the database, and an estimate."""

    title: str
    columns: tuple[Column, ...]
    queryset: QuerySet[Any, tuple[Any, ...]]
    row: Callable[[tuple[Any, ...]], Sequence[Cell]]

    @property
    def header(self) -> list[str]:
        return [column.header for column in self.columns]

    @property
    def widths(self) -> list[int]:
        return [column.width for column in self.columns]

    def count(self) -> int:
        return self.queryset.count()

    def rows(self) -> Iterator[Sequence[Cell]]:
        for values in self.queryset.iterator(chunk_size=CHUNK_SIZE):
            yield self.row(values)


def period_bounds(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first day 00:00, the day after the last 00:00) in UTC."""
    start = dt.datetime.combine(date_from, dt.time.min, tzinfo=dt.UTC)
    return start, dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


def _discrepancies(start: dt.datetime, end: dt.datetime, location_ids: list[int], now: dt.datetime) -> Report:
    queryset = (
        Discrepancy.objects.filter(location_id__in=location_ids, opened_at__lt=end)
        .exclude(closed_at__lt=start)
        .order_by("opened_at", "pk")
        .values_list(
            "location__code",
            "sku",
            "hop",
            "classification",
            "opened_at",
            "closed_at",
            "peak_gap",
            "upstream_quantity",
            "downstream_quantity",
            "acknowledged_at",
            "acknowledged_by__username",
            "acknowledgement_note",
        )
    )

    def row(values: tuple[Any, ...]) -> Sequence[Cell]:
        location, sku, hop, cls, opened, closed, peak, upstream, downstream, acked, acked_by, note = values
        # An open discrepancy's duration so far, as of when the report was generated.
        duration = ((closed or now) - opened).total_seconds()
        return (
            location,
            sku,
            HOPS.get(hop, hop),
            CLASSES.get(cls, cls),
            "open" if closed is None else "closed",
            opened,
            closed,
            round(duration),
            peak,
            upstream,
            downstream,
            downstream - upstream,
            acked,
            acked_by or "",
            note,
        )

    return Report(
        title="Discrepancies",
        columns=(
            Column("Location", 12),
            Column("SKU", 16),
            Column("Hop", 18),
            Column("Class", 10),
            Column("State", 8),
            Column("Opened (UTC)", 20),
            Column("Closed (UTC)", 20),
            Column("Duration (s)", 12),
            Column("Peak gap", 10),
            Column("Upstream quantity", 10),
            Column("Downstream quantity", 10),
            Column("Gap", 8),
            Column("Acknowledged (UTC)", 20),
            Column("Acknowledged by", 14),
            Column("Acknowledgement note", 40),
        ),
        queryset=queryset,
        row=row,
    )


def _oversells(start: dt.datetime, end: dt.datetime, location_ids: list[int], now: dt.datetime) -> Report:
    queryset = (
        Oversell.objects.filter(location_id__in=location_ids, ordered_at__gte=start, ordered_at__lt=end)
        .order_by("ordered_at", "pk")
        .values_list(
            "ordered_at",
            "location__code",
            "sku",
            "quantity",
            "shown",
            "truth",
            "shortfall",
            "root_cause",
            "originating_event__kind",
            "originating_event__source_event_id",
            "originating_event__occurred_at",
            "explanation",
        )
    )

    def row(values: tuple[Any, ...]) -> Sequence[Cell]:
        *head, cause, event_kind, event_id, event_at, explanation = values
        return (*head, ROOT_CAUSES.get(cause, cause), event_kind or "", event_id or "", event_at, explanation)

    return Report(
        title="Oversell root causes",
        columns=(
            Column("Ordered (UTC)", 20),
            Column("Location", 12),
            Column("SKU", 16),
            Column("Quantity", 9),
            Column("Shown", 8),
            Column("Truth", 8),
            Column("Shortfall", 9),
            Column("Root cause", 28),
            Column("Originating event", 18),
            Column("Event id", 18),
            Column("Event time (UTC)", 20),
            Column("Explanation", 60),
        ),
        queryset=queryset,
        row=row,
    )


def _hop_lags(start: dt.datetime, end: dt.datetime, location_ids: list[int], now: dt.datetime) -> Report:
    queryset = (
        HopLagSample.objects.filter(location_id__in=location_ids, wms_changed_at__gte=start, wms_changed_at__lt=end)
        .order_by("wms_changed_at", "pk")
        .values_list("location__code", "sku", "hop", "wms_changed_at", "reflected_at", "lag_seconds", "method")
    )

    def row(values: tuple[Any, ...]) -> Sequence[Cell]:
        location, sku, hop, changed, reflected, lag, method = values
        return (location, sku, HOPS.get(hop, hop), changed, reflected, lag, METHODS.get(method, method))

    return Report(
        title="Hop lags",
        columns=(
            Column("Location", 12),
            Column("SKU", 16),
            Column("Hop", 26),
            Column("WMS changed (UTC)", 20),
            Column("Reflected (UTC)", 20),
            Column("Lag (s)", 10),
            Column("Measured by", 18),
        ),
        queryset=queryset,
        row=row,
    )


def _rule_changes(start: dt.datetime, end: dt.datetime, location_ids: list[int], now: dt.datetime) -> Report:
    fields = AllocationRuleVersion.VALUE_FIELDS
    previous = AllocationRuleVersion.objects.filter(
        rule_id=OuterRef("rule_id"), number__lt=OuterRef("number")
    ).order_by("-number")
    pool_at_locations = Pool.locations.through.objects.filter(
        pool_id=OuterRef("rule__pool_id"), location_id__in=location_ids
    )
    queryset = (
        AllocationRuleVersion.objects.filter(created_at__gte=start, created_at__lt=end)
        .filter(Exists(pool_at_locations))
        .annotate(**{f"old_{name}": Subquery(previous.values(name)[:1]) for name in fields})
        .order_by("created_at", "pk")
        .values_list(
            "created_at",
            "author_name",
            "rule__pool__code",
            "rule__channel__code",
            "number",
            "effective_from",
            "reason",
            *(f"old_{name}" for name in fields),
            *fields,
        )
    )
    labels = {field: AllocationRuleVersion._meta.get_field(field).verbose_name for field in fields}

    def row(values: tuple[Any, ...]) -> Sequence[Cell]:
        changed_at, author, pool, channel, number, effective, reason = values[:7]
        old, new = values[7 : 7 + len(fields)], values[7 + len(fields) :]
        changes = "; ".join(
            f"{labels[name]} {'—' if before is None else before} → {after}"
            for name, before, after in zip(fields, old, new, strict=True)
            if before != after
        )
        pairs = [value for before, after in zip(old, new, strict=True) for value in (before, after)]
        return (changed_at, author, pool, channel or "all channels", number, effective, reason, changes, *pairs)

    value_columns = [
        Column(f"{labels[name].capitalize()} ({which})", 10) for name in fields for which in ("old", "new")
    ]
    return Report(
        title="Allocation rule changes",
        columns=(
            Column("Changed (UTC)", 20),
            Column("Who", 14),
            Column("Pool", 14),
            Column("Channel", 14),
            Column("Version", 8),
            Column("Effective from (UTC)", 20),
            Column("Why", 40),
            Column("Old → new", 50),
            *value_columns,
        ),
        queryset=queryset,
        row=row,
    )


REPORTS: dict[str, Callable[[dt.datetime, dt.datetime, list[int], dt.datetime], Report]] = {
    ReportKind.DISCREPANCIES: _discrepancies,
    ReportKind.OVERSELLS: _oversells,
    ReportKind.HOP_LAGS: _hop_lags,
    ReportKind.RULE_CHANGES: _rule_changes,
}


def report_get(
    *, kind: str, date_from: dt.date, date_to: dt.date, location_ids: Iterable[int], now: dt.datetime
) -> Report:
    """The report of `kind` over the UTC days date_from..date_to (both included) at the locations."""
    start, end = period_bounds(date_from, date_to)
    return REPORTS[kind](start, end, sorted(location_ids), now)


def _with_location_codes(jobs: list[ReportJob]) -> list[ReportJob]:
    codes = location_code_map({pk for job in jobs for pk in job.location_ids})
    for job in jobs:
        job.location_codes = [codes[pk] for pk in job.location_ids if pk in codes]
    return jobs


def report_job_recent_list(*, user_id: int, limit: int = 15) -> list[ReportJob]:
    """The user's latest export jobs, newest first, with the codes of the locations they cover."""
    return _with_location_codes(list(ReportJob.objects.filter(requested_by_id=user_id)[:limit]))


def report_job_get(*, job_id: int) -> ReportJob | None:
    """One export job with its location codes, or None."""
    job = ReportJob.objects.filter(pk=job_id).first()
    return None if job is None else _with_location_codes([job])[0]


def report_schedule_list() -> list[ReportSchedule]:
    """Every schedule with its locations, for the reports page."""
    return list(ReportSchedule.objects.prefetch_related("locations").order_by("kind", "frequency", "pk"))


def location_code_map(location_ids: Iterable[int]) -> dict[int, str]:
    """id → code of the given locations (those that still exist)."""
    return dict(Location.objects.filter(pk__in=list(location_ids)).values_list("pk", "code"))

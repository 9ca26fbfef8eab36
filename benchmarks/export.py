"""Report export benchmark: 1M discrepancy rows as CSV and XLSX through the real service (issue 7 item 3).

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/export.py [--rows 1000000] [--locations 100]

Creates a throwaway database (test_<name>), migrates it, fills the discrepancy table with one
INSERT … SELECT generate_series, then measures, each in a fresh forked process so its peak memory
is its own:
  1. baseline: PostgreSQL's own `COPY (SELECT … the same rows, joined and ordered …) TO STDOUT CSV`
     streamed to a file — the fastest a CSV of these rows can be made;
  2. the stream alone: the report's queryset iterated (`.values_list().iterator(chunk_size)`) and
     mapped to cells, writing nothing — what reading costs before any writer;
  3. `report_job_run()` writing CSV, then XLSX (openpyxl write-only), exactly as a worker does;
  4. for contrast, the same rows loaded into a list, as a non-streaming export would.
For each: seconds, rows/s, file size, max RSS of the process (and its RSS at start: the forked
interpreter with Django loaded), then in a second run under tracemalloc the peak of Python
allocations during the call (tracemalloc slows Python down, so it is not the timed run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2htYXJrLW9ubHktZmllbGQta2V5LTMyLWJ5dGU=")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from inventory_hub.inventory.models import Location  # noqa: E402
from inventory_hub.reconciliation.models import Discrepancy  # noqa: E402
from inventory_hub.reports import selectors, services  # noqa: E402
from inventory_hub.reports.models import ReportJob  # noqa: E402

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
DATE_FROM, DATE_TO = dt.date(2026, 10, 28), dt.date(2026, 11, 27)
TABLE = Discrepancy._meta.db_table
LOCATIONS = Location._meta.db_table

COPY_SQL = f"""
COPY (
  SELECT l.code, d.sku, d.hop, d.classification,
         CASE WHEN d.closed_at IS NULL THEN 'open' ELSE 'closed' END,
         to_char(d.opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
         to_char(d.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
         round(extract(epoch FROM coalesce(d.closed_at, %(now)s) - d.opened_at)),
         d.peak_gap, d.upstream_quantity, d.downstream_quantity, d.downstream_quantity - d.upstream_quantity,
         to_char(d.acknowledged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), u.username, d.acknowledgement_note
  FROM {TABLE} d JOIN {LOCATIONS} l ON l.id = d.location_id LEFT JOIN auth_user u ON u.id = d.acknowledged_by_id
  WHERE d.location_id = ANY(%(locations)s) AND d.opened_at < %(end)s AND (d.closed_at IS NULL OR d.closed_at >= %(start)s)
  ORDER BY d.opened_at, d.id
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def discrepancies_fill(*, rows: int, location_ids: list[int]) -> float:
    """`rows` closed discrepancies over the 30 days before NOW, in one INSERT … SELECT generate_series."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {TABLE} (location_id, sku, hop, classification, opened_at, closed_at, upstream_quantity,
                                 downstream_quantity, peak_gap, acknowledgement_note)
            SELECT (%(locations)s::bigint[])[1 + i %% %(n)s], 'SKU-' || lpad((i / %(n)s)::text, 7, '0'),
                   (ARRAY['wms_erp', 'erp_storefront', 'wms_storefront'])[1 + i %% 3],
                   (ARRAY['in_flight', 'stale', 'boundary', 'rule', 'drift'])[1 + i %% 5],
                   %(start)s + (i * interval '1 second') * (30 * 86400.0 / %(rows)s),
                   %(start)s + (i * interval '1 second') * (30 * 86400.0 / %(rows)s) + (60 + i %% 3600) * interval '1 second',
                   20 + i %% 80, 20 + i %% 80 + (i %% 7) - 3, 1 + i %% 7,
                   CASE WHEN i %% 10 = 0 THEN 'Known: recount pending at the store' ELSE '' END
            FROM generate_series(0, %(rows)s - 1) AS i
            """,
            {"locations": location_ids, "n": len(location_ids), "rows": rows, "start": NOW - dt.timedelta(days=30)},
        )
        cursor.execute(f"VACUUM ANALYZE {TABLE}")
    return time.perf_counter() - started


def _rss_now_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child(call: Callable[[], Any], traced: bool, queue: Any) -> None:
    start_rss = _rss_now_mib()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    connection.close()
    queue.put((seconds, result, start_rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, peak))


def measure(call: Callable[[], Any], *, traced: bool) -> tuple[float, Any, float, float, int]:
    """Run `call` in a forked process: (seconds, its result, RSS at start MiB, max RSS MiB, tracemalloc peak bytes)."""
    connection.close()  # the child opens its own connection; a shared socket would break both
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(call, traced, queue))
    process.start()
    outcome = queue.get()
    process.join()
    if process.exitcode:
        sys.exit(f"measurement failed (exit code {process.exitcode})")
    return outcome


def copy_baseline(path: Path, location_ids: list[int]) -> tuple[int, int]:
    start, end = selectors.period_bounds(DATE_FROM, DATE_TO)
    size = 0
    with connection.cursor() as cursor, path.open("wb") as file:
        params = {"now": NOW, "locations": location_ids, "start": start, "end": end}
        with cursor.cursor.copy(cursor.cursor.mogrify(COPY_SQL, params)) as copy:
            for block in copy:
                file.write(block)
                size += len(block)
    with path.open("rb") as file:
        rows = sum(1 for _ in file) - 1
    return rows, size


def stream_only(location_ids: list[int]) -> tuple[int, int]:
    report = selectors.report_get(
        kind="discrepancies", date_from=DATE_FROM, date_to=DATE_TO, location_ids=location_ids, now=NOW
    )
    return sum(1 for _ in report.rows()), 0


def in_memory(location_ids: list[int]) -> tuple[int, int]:
    report = selectors.report_get(
        kind="discrepancies", date_from=DATE_FROM, date_to=DATE_TO, location_ids=location_ids, now=NOW
    )
    rows = [report.row(values) for values in report.queryset]  # what streaming avoids
    return len(rows), 0


def export(fmt: str, location_ids: list[int]) -> tuple[int, int]:
    job = services.report_job_create(
        user_id=None,
        kind="discrepancies",
        format=fmt,
        date_from=DATE_FROM,
        date_to=DATE_TO,
        location_ids=location_ids,
        enqueue=False,
        now=NOW,
    )
    job = services.report_job_run(job_id=job.pk, now=NOW)
    if job.status != ReportJob.Status.DONE:
        raise RuntimeError(job.error)
    return job.rows_written, job.file_size or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs (halves the time)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL server: the benchmark compares against COPY.")
    out = Path(settings.REPORTS_DIR)
    out.mkdir(parents=True, exist_ok=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        location_ids = [
            Location.objects.create(code=f"L{n:03d}", name=f"Location {n}", kind="store").pk
            for n in range(args.locations)
        ]
        fill_s = discrepancies_fill(rows=args.rows, location_ids=location_ids)
        print(
            f"discrepancies: {args.rows:,} rows over {args.locations} locations (INSERT … SELECT generate_series "
            f"{fill_s:.1f} s); at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, PostgreSQL, "
            f"chunk_size={selectors.CHUNK_SIZE}, progress every {settings.REPORTS_PROGRESS_EVERY} rows"
        )
        copy_path = out / "baseline-copy.csv"
        copy_baseline(copy_path, location_ids)  # warm the cache: every measured run then reads from memory alike
        runs: list[tuple[str, Callable[[], tuple[int, int]]]] = [
            ("COPY … TO STDOUT CSV (baseline)", lambda: copy_baseline(copy_path, location_ids)),
            ("stream only (iterate, no writer)", lambda: stream_only(location_ids)),
            ("export CSV (report_job_run)", lambda: export("csv", location_ids)),
            ("export XLSX (report_job_run)", lambda: export("xlsx", location_ids)),
            ("for contrast: rows loaded in a list", lambda: in_memory(location_ids)),
        ]
        baseline_s = 0.0
        print(
            f"{'':38} {'seconds':>8} {'rows/s':>10} {'× COPY':>7} {'file':>9} {'RSS start':>10} {'max RSS':>8} {'tracemalloc peak':>17}"
        )
        for name, call in runs:
            seconds, (rows, size), start_rss, max_rss, _ = measure(call, traced=False)
            peak = 0 if args.no_trace else measure(call, traced=True)[4]
            baseline_s = baseline_s or seconds
            print(
                f"{name:38} {seconds:8.1f} {rows / seconds:10,.0f} {seconds / baseline_s:7.1f} "
                f"{(f'{size / 2**20:.1f} MiB') if size else '—':>9} {start_rss:7.0f} MiB {max_rss:5.0f} MiB "
                f"{'—' if args.no_trace else f'{peak / 2**20:.1f} MiB':>17}"
            )
        copy_path.unlink(missing_ok=True)
    finally:
        connection.close()
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

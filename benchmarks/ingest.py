"""Ingest benchmark: the poll pipeline's storage path against a raw COPY of the same rows.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/ingest.py [--locations 100] [--skus 10000]

Creates a throwaway database (test_<name>), migrates it, then in one run:
  1. a raw COPY of N positions into an unindexed table (the baseline);
  2. a full first poll of the same N positions through `poll_store` (staging COPY + merge);
  3. a re-poll where 1% of the rows changed.
Prints rows/s of both, ratio=<ingest time / COPY time>, the re-poll as a fraction of the full
ingest, and peak memory (max RSS). Targets (issue 4): ratio ≤ 1.5, re-poll ≤ 0.15.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2htYXJrLW9ubHktZmllbGQta2V5LTMyLWJ5dGU=")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from inventory_hub.connectors.base import ExternalLocation  # noqa: E402
from inventory_hub.connectors.models import Connector, LocationMapping, PollRun  # noqa: E402
from inventory_hub.connectors.services import poll_run_claim  # noqa: E402
from inventory_hub.inventory.models import Location  # noqa: E402
from inventory_hub.observations.fetch import Fetched  # noqa: E402
from inventory_hub.observations.services import poll_store  # noqa: E402

AS_OF = "2026-11-28 09:00:00"


def spool_write(path: Path, locations: int, skus: int, changed_every: int = 0) -> int:
    """The CSV a fetch would spool: every (location, SKU); 1 in `changed_every` rows changed."""
    rows = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for loc in range(locations):
            for sku in range(skus):
                on_hand = (loc * 7 + sku) % 90
                if changed_every and rows % changed_every == 0:
                    on_hand += 1
                writer.writerow((f"wh-{loc}", f"SKU-{sku:06d}", "", on_hand, 2, on_hand - 2, 0, AS_OF))
                rows += 1
    return rows


def raw_copy_seconds(path: Path) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_raw (external_location_id text, sku text, bin text, on_hand integer, "
            "allocated integer, available integer, incoming integer, as_of timestamptz)"
        )
        started = time.perf_counter()
        with path.open() as handle, cursor.cursor.copy("COPY bench_raw FROM STDIN WITH (FORMAT csv)") as copy:
            while block := handle.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_raw")
    return seconds


def poll_seconds(
    connector: Connector, path: Path, locations: list[ExternalLocation], rows: int
) -> tuple[float, PollRun]:
    run = poll_run_claim(connector_id=connector.pk)
    assert run is not None
    with path.open() as handle, tempfile.TemporaryFile("w+") as empty:
        fetched = Fetched(
            locations=locations, positions=handle, events=empty, orders=empty, cursors={}, positions_seen=rows
        )
        started = time.perf_counter()
        run = poll_store(run=run, connector=connector, fetched=fetched)
        return time.perf_counter() - started, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--skus", type=int, default=10_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL server: the benchmark compares against COPY.")
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        work = Path(tempfile.mkdtemp())
        full, changed = work / "full.csv", work / "changed.csv"
        rows = spool_write(full, args.locations, args.skus)
        spool_write(changed, args.locations, args.skus, changed_every=100)
        connector = Connector.objects.create(name="bench", role="wms", adapter="csv", base_url="https://bench.invalid")
        externals = []
        for n in range(args.locations):
            location = Location.objects.create(code=f"L{n:03d}", name=f"Location {n}", kind="store")
            LocationMapping.objects.create(connector=connector, external_id=f"wh-{n}", location=location)
            externals.append(ExternalLocation(f"wh-{n}", f"Location {n}"))

        copy_s = raw_copy_seconds(full)
        ingest_s, first = poll_seconds(connector, full, externals, rows)
        repoll_s, second = poll_seconds(connector, changed, externals, rows)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(
            f"rows={rows:,} (locations={args.locations}, skus={args.skus})  at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        )
        print(f"raw COPY into an unindexed table: {copy_s:.2f} s, {rows / copy_s:,.0f} rows/s")
        print(
            f"pipeline ingest (first poll):     {ingest_s:.2f} s, {rows / ingest_s:,.0f} rows/s, "
            f"{first.positions_changed:,} positions written"
        )
        print(f"ratio={ingest_s / copy_s:.2f}  (target <= 1.5)")
        print(
            f"re-poll with 1% changed:          {repoll_s:.2f} s, {second.positions_changed:,} changed, "
            f"fraction={repoll_s / ingest_s:.3f} of the full ingest  (target <= 0.15)"
        )
        print(f"peak memory (max RSS): {peak_mib:,.0f} MiB")
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

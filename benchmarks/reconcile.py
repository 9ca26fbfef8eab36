"""Reconciliation benchmark: the full sweep against a hand-written FULL OUTER JOIN, the incremental
path, and building one oversell trace in a large history (issue 5 item 8).

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/reconcile.py [--positions 1000000] [--history 10000000]

Creates a throwaway database (test_<name>), migrates it, fills it with COPY / INSERT … SELECT, then:
  1. the plain join (the baseline): one SQL statement, a FULL OUTER JOIN of the WMS, ERP and
     storefront positions on (location_id, sku) computing each system's comparable (WMS on hand −
     allocated, ERP on_hand − allocated, storefront available), fetching the rows that differ;
  2. the full sweep, `reconciliation_run()` over every key: first on a fresh database (it opens
     the discrepancies), then again on unchanged data (the steady state of the periodic sweep);
  3. the incremental path: 1% of keys changed in SQL as a poll would (half of them break an
     agreeing key, half mend a differing one), then `reconciliation_run(keys=…)` on those keys;
     `--incremental-runs` times (median), the keys changed back to their first values every other
     run (then the same number of discrepancies opens and closes);
  3b. the floor under it (write_floor): the next run's own reads and writes replayed as plain
     statements with nothing decided, and its writes on a copy of the table with only a primary key;
  4. with `--history` PositionChange rows in the table, the median time of
     `oversells_detect(order_line_ids=[one line])`: load that key's facts, build its trace and
     record the oversell (rolled back after each run, so every run does the same work).
Targets: full sweep ≤ 1.2× the plain join; incremental ≤ 5% of the full sweep; one trace ≤ 20 ms.

Every key has a position in all three systems; `--differ` percent of them disagree (ERP or
storefront off by a few units). No pools or rules: the hub's default rule (nothing held back)
makes expected ATP equal the WMS comparable, so the sweep and the join compare the same numbers.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2htYXJrLW9ubHktZmllbGQta2V5LTMyLWJ5dGU=")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from inventory_hub.connectors.models import Connector  # noqa: E402
from inventory_hub.inventory.models import Location  # noqa: E402
from inventory_hub.observations.models import (  # noqa: E402
    InventoryEvent,
    InventoryPosition,
    Order,
    OrderLine,
    PositionChange,
)
from inventory_hub.reconciliation.models import Discrepancy, HopLagSample  # noqa: E402
from inventory_hub.reconciliation.services import ReconciliationResult, reconciliation_run  # noqa: E402
from inventory_hub.tracing.services import oversells_detect  # noqa: E402

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
CHANGED_AT = NOW - dt.timedelta(hours=2)  # every position's last change: old enough to classify as drift
TRACED_SKU = "SKU-TRACED"
POSITIONS = InventoryPosition._meta.db_table
CHANGES = PositionChange._meta.db_table

PLAIN_JOIN = f"""
SELECT coalesce(w.location_id, e.location_id, s.location_id), coalesce(w.sku, e.sku, s.sku),
       w.comparable, e.comparable, s.comparable
FROM (SELECT location_id, sku, on_hand - allocated AS comparable FROM {POSITIONS}
      WHERE connector_id = %(wms)s AND bin = '') w
FULL OUTER JOIN (SELECT location_id, sku, on_hand - allocated AS comparable FROM {POSITIONS}
      WHERE connector_id = %(erp)s AND bin = '') e
  ON e.location_id = w.location_id AND e.sku = w.sku
FULL OUTER JOIN (SELECT location_id, sku, available AS comparable FROM {POSITIONS}
      WHERE connector_id = %(storefront)s AND bin = '') s
  ON s.location_id = coalesce(w.location_id, e.location_id) AND s.sku = coalesce(w.sku, e.sku)
WHERE w.comparable IS DISTINCT FROM e.comparable OR w.comparable IS DISTINCT FROM s.comparable
   OR e.comparable IS DISTINCT FROM s.comparable
"""


def sku(n: int) -> str:
    return f"SKU-{n:07d}"


def position_rows(
    connectors: dict[str, Connector], location_ids: list[int], skus: int, differ: int
) -> Iterator[tuple[Any, ...]]:
    """Each key's WMS, ERP and storefront position; `differ` keys in 100 have the ERP or storefront off."""
    n = 0
    for location_id in location_ids:
        for s in range(skus):
            on_hand, allocated = 20 + (n * 7) % 80, n % 5
            comparable = on_hand - allocated
            erp_on_hand, shown = on_hand, comparable
            if n % 100 < differ:  # alternately the storefront shows too many, or the ERP counts too many
                if n % 2:
                    erp_on_hand += 3
                else:
                    shown += 2
            name = sku(s)
            yield (connectors["wms"].pk, location_id, name, on_hand, allocated, comparable)
            yield (connectors["erp"].pk, location_id, name, erp_on_hand, allocated, erp_on_hand - allocated)
            # Shopify-like: on hand = available + committed; nothing held back under the default rule.
            yield (connectors["storefront"].pk, location_id, name, shown + allocated, allocated, shown)
            n += 1


def positions_copy(rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    stamp = CHANGED_AT.isoformat()
    with connection.cursor() as cursor:
        sql = (
            f"COPY {POSITIONS} (connector_id, location_id, sku, bin, on_hand, allocated, available, incoming, "
            "as_of, observed_at, changed_at) FROM STDIN"
        )
        with cursor.cursor.copy(sql) as copy:
            for connector_id, location_id, name, on_hand, allocated, available in rows:
                copy.write_row(
                    (connector_id, location_id, name, "", on_hand, allocated, available, 0, stamp, stamp, stamp)
                )
                count += 1
    return count


def history_fill(*, rows: int, connectors: dict[str, Connector], location_ids: list[int], skus: int) -> float:
    """`rows` PositionChange rows spread over every position, in one INSERT … SELECT generate_series.

    The table's indexes are dropped first and rebuilt after (with their own definitions): much
    faster than maintaining them row by row, and the result is the same table.
    """
    started = time.perf_counter()
    ids = [connectors[role].pk for role in ("wms", "erp", "storefront")]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT LIKE '%%_pkey'",
            [CHANGES],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        # Row i: position i mod (keys × 3), the i-th change of it; spread over the 30 days before CHANGED_AT.
        cursor.execute(
            f"""
            INSERT INTO {CHANGES} (connector_id, location_id, sku, bin, on_hand, allocated, available, incoming,
                                   as_of, changed_at, poll_run_id)
            SELECT (%(ids)s::bigint[])[1 + p %% 3], (%(locations)s::bigint[])[1 + (p / 3) / %(skus)s],
                   'SKU-' || lpad(((p / 3) %% %(skus)s)::text, 7, '0'), '',
                   20 + i %% 80, i %% 5, 20 + i %% 80 - i %% 5, 0,
                   %(end)s - make_interval(secs => (i %% 2592000)::float8 + 30),
                   %(end)s - make_interval(secs => (i %% 2592000)::float8), NULL
            FROM generate_series(0, %(rows)s - 1) AS i, LATERAL (SELECT i %% %(positions)s AS p) AS pos
            """,
            {
                "ids": ids,
                "locations": location_ids,
                "skus": skus,
                "end": CHANGED_AT,
                "rows": rows,
                "positions": len(location_ids) * skus * 3,
            },
        )
        for _, definition in indexes:
            cursor.execute(definition)
    return time.perf_counter() - started


def traced_key_create(*, connectors: dict[str, Connector], location: Location, changes: int) -> OrderLine:
    """One key with a realistic history: `changes` WMS changes, each carried to the ERP after 20 minutes
    and to the storefront 10 minutes later, with its count events and hop-lag samples; at the end a
    channel allocation the downstream had not seen yet, and the storefront order it oversold."""
    start = NOW - dt.timedelta(hours=changes)
    history: list[PositionChange] = []
    events: list[InventoryEvent] = []
    samples: list[HopLagSample] = []
    on_hand = 40
    for k in range(changes):
        at = start + dt.timedelta(hours=k)
        new = 30 + (k * 13) % 40
        events.append(
            InventoryEvent(
                connector=connectors["wms"],
                source_event_id=f"traced-{k}",
                kind="receipt" if new > on_hand else "pick",
                location=location,
                sku=TRACED_SKU,
                delta=new - on_hand,
                quantity_after=new,
                occurred_at=at,
                observed_at=at,
            )
        )
        on_hand = new
        for role, lag in (("wms", 0), ("erp", 20), ("storefront", 30)):
            seen = at + dt.timedelta(minutes=lag)
            history.append(
                PositionChange(
                    connector=connectors[role],
                    location=location,
                    sku=TRACED_SKU,
                    on_hand=on_hand,
                    allocated=0,
                    available=on_hand,
                    incoming=0,
                    as_of=seen,
                    changed_at=seen + dt.timedelta(seconds=30),
                )
            )
        for hop, lag in (("wms_erp", 20), ("wms_storefront", 30)):
            samples.append(
                HopLagSample(
                    location=location,
                    sku=TRACED_SKU,
                    hop=hop,
                    wms_changed_at=at,
                    reflected_at=at + dt.timedelta(minutes=lag),
                    lag_seconds=lag * 60,
                    method="value_match",
                )
            )
    # Every unit allocated to another channel 15 minutes before the order; nothing downstream saw it.
    allocated_at = NOW - dt.timedelta(minutes=15)
    history.append(
        PositionChange(
            connector=connectors["wms"],
            location=location,
            sku=TRACED_SKU,
            on_hand=on_hand,
            allocated=on_hand,
            available=0,
            incoming=0,
            as_of=allocated_at,
            changed_at=allocated_at + dt.timedelta(seconds=30),
        )
    )
    PositionChange.objects.bulk_create(history)
    InventoryEvent.objects.bulk_create(events)
    HopLagSample.objects.bulk_create(samples)
    order = Order.objects.create(
        connector=connectors["storefront"],
        source_order_id="traced-order",
        channel="web",
        placed_at=NOW,
        observed_at=NOW,
    )
    return OrderLine.objects.create(order=order, source_line_id="1", location=location, sku=TRACED_SKU, quantity=5)


def trace_milliseconds(line: OrderLine, runs: int) -> list[float]:
    """Wall time of oversells_detect for the one line, each run rolled back so the next does the same work."""
    times = []
    for _ in range(runs):
        with transaction.atomic():
            started = time.perf_counter()
            result = oversells_detect(order_line_ids=[line.pk], now=NOW + dt.timedelta(minutes=1))
            times.append((time.perf_counter() - started) * 1000)
            assert result.oversells == 1, result  # the trace was built and recorded
            transaction.set_rollback(True)
    return times


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def plain_join(connectors: dict[str, Connector]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(PLAIN_JOIN, {role: c.pk for role, c in connectors.items()})
        return cursor.fetchall()


def keys_change(
    *, connectors: dict[str, Connector], every: int, location_ids: list[int], skus: int, differ: int, back: bool = False
) -> list[tuple[int, str]]:
    """As a poll would: 1 key in `every` gets a new storefront value, half of them mending a differing
    key (n ≡ 0 mod 2·every: shown = the WMS comparable again), half breaking an agreeing one (shown − 1).
    With `back`, the same keys get their first values again (position_rows): the same amount of work
    the other way (the mended keys differ again, the broken ones agree), so the run can be repeated."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH numbered AS (
                SELECT p.id, p.location_id, p.sku, w.on_hand - w.allocated AS wms,
                       (array_position(%(locations)s::bigint[], p.location_id) - 1) * %(skus)s
                       + substr(p.sku, 5)::int AS n
                FROM {POSITIONS} p JOIN {POSITIONS} w
                  ON w.location_id = p.location_id AND w.sku = p.sku AND w.bin = '' AND w.connector_id = %(wms)s
                WHERE p.connector_id = %(storefront)s AND p.bin = ''
            ), shown AS (
                SELECT id, CASE WHEN %(back)s THEN
                                CASE WHEN n %% 100 < %(differ)s AND n %% 2 = 0 THEN wms + 2 ELSE wms END
                           WHEN n %% %(period)s = 0 THEN wms ELSE wms - 1 END AS value, n
                FROM numbered
            )
            UPDATE {POSITIONS} p
            SET available = shown.value, on_hand = shown.value + p.allocated,
                changed_at = %(now)s, observed_at = %(now)s
            FROM shown
            WHERE p.id = shown.id AND n %% %(period)s IN (0, %(breaking)s)
            RETURNING p.location_id, p.sku
            """,
            {
                "locations": location_ids,
                "skus": skus,
                "wms": connectors["wms"].pk,
                "storefront": connectors["storefront"].pk,
                "period": 2 * every,
                "breaking": every + every // 2,  # ≡ 50 mod 100: an agreeing key (fewer than 50% differ)
                "differ": differ,
                "back": back,
                "now": NOW - dt.timedelta(minutes=5),
            },
        )
        return cursor.fetchall()


KEYS_CTE = (
    "scope_keys AS (SELECT (k->>0)::bigint AS location_id, k->>1 AS sku FROM json_array_elements(%(keys)s::json) AS k)"
)


def write_floor(changed: list[tuple[int, str]]) -> dict[str, float]:
    """Seconds of the database work an incremental run cannot avoid, with nothing decided: the next
    run's own writes replayed as plain statements from prepared lists (rolled back).

    The run is made once for real to learn its writes (the discrepancies it opened and closed),
    undone, and then timed: reading the changed keys' positions and open discrepancies, closing the
    same discrepancies by id, inserting the same new ones, the deferred foreign-key checks of the
    inserted rows; and the same closes and inserts on a copy of the table with no index but its
    primary key (what any design keeping one row per discrepancy would pay at least).
    """
    table = Discrepancy._meta.db_table
    keys = json.dumps([[location_id, name] for location_id, name in changed])
    seconds: dict[str, float] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"WITH {KEYS_CTE} SELECT d.id FROM {table} d JOIN scope_keys s"
            " ON s.location_id = d.location_id AND s.sku = d.sku WHERE d.closed_at IS NULL",
            {"keys": keys},
        )
        open_ids = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
        (last_id,) = cursor.fetchone()
        savepoint = transaction.savepoint()
        reconciliation_run(keys=changed, now=NOW)
        cursor.execute(
            f"SELECT location_id, sku, hop, classification, opened_at, upstream_quantity, downstream_quantity,"
            f" peak_gap FROM {table} WHERE id > %s ORDER BY location_id, sku, hop",
            [last_id],
        )
        opened = json.dumps([[*row[:4], row[4].isoformat(), *row[5:]] for row in cursor.fetchall()])
        cursor.execute(
            f"SELECT id, upstream_quantity, downstream_quantity FROM {table}"
            " WHERE id = ANY(%s) AND closed_at IS NOT NULL ORDER BY id",
            [open_ids],
        )
        closed = json.dumps(cursor.fetchall())
        transaction.savepoint_rollback(savepoint)

        def run(sql: str, params: dict[str, Any]) -> float:
            started = time.perf_counter()
            cursor.execute(sql, params)
            return time.perf_counter() - started

        rows = {
            "closes": "SELECT (v->>0)::bigint AS id, (v->>1)::int AS u, (v->>2)::int AS d"
            " FROM json_array_elements(%(rows)s::json) AS v",
            "opens": "SELECT (v->>0)::bigint AS location_id, v->>1 AS sku, v->>2 AS hop, v->>3 AS cls,"
            " (v->>4)::timestamptz AS opened, (v->>5)::int AS u, (v->>6)::int AS d, (v->>7)::int AS peak"
            " FROM json_array_elements(%(rows)s::json) AS v",
        }

        def writes(target: str, first_id: str) -> float:
            close = run(
                f"UPDATE {target} t SET closed_at = %(now)s, upstream_quantity = w.u, downstream_quantity = w.d"
                f" FROM ({rows['closes']}) w WHERE t.id = w.id AND t.closed_at IS NULL",
                {"rows": closed, "now": NOW},
            )
            # The real table's ids come from its sequence; the bare copy's are given.
            insert = run(
                f"INSERT INTO {target} (id, location_id, sku, hop, classification, opened_at, upstream_quantity,"
                f" downstream_quantity, peak_gap, acknowledgement_note)"
                f" SELECT {first_id}, location_id, sku, hop, cls, opened, u, d, peak, '' FROM ({rows['opens']}) w",
                {"rows": opened, "last": last_id},
            )
            return close + insert

        seconds["reads"] = run(
            f"WITH {KEYS_CTE} SELECT (SELECT count(*) FROM {POSITIONS} p JOIN scope_keys s"
            " ON s.location_id = p.location_id AND s.sku = p.sku),"
            f" (SELECT count(*) FROM {table} d JOIN scope_keys s ON s.location_id = d.location_id"
            " AND s.sku = d.sku WHERE d.closed_at IS NULL)",
            {"keys": keys},
        )
        seconds["writes"] = writes(table, f"nextval(pg_get_serial_sequence('{table}', 'id'))")
        seconds["checks"] = run("SET CONSTRAINTS ALL IMMEDIATE", {})
        cursor.execute(f"CREATE TEMP TABLE bare_copy (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
        cursor.execute(f"INSERT INTO bare_copy SELECT * FROM {table}")
        cursor.execute("ALTER TABLE bare_copy ADD PRIMARY KEY (id)")
        cursor.execute("ANALYZE bare_copy")
        seconds["bare writes"] = writes("bare_copy", "%(last)s + row_number() OVER ()")
        transaction.set_rollback(True)
    seconds["opened"], seconds["closed"] = len(json.loads(opened)), len(json.loads(closed))
    return seconds


def statement_seconds(queries: list[dict[str, str]]) -> dict[str, float]:
    """Seconds the database spent in the captured statements, by kind: deciding (SELECT, or a WITH
    whose data-modifying CTEs also write), writing (INSERT/UPDATE statements of their own), commit
    (with the deferred foreign-key checks of the inserted rows)."""
    seconds = {"deciding": 0.0, "writing": 0.0, "commit": 0.0}
    for query in queries:
        sql = query["sql"].lstrip().upper()
        kind = (
            "commit" if sql.startswith("COMMIT") else "writing" if sql.startswith(("INSERT", "UPDATE")) else "deciding"
        )
        seconds[kind] += float(query["time"])
    return seconds


def server_settings() -> str:
    """The PostgreSQL settings the figures depend on, to reproduce them."""
    names = ("shared_buffers", "work_mem", "synchronous_commit", "max_parallel_workers_per_gather", "jit")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s)", [list(names)])
        found = dict(cursor.fetchall())
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    return f"PostgreSQL {version.split()[0]}: " + ", ".join(f"{name}={found.get(name, '?')}" for name in names)


def summary(result: ReconciliationResult) -> str:
    return f"{result.keys:,} keys, opened {result.opened:,}, updated {result.updated:,}, closed {result.closed:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=100_000, help="keys (location × SKU), each in 3 systems")
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--history", type=int, default=1_000_000, help="PositionChange rows for the trace run")
    parser.add_argument("--differ", type=int, default=3, help="percent of keys whose systems disagree (< 50)")
    parser.add_argument("--changed", type=int, default=1, help="percent of keys the incremental run sees changed")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the join and of the steady sweep (median)")
    parser.add_argument("--incremental-runs", type=int, default=3, help="incremental runs, keys changed back and forth")
    parser.add_argument("--trace-runs", type=int, default=21)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (to iterate on it)")
    parser.add_argument("--trace-changes", type=int, default=100, help="WMS changes in the traced key's history")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write cProfiles of one more steady sweep here (and of the incremental run and 5 traces: .incremental, .trace)",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL server: the benchmark compares against a SQL join.")
    skus = args.positions // args.locations
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    connectors: dict[str, Connector] = {}
    try:
        for role, adapter, interval in (
            ("wms", "shiphero", 60),
            ("erp", "erpnext", 300),
            ("storefront", "shopify", 120),
        ):
            connectors[role] = Connector.objects.create(
                name=f"bench {role}", role=role, adapter=adapter, base_url="https://bench.invalid",
                poll_interval_seconds=interval,
            )  # fmt: skip
        locations = [
            Location.objects.create(code=f"L{n:03d}", name=f"Location {n}", kind="store") for n in range(args.locations)
        ]
        location_ids = [loc.pk for loc in locations]

        load_s, rows = timed(lambda: positions_copy(position_rows(connectors, location_ids, skus, args.differ)))
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {POSITIONS}")
        keys = skus * args.locations
        print(server_settings())
        print(
            f"positions: {keys:,} keys × 3 systems = {rows:,} rows ({args.locations} locations × {skus:,} SKUs), "
            f"COPY {load_s:.1f} s; at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        )

        plain_join(connectors)  # warm the cache: every measured run then reads from memory alike
        join_runs = [timed(lambda: plain_join(connectors)) for _ in range(args.repeat)]
        join_s = statistics.median(s for s, _ in join_runs)
        differing = len(join_runs[0][1])
        print(
            f"plain FULL OUTER JOIN (baseline): {join_s:.2f} s (median of {args.repeat}), {differing:,} differing keys"
        )

        first_s, first = timed(lambda: reconciliation_run(now=NOW))
        print(f"full sweep, first run:            {first_s:.2f} s  ratio={first_s / join_s:.2f}  ({summary(first)})")
        steady = [timed(lambda: reconciliation_run(now=NOW)) for _ in range(args.repeat)]
        sweep_s = statistics.median(s for s, _ in steady)
        print(
            f"full sweep, steady state:         {sweep_s:.2f} s (median of {args.repeat})  "
            f"ratio={sweep_s / join_s:.2f}  (target <= 1.2)  ({summary(steady[0][1])})"
        )

        if args.profile:
            cProfile.runctx("reconciliation_run(now=NOW)", globals(), {}, str(args.profile))
        every = 100 // args.changed
        change = {"connectors": connectors, "every": every, "location_ids": location_ids, "skus": skus}
        changed = keys_change(**change, differ=args.differ)
        if args.profile:  # in a transaction rolled back, so the measured run below does the same work
            with transaction.atomic():
                cProfile.runctx(
                    "reconciliation_run(keys=changed, now=NOW)",
                    globals(),
                    {"changed": changed},
                    f"{args.profile}.incremental",
                )
                transaction.set_rollback(True)
        # Run after run, the keys change one way then back: each run opens and closes as many.
        runs = []
        for n in range(args.incremental_runs):
            if n:
                changed = keys_change(**change, differ=args.differ, back=n % 2 == 1)
            with CaptureQueriesContext(connection) as queries:
                incremental_s, incremental = timed(lambda keys=changed: reconciliation_run(keys=keys, now=NOW))
            runs.append((incremental_s, incremental, statement_seconds(queries.captured_queries)))
        incremental_s, incremental, seconds = sorted(runs, key=lambda run: run[0])[len(runs) // 2]
        print(
            f"incremental, {len(changed):,} keys changed ({args.changed:g}%): {incremental_s:.2f} s "
            f"(median of {len(runs)}: {', '.join(f'{run[0]:.2f}' for run in runs)})  "
            f"fraction={incremental_s / sweep_s:.3f} of the steady sweep  (target <= 0.05)  ({summary(incremental)})"
        )
        print(
            f"  of which SQL deciding (and writing, in the same statements) {seconds['deciding']:.2f} s, "
            f"SQL writing in statements of their own {seconds['writing']:.2f} s, "
            f"the commit (deferred foreign-key checks) {seconds['commit']:.2f} s; "
            f"Python {incremental_s - sum(seconds.values()):.2f} s"
        )
        changed = keys_change(**change, differ=args.differ, back=len(runs) % 2 == 1)  # what a next run would do
        floor = write_floor(changed)
        floor_s = floor["reads"] + floor["writes"] + floor["checks"]
        print(
            f"floor, the next run's {floor['opened']:,.0f} opens and {floor['closed']:,.0f} closes replayed as plain "
            f"statements, nothing decided: reads {floor['reads']:.2f} s + writes {floor['writes']:.2f} s + "
            f"foreign-key checks {floor['checks']:.2f} s = {floor_s:.2f} s  fraction={floor_s / sweep_s:.3f} of the "
            f"steady sweep; the incremental run is {incremental_s / floor_s:.2f}× it"
        )
        print(
            f"  the same writes on a copy of the table with only its primary key: {floor['bare writes']:.2f} s; "
            f"with the reads {(floor['reads'] + floor['bare writes']) / sweep_s:.3f} of the steady sweep"
        )
        reconciliation_run(keys=changed, now=NOW)  # the keys' discrepancies as their positions say
        check = reconciliation_run(now=NOW)
        print(f"full sweep after it (must change nothing): {summary(check)}")

        history_s = history_fill(rows=args.history, connectors=connectors, location_ids=location_ids, skus=skus)
        line = traced_key_create(connectors=connectors, location=locations[0], changes=args.trace_changes)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {CHANGES}")
            cursor.execute(f"SELECT count(*) FROM {CHANGES}")
            (history_rows,) = cursor.fetchone()
        trace_ms = trace_milliseconds(line, args.trace_runs)
        if args.profile:
            cProfile.runctx("trace_milliseconds(line, 5)", globals(), {"line": line}, f"{args.profile}.trace")
        print(
            f"history: {history_rows:,} PositionChange rows (INSERT … SELECT generate_series + index rebuild "
            f"{history_s:.0f} s); traced key: {args.trace_changes * 3 + 1} history rows, {args.trace_changes} WMS events"
        )
        print(
            f"one trace (oversells_detect for one order line): median {statistics.median(trace_ms):.1f} ms, "
            f"min {min(trace_ms):.1f}, max {max(trace_ms):.1f} over {len(trace_ms)} runs  (target <= 20 ms)"
        )
        print(f"peak memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    finally:
        connection.close()
        if not args.keep:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

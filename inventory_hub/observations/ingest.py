"""Bulk storage of one poll: stage positions in bulk and merge them into current positions in SQL.

Positions arrive as a CSV spool (see fetch.py). PostgreSQL loads it with COPY into a temporary
staging table; SQLite inserts it in chunks. Two set-based statements then write a history row
only where a value changed and upsert only those positions, so the cost of a poll's writes grows
with what changed, not with the catalogue. Callers hold the transaction (services.connector_poll).

A full read is the system's whole truth: a stored position it no longer reports is zero. An
incremental read (only what changed) is the truth only for the (location, SKU) pairs it reports:
a missing bin of one of those was emptied, everything else is left as it is.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import IO, Any

from django.db import connection

STAGING = "ingest_positions"
COLUMNS = ("external_location_id", "sku", "bin", "on_hand", "allocated", "available", "incoming", "as_of")
CHUNK_ROWS = 5_000


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def staging_create() -> None:
    """A temporary table for this transaction's positions (no indexes: it is read once)."""
    with connection.cursor() as cursor:
        if _is_postgres():
            # Dropped at commit; also dropped here in case an outer transaction is still open.
            cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING}")
            cursor.execute(
                f"CREATE TEMP TABLE {STAGING} (external_location_id text, sku text, bin text, on_hand integer, "
                "allocated integer, available integer, incoming integer, as_of timestamptz) ON COMMIT DROP"
            )
        else:
            cursor.execute(f"DROP TABLE IF EXISTS temp.{STAGING}")
            cursor.execute(
                f"CREATE TEMP TABLE {STAGING} (external_location_id text, sku text, bin text, on_hand integer, "
                "allocated integer, available integer, incoming integer, as_of text)"
            )


def staging_load(spool: IO[str]) -> None:
    """Load the CSV spool into the staging table (COPY on PostgreSQL)."""
    spool.seek(0)
    with connection.cursor() as cursor:
        if _is_postgres():
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            # Empty unquoted CSV fields are NULL to COPY; only as_of may be NULL.
            options = "FORMAT csv, FORCE_NOT_NULL (external_location_id, sku, bin)"
            with raw.copy(f"COPY {STAGING} ({', '.join(COLUMNS)}) FROM STDIN WITH ({options})") as copy:
                while block := spool.read(1 << 20):
                    copy.write(block)
            # Autovacuum never sees temporary tables: without statistics the planner guesses.
            cursor.execute(f"ANALYZE {STAGING}")
        else:
            sql = f"INSERT INTO {STAGING} VALUES ({', '.join(['%s'] * len(COLUMNS))})"
            for chunk in _chunks(csv.reader(spool)):
                cursor.executemany(sql, [(*row[:7], row[7] or None) for row in chunk])


def _chunks(rows: Iterator[list[str]]) -> Iterator[list[list[str]]]:
    chunk: list[list[str]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_MAPPED = f"""
    FROM {STAGING} s
    JOIN connectors_locationmapping m
      ON m.connector_id = %(connector)s AND m.external_id = s.external_location_id AND m.location_id IS NOT NULL
"""
_DIFFERS = (
    "p.on_hand <> s.on_hand OR p.allocated <> s.allocated OR p.available <> s.available OR p.incoming <> s.incoming"
)


_VANISHED = f"""
    p.connector_id = %(connector)s
    AND NOT (p.on_hand = 0 AND p.allocated = 0 AND p.available = 0 AND p.incoming = 0)
    AND NOT EXISTS (
        SELECT 1 FROM {STAGING} s
        JOIN connectors_locationmapping m
          ON m.connector_id = %(connector)s AND m.external_id = s.external_location_id
        WHERE m.location_id = p.location_id AND s.sku = p.sku AND s.bin = p.bin
    )
"""
# An incremental read speaks only for the (location, SKU) pairs it reports.
_READ_PAIRS = f"""
    SELECT m.location_id, s.sku {_MAPPED}
"""


def _positions_vanished_zero(cursor: Any, params: dict[str, Any], *, full: bool) -> int:
    """SQLite: what the read should have reported but did not (an emptied bin) is zero."""
    # SQLite would scan the staging table once per position without this index.
    cursor.execute(f"CREATE INDEX temp.{STAGING}_key ON {STAGING} (sku, bin, external_location_id)")
    vanished_where = _VANISHED if full else f"{_VANISHED} AND (p.location_id, p.sku) IN ({_READ_PAIRS})"
    cursor.execute(
        f"""
        INSERT INTO observations_positionchange
            (connector_id, location_id, sku, bin, on_hand, allocated, available, incoming, as_of, changed_at, poll_run_id)
        SELECT p.connector_id, p.location_id, p.sku, p.bin, 0, 0, 0, 0, NULL, %(now)s, %(run)s
        FROM observations_inventoryposition p WHERE {vanished_where}
        """,
        params,
    )
    vanished = cursor.rowcount
    if vanished:
        cursor.execute(
            f"""
            UPDATE observations_inventoryposition AS p
            SET on_hand = 0, allocated = 0, available = 0, incoming = 0, as_of = NULL,
                observed_at = %(now)s, changed_at = %(now)s
            WHERE {vanished_where}
            """,
            params,
        )
    return vanished


def positions_merge(*, connector_id: int, poll_run_id: int, now: dt.datetime, full: bool = True) -> tuple[int, int]:
    """Write history for changed positions, then upsert them; returns (changed, unmapped).

    `full`: the staged rows are a full read (see the module docstring for what an incremental one zeroes).
    """
    params: dict[str, Any] = {
        "connector": connector_id,
        "run": poll_run_id,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        if _is_postgres():
            return _merge_postgres(cursor, params, full=full), _unmapped_count(cursor, params)
        # History first: it compares against the positions as they were before this poll.
        cursor.execute(
            f"""
            INSERT INTO observations_positionchange
                (connector_id, location_id, sku, bin, on_hand, allocated, available, incoming, as_of, changed_at, poll_run_id)
            SELECT %(connector)s, m.location_id, s.sku, s.bin, s.on_hand, s.allocated, s.available, s.incoming,
                   s.as_of, %(now)s, %(run)s
            {_MAPPED}
            LEFT JOIN observations_inventoryposition p
              ON p.connector_id = %(connector)s AND p.location_id = m.location_id AND p.sku = s.sku AND p.bin = s.bin
            WHERE p.id IS NULL OR {_DIFFERS}
            """,
            params,
        )
        changed = cursor.rowcount
        changed += _positions_vanished_zero(cursor, params, full=full)
        # Upsert only what changed; unchanged rows are not touched at all.
        cursor.execute(
            f"""
            INSERT INTO observations_inventoryposition
                (connector_id, location_id, sku, bin, on_hand, allocated, available, incoming, as_of, observed_at, changed_at)
            SELECT %(connector)s, m.location_id, s.sku, s.bin, s.on_hand, s.allocated, s.available, s.incoming,
                   s.as_of, %(now)s, %(now)s
            {_MAPPED}
            WHERE 1 = 1
            ON CONFLICT (connector_id, location_id, sku, bin) DO UPDATE SET
                on_hand = excluded.on_hand, allocated = excluded.allocated, available = excluded.available,
                incoming = excluded.incoming, as_of = excluded.as_of, observed_at = excluded.observed_at,
                changed_at = excluded.changed_at
            WHERE observations_inventoryposition.on_hand <> excluded.on_hand
               OR observations_inventoryposition.allocated <> excluded.allocated
               OR observations_inventoryposition.available <> excluded.available
               OR observations_inventoryposition.incoming <> excluded.incoming
            """,
            params,
        )
        unmapped = _unmapped_count(cursor, params)
    return changed, unmapped


def _merge_postgres(cursor: Any, params: dict[str, Any], *, full: bool) -> int:
    """One statement: find new, changed and vanished rows in one read-only pass (a full join of
    the staged rows with the connector's positions), upsert only those, and log them.

    Unchanged rows are never touched: an ON CONFLICT on them would still lock (write) each row.
    A position the read should have reported but did not (an emptied bin) becomes zero; for an
    incremental read only the positions of the (location, SKU) pairs it reports take part.
    """
    scope = "" if full else "AND (location_id, sku) IN (SELECT location_id, sku FROM staged)"
    cursor.execute(
        f"""
        WITH staged AS (
            SELECT m.location_id, s.sku, s.bin, s.on_hand, s.allocated, s.available, s.incoming, s.as_of
            {_MAPPED}
        ), current AS (
            SELECT location_id, sku, bin, on_hand, allocated, available, incoming
            FROM observations_inventoryposition WHERE connector_id = %(connector)s {scope}
        ), changed AS (
            SELECT COALESCE(s.location_id, p.location_id) AS location_id, COALESCE(s.sku, p.sku) AS sku,
                   COALESCE(s.bin, p.bin) AS bin, COALESCE(s.on_hand, 0) AS on_hand,
                   COALESCE(s.allocated, 0) AS allocated, COALESCE(s.available, 0) AS available,
                   COALESCE(s.incoming, 0) AS incoming, s.as_of
            FROM staged s
            FULL JOIN current p ON p.location_id = s.location_id AND p.sku = s.sku AND p.bin = s.bin
            WHERE p.location_id IS NULL
               OR (s.location_id IS NULL AND NOT (p.on_hand = 0 AND p.allocated = 0 AND p.available = 0 AND p.incoming = 0))
               OR (s.location_id IS NOT NULL AND ({_DIFFERS}))
        ), upserted AS (
            INSERT INTO observations_inventoryposition
                (connector_id, location_id, sku, bin, on_hand, allocated, available, incoming, as_of, observed_at, changed_at)
            SELECT %(connector)s, location_id, sku, bin, on_hand, allocated, available, incoming, as_of, %(now)s, %(now)s
            FROM changed
            ON CONFLICT (connector_id, location_id, sku, bin) DO UPDATE SET
                on_hand = excluded.on_hand, allocated = excluded.allocated, available = excluded.available,
                incoming = excluded.incoming, as_of = excluded.as_of, observed_at = excluded.observed_at,
                changed_at = excluded.changed_at
            RETURNING location_id, sku, bin, on_hand, allocated, available, incoming, as_of
        )
        INSERT INTO observations_positionchange
            (connector_id, location_id, sku, bin, on_hand, allocated, available, incoming, as_of, changed_at, poll_run_id)
        SELECT %(connector)s, location_id, sku, bin, on_hand, allocated, available, incoming, as_of, %(now)s, %(run)s
        FROM upserted
        """,
        params,
    )
    return int(cursor.rowcount)


def _unmapped_count(cursor: Any, params: dict[str, Any]) -> int:
    cursor.execute(
        f"""
        SELECT COUNT(*) FROM {STAGING} s
        LEFT JOIN connectors_locationmapping m
          ON m.connector_id = %(connector)s AND m.external_id = s.external_location_id
        WHERE m.location_id IS NULL
        """,
        params,
    )
    return int(cursor.fetchone()[0])

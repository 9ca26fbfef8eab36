"""Page benchmark: server time of every dashboard page and HTMX partial on a large database (issue 6).

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/pages.py [--positions 1000000] [--runs 30]

Creates a throwaway database (test_<name>_pages), migrates it, fills it with `--positions` keys (location ×
SKU) in each of the three systems (as benchmarks/reconcile.py does, 3% of keys disagreeing), runs the
full sweep so those discrepancies are open, adds one traced oversell with its history, then requests
each page and partial in-process through Django's test client as a logged-in admin (the role that
sees every page). For each it prints the median and p95 server time over `--runs` requests after two
warm-up requests, the query count of one request, and p95 as a ratio of the baseline measured in the
same run: the login page, which renders a template but reads nothing. Target (issue 6): p95 ≤ 50 ms
for partials. No wall-clock assertion: the machine is shared; read the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2htYXJrLW9ubHktZmllbGQta2V5LTMyLWJ5dGU=")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from django.urls import reverse  # noqa: E402

from benchmarks.reconcile import (  # noqa: E402 (the same fill as the reconciliation benchmark)
    NOW,
    POSITIONS,
    TRACED_SKU,
    position_rows,
    positions_copy,
    timed,
    traced_key_create,
)
from inventory_hub.connectors.models import Connector, PollRun  # noqa: E402
from inventory_hub.core import roles  # noqa: E402
from inventory_hub.inventory import services as inventory_services  # noqa: E402
from inventory_hub.inventory.models import AllocationRule, Channel, Location, Pool  # noqa: E402
from inventory_hub.inventory.rules import RuleValues  # noqa: E402
from inventory_hub.observations.models import InventoryPosition, PositionChange  # noqa: E402
from inventory_hub.reconciliation.exposure import exposure_record  # noqa: E402
from inventory_hub.reconciliation.models import Discrepancy  # noqa: E402
from inventory_hub.reconciliation.services import reconciliation_run  # noqa: E402
from inventory_hub.tracing.models import Oversell  # noqa: E402
from inventory_hub.tracing.services import oversells_detect  # noqa: E402

# label, URL, extra headers; and form data for a POST (the rule preview), else None for a GET.
Request = tuple[str, str, dict[str, str], dict[str, str] | None]


def htmx(target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target}


def requests_list(*, location: Location, oversell: Oversell, rule_id: int, connector: Connector) -> list[Request]:
    """Every page, then the partials HTMX asks for while a person uses them."""
    grid = reverse("dashboard:location-detail", args=[location.pk])
    discrepancies = reverse("dashboard:discrepancy-list")
    sku = reverse("dashboard:sku-detail", args=[location.pk, TRACED_SKU])
    at = (NOW - dt.timedelta(hours=3)).isoformat(timespec="minutes")
    preview = {"safety_stock": "5", "channel_share_percent": "80", "channel_priority": "1", "pickup_reservation": "0"}
    requests: list[tuple[str, str, dict[str, str]] | Request] = [
        ("page overview", reverse("dashboard:home"), {}),
        ("page location grid", grid, {}),
        ("page SKU detail", sku, {}),
        ("page discrepancies", reverse("dashboard:discrepancy-list"), {}),
        ("page oversells", reverse("dashboard:oversell-list"), {}),
        ("page oversell trace", reverse("dashboard:oversell-detail", args=[oversell.pk]), {}),
        ("page pools", reverse("dashboard:pool-list"), {}),
        ("page rules", reverse("dashboard:rule-list"), {}),
        ("page rule editor", reverse("dashboard:rule-edit", args=[rule_id]), {}),
        ("page connectors", reverse("dashboard:connector-list"), {}),
        ("partial overview tiles, by exposure", reverse("dashboard:home") + "?sort=exposure", htmx("location-tiles")),
        ("partial connector state", reverse("dashboard:home"), htmx("connector-state")),
        ("partial grid, page 1", grid, htmx("position-grid")),
        ("partial grid, page 40", grid + "?page=40", htmx("position-grid")),
        ("partial grid, only discrepant", grid + "?discrepant=1", htmx("position-grid")),
        ("partial grid, SKU search", grid + "?q=SKU-00012", htmx("position-grid")),
        ("partial belief at T", sku + f"?at={at}", htmx("belief-at")),
        ("partial discrepancies filtered (chart + table)", discrepancies + "?state=open", htmx("discrepancy-results")),
        (
            "partial discrepancies, one location",
            discrepancies + f"?location={location.pk}",
            htmx("discrepancy-results"),
        ),
        ("partial discrepancy table, page 2", discrepancies + "?page=2", htmx("discrepancy-table")),
        (
            "partial oversells filtered",
            reverse("dashboard:oversell-list") + "?root_cause=channel_allocation",
            htmx("oversell-results"),
        ),
        ("partial exposure chart, 7 days", reverse("dashboard:home") + "?window=7d", htmx("exposure-chart")),
        ("partial SKU history, 7 days", sku + "?window=7d", htmx("sku-history")),
        ("partial pool cards", reverse("dashboard:pool-list"), htmx("pool-cards")),
        (
            "partial rule preview (POST)",
            reverse("dashboard:rule-preview", args=[rule_id]),
            htmx("rule-preview"),
            preview,
        ),
        ("partial connector table", reverse("dashboard:connector-list"), htmx("connector-table")),
    ]
    return [(*r, None) if len(r) == 3 else r for r in requests]  # type: ignore[misc]


def measure(
    client: Client, request: Request, runs: int, before: Callable[[], object] | None = None
) -> tuple[list[float], int, int]:
    """Server times in ms of `runs` requests (after two warm-ups), one request's query count, its status.

    `before`, when given, runs (untimed) before each request: e.g. emptying the cache for cold figures.
    """
    _, url, headers, data = request

    def send() -> int:
        if data is None:
            return client.get(url, headers=headers).status_code
        return client.post(url, data, headers=headers).status_code

    for _ in range(2):
        send()
    if before is not None:
        before()
    with CaptureQueriesContext(connection) as queries:
        status = send()
    query_count = len(queries)  # now: the log it slices is cleared by the next request
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        send()
        times.append((time.perf_counter() - started) * 1000)
    return times, query_count, status


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def traced_key_positions_create() -> None:
    """The traced key's current positions (its last history row per system), so its SKU page exists."""
    latest = {}
    for change in PositionChange.objects.filter(sku=TRACED_SKU).order_by("changed_at"):
        latest[change.connector_id] = change
    InventoryPosition.objects.bulk_create(
        InventoryPosition(
            connector_id=c.connector_id,
            location_id=c.location_id,
            sku=c.sku,
            on_hand=c.on_hand,
            allocated=c.allocated,
            available=c.available,
            as_of=c.as_of,
            observed_at=NOW,
            changed_at=c.changed_at,
        )  # fmt: skip
        for c in latest.values()
    )


def fill(*, keys: int, location_count: int) -> dict[str, Any]:
    """Connectors, locations, positions, open discrepancies, one traced oversell, a rule, poll runs."""
    connectors: dict[str, Connector] = {}
    for role, adapter, interval in (("wms", "shiphero", 60), ("erp", "erpnext", 300), ("storefront", "shopify", 120)):
        connectors[role] = Connector.objects.create(
            name=f"bench {role}", role=role, adapter=adapter, base_url="https://bench.invalid",
            poll_interval_seconds=interval,
        )  # fmt: skip
        for n in range(20):  # the connectors page lists recent polls
            started = NOW - dt.timedelta(seconds=interval * (n + 1))
            PollRun.objects.create(
                connector=connectors[role], status="succeeded", started_at=started,
                finished_at=started + dt.timedelta(seconds=3), positions_seen=keys // location_count,
            )  # fmt: skip
    locations = [
        Location.objects.create(code=f"L{n:03d}", name=f"Location {n}", kind="store") for n in range(location_count)
    ]
    load_s, rows = timed(
        lambda: positions_copy(position_rows(connectors, [loc.pk for loc in locations], keys // location_count, 3))
    )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {POSITIONS}")
    sweep_s, _ = timed(lambda: reconciliation_run(now=NOW))
    exposure_record(now=NOW)  # what the sweep task records: the overview's phantom units
    line = traced_key_create(connectors=connectors, location=locations[0], changes=100)
    traced_key_positions_create()
    oversells_detect(order_line_ids=[line.pk], now=NOW + dt.timedelta(minutes=1))
    admin = get_user_model().objects.create_user("bench-admin", password="bench-admin-password")  # noqa: S106
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    pool = Pool.objects.create(code="web-stores", name="Web ship-from stores", scope="location")
    pool.locations.add(*locations[:10])  # the rule preview then weighs 10 locations' SKUs
    rule = inventory_services.allocation_rule_create(
        pool=pool,
        channel=Channel.objects.create(name="Web"),
        values=RuleValues(safety_stock=2, channel_share_percent=100),
        author=admin,
        reason="Benchmark rule",
    )
    print(
        f"database: {rows:,} positions ({location_count} locations × {keys // location_count:,} SKUs × 3 systems, "
        f"COPY {load_s:.1f} s), sweep {sweep_s:.1f} s, {Discrepancy.objects.filter(closed_at=None).count():,} "
        f"open discrepancies, {Oversell.objects.count()} oversell(s)"
    )
    return {
        "location": locations[0],
        "oversell": Oversell.objects.get(),
        "rule_id": rule.pk,
        "connector": connectors["wms"],
        "admin": admin,
    }


def filled() -> dict[str, Any]:
    """What fill() returned, read back from a kept database."""
    return {
        "location": Location.objects.order_by("pk").first(),
        "oversell": Oversell.objects.get(),
        "rule_id": AllocationRule.objects.get().pk,
        "connector": Connector.objects.get(role="wms"),
        "admin": get_user_model().objects.get(username="bench-admin"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1_000_000, help="keys (location × SKU), each in 3 systems")
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the filled database (test_<name>_pages) and reuse it on the next --keep run",
    )
    parser.add_argument("--only", default="", help="run only the requests whose label contains this text")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server: the benchmark is about production-sized data.")
    setup_test_environment(debug=False)  # the test client's host; no query log slowing every request
    # Its own database name: reconcile.py's throwaway test_<name> would otherwise drop a kept one.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"test_{connection.settings_dict['NAME']}_pages"
    if args.keep:  # iterate on a page without refilling a million rows each time
        connection.creation.create_test_db(verbosity=0, autoclobber=False, keepdb=True, serialize=False)
    else:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        made = (
            filled()
            if args.keep and Location.objects.exists()
            else fill(keys=args.positions, location_count=args.locations)
        )
        client = Client()
        client.force_login(made.pop("admin"))
        baseline_ms, _, _ = measure(Client(), ("baseline", reverse("login"), {}, None), args.runs)
        base = p95(baseline_ms)
        print(f"baseline (login page, no reads): median {statistics.median(baseline_ms):.1f} ms, p95 {base:.1f} ms")
        print(f"{'request':42} {'status':>6} {'queries':>7} {'median ms':>10} {'p95 ms':>8} {'p95/base':>9}")
        for request in requests_list(**made):
            if args.only.lower() not in request[0].lower():
                continue
            times, queries, status = measure(client, request, args.runs)
            target = "  (target <= 50)" if request[0].startswith("partial") else ""
            print(
                f"{request[0]:42} {status:>6} {queries:>7} {statistics.median(times):>10.1f} {p95(times):>8.1f} "
                f"{p95(times) / base:>9.1f}{target}"
            )
            if "rule preview" in request[0]:
                # The preview keeps its per-pool aggregate until a poll stores positions: the first
                # preview after each poll pays for it again. Every request here is such a first one.
                times, queries, status = measure(client, request, args.runs, before=cache.clear)
                label = "  cold: first preview after a poll"
                print(
                    f"{label:42} {status:>6} {queries:>7} {statistics.median(times):>10.1f} {p95(times):>8.1f} "
                    f"{p95(times) / base:>9.1f}"
                )
    finally:
        connection.close()
        if not args.keep:
            connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

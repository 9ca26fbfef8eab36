"""Page benchmark: server time of every dashboard page and HTMX partial on a large database (issue 6).

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/pages.py [--positions 1000000] [--runs 30]

Creates a throwaway database (test_<name>), migrates it, fills it with `--positions` keys (location ×
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
from django.db import connection, reset_queries  # noqa: E402
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
from inventory_hub.inventory.models import Channel, Location, Pool  # noqa: E402
from inventory_hub.inventory.rules import RuleValues  # noqa: E402
from inventory_hub.reconciliation.exposure import exposure_record  # noqa: E402
from inventory_hub.reconciliation.models import Discrepancy  # noqa: E402
from inventory_hub.reconciliation.services import reconciliation_run  # noqa: E402
from inventory_hub.tracing.models import Oversell  # noqa: E402
from inventory_hub.tracing.services import oversells_detect  # noqa: E402

Request = tuple[str, str, dict[str, str]]  # label, URL, extra headers


def htmx(target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target}


def requests_list(*, location: Location, oversell: Oversell, rule_id: int, connector: Connector) -> list[Request]:
    """Every page, then the partials HTMX asks for while a person uses them."""
    grid = reverse("dashboard:location-detail", args=[location.pk])
    sku = reverse("dashboard:sku-detail", args=[location.pk, TRACED_SKU])
    at = (NOW - dt.timedelta(hours=3)).isoformat(timespec="minutes")
    return [
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
        ("partial discrepancy list", reverse("dashboard:discrepancy-list") + "?state=open", htmx("discrepancy-list")),
        (
            "partial discrepancies, one location",
            reverse("dashboard:discrepancy-list") + f"?location={location.pk}&page=2",
            htmx("discrepancy-list"),
        ),
        ("partial oversell list", reverse("dashboard:oversell-list"), htmx("oversell-list")),
        ("partial connector table", reverse("dashboard:connector-list"), htmx("connector-table")),
    ]


def measure(client: Client, request: Request, runs: int) -> tuple[list[float], int, int]:
    """Server times in ms of `runs` requests (after two warm-ups), one request's query count, its status."""
    _, url, headers = request
    for _ in range(2):
        client.get(url, headers=headers)
    reset_queries()  # a full log (DEBUG keeps the last 9,000) would make the count below read 0
    with CaptureQueriesContext(connection) as queries:
        status = client.get(url, headers=headers).status_code
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
    return times, len(queries), status


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


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
    oversells_detect(order_line_ids=[line.pk], now=NOW + dt.timedelta(minutes=1))
    admin = get_user_model().objects.create_user("bench-admin", password="bench-admin-password")  # noqa: S106
    admin.groups.add(Group.objects.get(name=roles.ADMIN))
    rule = inventory_services.allocation_rule_create(
        pool=Pool.objects.create(name="Web ship-from stores"),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=1_000_000, help="keys (location × SKU), each in 3 systems")
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL to a PostgreSQL server: the benchmark is about production-sized data.")
    setup_test_environment(debug=False)  # the test client's host; no query log slowing every request
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        made = fill(keys=args.positions, location_count=args.locations)
        client = Client()
        client.force_login(made.pop("admin"))
        baseline_ms, _, _ = measure(Client(), ("baseline", reverse("login"), {}), args.runs)
        base = p95(baseline_ms)
        print(f"baseline (login page, no reads): median {statistics.median(baseline_ms):.1f} ms, p95 {base:.1f} ms")
        print(f"{'request':42} {'status':>6} {'queries':>7} {'median ms':>10} {'p95 ms':>8} {'p95/base':>9}")
        for request in requests_list(**made):
            times, queries, status = measure(client, request, args.runs)
            target = "  (target <= 50)" if request[0].startswith("partial") else ""
            print(
                f"{request[0]:42} {status:>6} {queries:>7} {statistics.median(times):>10.1f} {p95(times):>8.1f} "
                f"{p95(times) / base:>9.1f}{target}"
            )
    finally:
        connection.close()
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


if __name__ == "__main__":
    main()

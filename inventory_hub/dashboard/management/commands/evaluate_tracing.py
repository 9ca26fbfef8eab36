"""`manage.py evaluate_tracing`: a sandbox scenario through the real adapters into a fresh database, scored
against the sandbox's ground truth.

The fresh database is a throwaway SQLite file: the command points the default connection at a
new temporary file, migrates it, runs, and deletes it, so the database the project is configured
with is never touched. Like the demo, this entry point knows both sides (the sandbox world and
the hub), which is why it imports the sandbox and `dashboard.demo`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

STEP_TOLERANCE_POLLS = 1  # an inferred allocation matches a true one within one poll step


def _legacy_id(value: str) -> int | None:
    """The legacy id inside a Shopify gid or a ShipHero base64 id, when there is one."""
    if value.startswith("gid://"):
        tail = value.rsplit("/", 1)[-1]
        return int(tail) if tail.isdigit() else None
    try:
        decoded = base64.b64decode(value).decode()
    except ValueError:
        return None
    tail = decoded.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def tracing_evaluate(*, scenario_name: str, seed: int | None, days: float, step_minutes: float) -> dict[str, Any]:
    """Backfill the scenario into the current (empty) database, detect and score: one JSON-able dict."""
    started = time.monotonic()
    world = tracing_backfill(scenario_name=scenario_name, seed=seed, days=days, step_minutes=step_minutes)
    backfilled = time.monotonic()
    result = tracing_score(world=world, days=days, step_minutes=step_minutes)
    finished = time.monotonic()
    result["run_seconds"] = {
        "backfill": round(backfilled - started, 2),
        "pipeline": round(finished - backfilled, 2),
        "total": round(finished - started, 2),
    }
    return result


def tracing_backfill(*, scenario_name: str, seed: int | None, days: float, step_minutes: float) -> Any:
    """The scenario polled through the real adapters every `step_minutes` for `days`: the sandbox world."""
    from inventory_hub.connectors.models import Connector
    from inventory_hub.dashboard.demo import backfill_transport, demo_backfill, demo_retailer_create
    from inventory_hub.sandbox.scenario import load_scenario
    from inventory_hub.sandbox.simulation import Simulation

    if Connector.objects.exists():
        raise CommandError("The database already has connectors: evaluate_tracing needs a fresh one.")
    scenario = load_scenario(scenario_name)
    if seed is not None:
        scenario = dataclasses.replace(scenario, seed=seed)
    simulation = Simulation(scenario)
    transport, clock = backfill_transport(simulation.world)
    connectors = demo_retailer_create(scenario=scenario, world=simulation.world, base_url="http://sandbox")
    demo_backfill(
        simulation=simulation,
        connectors=connectors,
        transport=transport,
        clock=clock,
        until=scenario.start + dt.timedelta(days=days),
        step=dt.timedelta(minutes=step_minutes),
        reconcile_each_poll=False,  # scored on positions and history; reconciliation runs once in tracing_score
    )
    return simulation.world


def tracing_score(*, world: Any, days: float, step_minutes: float) -> dict[str, Any]:
    """Run reconciliation, hop lags and tracing over the backfilled data and score them against the world's truth."""
    from inventory_hub.connectors.models import PollRun, Role
    from inventory_hub.inventory.models import Location
    from inventory_hub.reconciliation.hop_lags import hop_lags_measure
    from inventory_hub.reconciliation.selectors import hop_lag_stats
    from inventory_hub.reconciliation.services import reconciliation_run
    from inventory_hub.sandbox.export import hop_lags
    from inventory_hub.tracing import services
    from inventory_hub.tracing.models import Oversell, TraceStep

    now = world.now
    step = dt.timedelta(minutes=step_minutes)
    reconciliation_run(now=now)
    hop_lags_measure(now=now)
    detected = services.oversells_detect(now=now)
    services.cascade_loops_detect(now=now)

    true_events = {e.id: e for e in world.truth.events}
    truth_by_line = {(o.order_id, o.line_id): o for o in world.truth.oversells}
    found: dict[tuple[int, int], Oversell] = {}
    for oversell in Oversell.objects.select_related("order_line__order", "originating_event"):
        order_id = _legacy_id(oversell.order_line.order.source_order_id)
        line_id = _legacy_id(oversell.order_line.source_line_id)
        if order_id is not None and line_id is not None:
            found[(order_id, line_id)] = oversell
    origin_steps = {
        step.oversell_id: step
        for step in TraceStep.objects.filter(kind=TraceStep.Kind.COUNT_EVENT).order_by("position")
    }
    matched = set(truth_by_line) & set(found)
    origin_right = cause_right = 0
    confusion: dict[str, int] = {}
    cause_misses: list[dict[str, Any]] = []
    for key in sorted(matched):
        true, mine = truth_by_line[key], found[key]
        cause_right += true.root_cause == mine.root_cause
        if true.root_cause != mine.root_cause:
            label = f"{true.root_cause}->{mine.root_cause}"
            confusion[label] = confusion.get(label, 0) + 1
            cause_misses.append(
                {"line_id": key[1], "at": true.at.isoformat(), "truth": true.root_cause, "detected": mine.root_cause}
            )
        origin_right += _origin_matches(true_events.get(true.originating_event_id or ""), mine, origin_steps, step)
    codes = dict(Location.objects.values_list("pk", "code"))
    stats = hop_lag_stats(window=dt.timedelta(days=days), now=now)
    # The hub's lags start at its first WMS poll: what changed before is its starting state.
    first_poll = (
        PollRun.objects.filter(connector__role=Role.WMS, status=PollRun.Status.SUCCEEDED)
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    true_lags = hop_lags(world, since=first_poll)
    lag_errors: dict[str, dict[str, float | None]] = {}
    for location_id, hops in sorted(stats.items()):
        code = codes[location_id]
        for hop, measured in hops.items():
            expected = true_lags.get(code, {}).get(hop, {}).get("p50")
            error = abs(float(measured["p50"]) - expected) / expected if expected else None
            lag_errors.setdefault(hop, {})[code] = None if error is None else round(error, 4)
    n_true, n_found = len(truth_by_line), len(found)
    return {
        "scenario": world.scenario,
        "seed": world.seed,
        "days": days,
        "step_minutes": step_minutes,
        "oversells_truth": n_true,
        "oversells_detected": n_found,
        "matched": len(matched),
        "precision": round(len(matched) / n_found, 4) if n_found else None,
        "recall": round(len(matched) / n_true, 4) if n_true else None,
        "originating_event_accuracy": round(origin_right / len(matched), 4) if matched else None,
        "root_cause_accuracy": round(cause_right / len(matched), 4) if matched else None,
        "root_causes_truth": _count(o.root_cause for o in truth_by_line.values()),
        "root_causes_detected": dict(sorted(detected.by_root_cause.items())),
        "root_cause_confusion": dict(sorted(confusion.items())),
        "root_cause_misses": cause_misses[:20],
        "missed": [
            {
                "line_id": k[1],
                "at": o.at.isoformat(),
                "q": o.quantity,
                "shown": o.shown,
                "truth": o.truth,
                "root_cause": o.root_cause,
            }
            for k, o in sorted(truth_by_line.items())
            if k not in found
        ][:20],
        "false_positives": [
            {
                "line_id": k[1],
                "at": o.ordered_at.isoformat(),
                "q": o.quantity,
                "shown": o.shown,
                "truth": o.truth,
                "root_cause": o.root_cause,
            }
            for k, o in sorted(found.items())
            if k not in truth_by_line
        ][:20],
        "hop_lag_p50_relative_error": lag_errors,
        "hop_lag_p50_relative_error_max": {
            hop: max((v for v in errors.values() if v is not None), default=None) for hop, errors in lag_errors.items()
        },
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def _origin_matches(true_event: Any, mine: Any, origin_steps: dict[int, Any], step: dt.timedelta) -> bool:
    """Same ShipHero change; or, for allocations (which have none), both allocations within one poll step."""
    count_step = origin_steps.get(mine.pk)
    if true_event is None:
        return count_step is None
    if count_step is None:
        return False
    if true_event.shiphero_change_id is not None:
        event = mine.originating_event
        return event is not None and _legacy_id(event.source_event_id) == true_event.shiphero_change_id
    is_allocation = count_step.detail.startswith("channel_allocation")
    close = (
        count_step.occurred_at is not None
        and abs(count_step.occurred_at - true_event.at) <= step * STEP_TOLERANCE_POLLS
    )
    return is_allocation and close


class Command(BaseCommand):
    help = "Run a sandbox scenario into a throwaway database, detect oversells, and score them against the truth."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenario", required=True, help="A shipped scenario's name or a scenario .json file.")
        parser.add_argument("--seed", type=int, default=None, help="Overrides the scenario's seed.")
        parser.add_argument("--days", type=float, default=1.0)
        parser.add_argument("--step-minutes", type=float, default=5.0, help="Poll every connector this often.")

    def handle(self, *args: Any, **options: Any) -> None:
        from inventory_hub.sandbox.scenario import ScenarioError

        with tempfile.TemporaryDirectory(prefix="evaluate-tracing-") as directory:
            _use_fresh_sqlite(Path(directory) / "evaluate.sqlite3")
            call_command("migrate", verbosity=0, interactive=False)
            try:
                result = tracing_evaluate(
                    scenario_name=options["scenario"],
                    seed=options["seed"],
                    days=options["days"],
                    step_minutes=options["step_minutes"],
                )
            except ScenarioError as exc:
                raise CommandError(str(exc)) from exc
            finally:
                connections["default"].close()
        self.stdout.write(json.dumps(result, sort_keys=True))


def _use_fresh_sqlite(path: Path) -> None:
    """Point the default connection at a new SQLite file (the configured database is left alone)."""
    connections["default"].close()
    configured = dict(connections.settings["default"])
    configured.update(
        ENGINE="django.db.backends.sqlite3",
        NAME=str(path),
        OPTIONS={"timeout": 20, "transaction_mode": "IMMEDIATE"},
        CONN_MAX_AGE=0,
        CONN_HEALTH_CHECKS=False,
    )
    connections.settings["default"] = configured
    del connections["default"]  # the next use opens a connection with the new settings

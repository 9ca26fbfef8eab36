"""Time a simulated week of each named sandbox scenario.

    .venv/bin/python benchmarks/sandbox_week.py [--days 7] [NAME ...]

Prints wall time, WMS events and orders per second of wall time, and the simulated-to-real
speed-up. (Issue target: a week of `twenty-locations` in under a minute.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inventory_hub.sandbox.export import truth_summary  # noqa: E402
from inventory_hub.sandbox.scenario import load_scenario, scenario_names  # noqa: E402
from inventory_hub.sandbox.simulation import Simulation  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("names", nargs="*", default=scenario_names())
    args = parser.parse_args()
    for name in args.names:
        scenario = load_scenario(name)
        started = time.perf_counter()
        simulation = Simulation(scenario)
        simulation.advance_to(scenario.start + dt.timedelta(days=args.days))
        seconds = time.perf_counter() - started
        summary = truth_summary(simulation.world)
        keys = len(simulation.world.wms_products)
        print(
            f"{name}: {args.days:g} simulated days in {seconds:.2f} s "
            f"(speed-up {args.days * 86400 / seconds:,.0f}×), {keys} positions per system, "
            f"{summary['wms_events']} WMS events, {summary['orders']} orders, {summary['oversells']} oversells "
            f"{summary['oversells_by_root_cause']}"
        )


if __name__ == "__main__":
    main()

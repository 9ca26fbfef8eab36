"""`manage.py sandbox serve|export`: run the simulated retailer over HTTP, or export its ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory_hub.sandbox import server
from inventory_hub.sandbox.wsgi import SandboxApp


class Command(BaseCommand):
    help = "Serve the sandbox retailer's three systems on loopback, or export a run's ground truth."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)

        serve = actions.add_parser("serve", help="Serve Shopify, ShipHero and ERPNext APIs over a simulation.")
        serve.add_argument("--scenario", required=True, help="Scenario name or file.")
        serve.add_argument("--seed", type=int, help="Override the scenario's seed.")
        serve.add_argument("--host", default="127.0.0.1", choices=server.LOOPBACK_HOSTS)
        serve.add_argument("--port", type=int, default=8100)
        serve.add_argument("--verbose-http", action="store_true", help="Log every request.")
        serve.add_argument(
            "--start",
            type=dt.datetime.fromisoformat,
            help="Override the scenario's start (ISO-8601 with a zone), e.g. to end a fast-forward at now.",
        )
        serve.add_argument(
            "--days", type=float, help="First advance this many simulated days at once (then serve that state)."
        )
        serve.add_argument(
            "--speed",
            type=float,
            help="Then advance in paced real time: simulated seconds per real second "
            "(default 60 without --days; with --days the state stays still unless --speed is given).",
        )

        export = actions.add_parser("export", help="Run a scenario and write its ground truth as JSON.")
        export.add_argument("--scenario", required=True, help="Scenario name or file.")
        export.add_argument("--seed", type=int, help="Override the scenario's seed.")
        export.add_argument("--days", type=float, required=True, help="Simulated days to run.")
        export.add_argument("--out", type=Path, help="Output file (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "serve":
                self.serve(options)
            else:
                self.export(options)
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from exc

    def serve(self, options: dict[str, Any]) -> None:
        start = options["start"]
        if start is not None and start.tzinfo is None:
            raise CommandError("--start needs a time zone, e.g. 2026-11-21T09:00:00+00:00.")
        simulation = server.build_simulation(options["scenario"], options["seed"], start)
        pacer = None
        if options["days"] is not None:
            server.advance_days(
                simulation, options["days"], on_step=lambda t: self.stderr.write(f"simulated to {t.isoformat()}")
            )
        if options["speed"] is not None or options["days"] is None:
            pacer = server.Pacer(simulation, speed=options["speed"] or 60.0)
        httpd = server.make_server(
            SandboxApp(simulation.world), options["host"], options["port"], verbose=options["verbose_http"]
        )
        for line in server.banner(simulation.world, server.base_url(httpd)):
            self.stdout.write(line)
        if pacer is not None:
            self.stdout.write(f"Serving, paced at {pacer.speed:g}× real time; Ctrl-C stops.")
        else:
            self.stdout.write("Serving the final state (the simulation has stopped); Ctrl-C stops.")
        server.serve(httpd, pacer=pacer)
        self.stdout.write("Sandbox stopped.")

    def export(self, options: dict[str, Any]) -> None:
        text = server.export_truth(options["scenario"], options["seed"], options["days"])
        if options["out"] is None:
            self.stdout.write(text, ending="")
        else:
            options["out"].write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {options['out']}")

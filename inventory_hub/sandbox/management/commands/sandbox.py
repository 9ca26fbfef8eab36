"""`manage.py sandbox serve|export`: run the simulated retailer over HTTP, or export its ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory_hub.sandbox import server, webhooks
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

        serve.add_argument("--webhook-shopify", help="POST Shopify webhooks (levels, orders) to this URL.")
        serve.add_argument("--webhook-shiphero", help="POST ShipHero Inventory Change webhooks to this URL.")
        serve.add_argument(
            "--webhook-secret", help="Sign webhooks with this secret (default: the world's webhook_secret credential)."
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
        sender = self._webhook_sender(simulation, options)
        if options["speed"] is not None or options["days"] is None:
            paced = simulation if sender is None else webhooks.WebhookingSimulation(simulation, sender)
            pacer = server.Pacer(paced, speed=options["speed"] or 60.0)
        httpd = server.make_server(
            SandboxApp(simulation.world), options["host"], options["port"], verbose=options["verbose_http"]
        )
        for line in server.banner(simulation.world, server.base_url(httpd)):
            self.stdout.write(line)
        if pacer is not None:
            self.stdout.write(f"Serving, paced at {pacer.speed:g}× real time; Ctrl-C stops.")
        else:
            self.stdout.write("Serving the final state (the simulation has stopped); Ctrl-C stops.")
        if sender is not None:
            sender.start()
        try:
            server.serve(httpd, pacer=pacer)
        finally:
            if sender is not None:
                sender.stop()
                self.stdout.write(f"Webhooks: {sender.sent} delivered, {sender.failed} given up.")
        self.stdout.write("Sandbox stopped.")

    def _webhook_sender(self, simulation: Any, options: dict[str, Any]) -> webhooks.WebhookSender | None:
        """Outbound webhooks, when a receiver was given: sent after each paced advance."""
        if not (options["webhook_shopify"] or options["webhook_shiphero"]):
            return None
        secret = options["webhook_secret"] or simulation.world.credentials.webhook_secret
        collector = webhooks.WebhookCollector(
            simulation.world,
            shopify=webhooks.WebhookTarget(options["webhook_shopify"], secret) if options["webhook_shopify"] else None,
            shiphero=webhooks.WebhookTarget(options["webhook_shiphero"], secret)
            if options["webhook_shiphero"]
            else None,
        )
        return webhooks.WebhookSender(collector)

    def export(self, options: dict[str, Any]) -> None:
        text = server.export_truth(options["scenario"], options["seed"], options["days"])
        if options["out"] is None:
            self.stdout.write(text, ending="")
        else:
            options["out"].write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {options['out']}")

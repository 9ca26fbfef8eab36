"""`python manage.py demo`: the whole product on this machine, on the embedded default.

Set-up: migrate, collect static files, one demo user per role (credentials printed), the hub
configured for a sandbox scenario (locations, channels, pools, boundaries, rules, connectors,
mappings), and a backfill of the last simulated week through the real adapters. Then, unless
--no-serve: the web server, the sandbox on loopback (continuing the same world in real time), a
Celery worker and Celery beat polling it — all child processes, stopped together on Ctrl-C.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse
from django.utils import timezone

from inventory_hub.connectors.models import Connector
from inventory_hub.core import roles
from inventory_hub.dashboard import demo
from inventory_hub.observations.models import InventoryEvent, InventoryPosition, Order
from inventory_hub.sandbox.scenario import ScenarioError, load_scenario

# Demo-only accounts; the command refuses to run without DEBUG, so these never reach production.
DEMO_USERS = (
    ("manager", "demo-manager-2026", roles.FULFILLMENT_MANAGER, False),
    (
        "opslead",
        "demo-opslead-2026",
        roles.OPS_LEAD,
        True,
    ),  # staff: pools and boundaries are edited in the admin for now
    ("admin", "demo-admin-2026", roles.ADMIN, True),
)


class Command(BaseCommand):
    help = "Set up the embedded default with a sandbox retailer, backfill a week, and run everything."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Set up and backfill, then exit.")
        parser.add_argument("--scenario", default="two-stores-and-an-fc", help="Sandbox scenario name or file.")
        parser.add_argument("--seed", type=int, help="Override the scenario's seed.")
        parser.add_argument("--days", type=float, default=7.0, help="Simulated days to backfill (ending now).")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--sandbox-port", type=int, default=8100)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo creates users with known passwords: run it with DEBUG=1 (make demo does).")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._users_create()
        start = self._retailer_backfill(options)
        self._credentials_print(options["host"], options["port"], options["sandbox_port"])
        if not options["no_serve"]:
            self._serve(options, start)

    def _users_create(self) -> None:
        roles.roles_sync(django_apps)  # the migration made them; re-sync in case they were edited
        user_model = get_user_model()
        for username, password, role, is_staff in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = is_staff
            user.save()
            user.groups.set([Group.objects.get(name=role)])

    def _retailer_backfill(self, options: dict[str, Any]) -> dt.datetime:
        try:
            scenario = load_scenario(options["scenario"])
        except ScenarioError as exc:
            raise CommandError(str(exc)) from exc
        if options["seed"] is not None:
            scenario = scenario.with_seed(options["seed"])
        # The simulated week ends now, so live polls continue it in real time with real timestamps.
        end = timezone.now().replace(second=0, microsecond=0)
        start = end - dt.timedelta(days=options["days"])
        scenario = dataclasses.replace(scenario, start=start)
        self.stdout.write(
            f"Backfilling {options['days']:g} simulated days of '{scenario.name}' through the real adapters…"
        )
        started = time.monotonic()
        run = demo.sandbox_backfill_run(
            scenario=scenario,
            days=options["days"],
            step=dt.timedelta(hours=1),
            base_url=f"http://127.0.0.1:{options['sandbox_port']}",
        )
        connectors, polls = run.connectors, run.polls
        summary = ", ".join(
            f"{role}: {InventoryPosition.objects.filter(connector=c).count()} positions"
            for role, c in connectors.items()
        )
        self.stdout.write(
            f"Backfill done in {time.monotonic() - started:.0f} s: {polls} polls; {summary}; "
            f"{InventoryEvent.objects.count()} events, {Order.objects.count()} orders."
        )
        self._scenario = (options["scenario"], scenario.seed)
        return start

    def _credentials_print(self, host: str, port: int, sandbox_port: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nInventory Hub demo: http://{host}:{port}/\n"))
        self.stdout.write("Log in as one of (demo only):")
        for username, password, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<20} username {username:<8} password {password}")
        self.stdout.write(f"The sandbox retailer's own status page: http://127.0.0.1:{sandbox_port}/\n")

    def _webhook_url(self, options: dict[str, Any], adapter: str) -> str:
        """Where the sandbox posts its `adapter` webhooks: the hub's intake for that connector."""
        connector = Connector.objects.filter(adapter=adapter).order_by("pk").first()
        if connector is None:
            raise CommandError(f"No {adapter} connector to receive the sandbox's webhooks.")
        return f"http://{options['host']}:{options['port']}{reverse('webhooks:receive', args=[adapter, connector.pk])}"

    def _serve(self, options: dict[str, Any], start: dt.datetime) -> None:
        python = sys.executable
        name, seed = self._scenario
        commands = {
            "web": [python, "manage.py", "runserver", f"{options['host']}:{options['port']}", "--noreload"],
            "sandbox": [
                python,
                "manage.py",
                "sandbox",
                "serve",
                "--scenario",
                name,
                "--seed",
                str(seed),
                "--start",
                start.isoformat(),
                "--days",
                str(options["days"]),
                "--speed",
                "1",
                "--port",
                str(options["sandbox_port"]),
                # Both paths in the demo: polls every interval, and webhooks within seconds.
                "--webhook-shopify",
                self._webhook_url(options, "shopify"),
                "--webhook-shiphero",
                self._webhook_url(options, "shiphero"),
            ],
            "worker": [python, "-m", "celery", "-A", "inventory_hub", "worker", "--loglevel=INFO", "--concurrency=2"],
            "beat": [python, "-m", "celery", "-A", "inventory_hub", "beat", "--loglevel=INFO"],
        }
        processes: dict[str, subprocess.Popen[bytes]] = {}
        # A terminal's Ctrl-C is SIGINT; a supervisor or `timeout` sends SIGTERM/SIGHUP: stop the
        # children the same way for all of them, never leave them running.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _raise_keyboard_interrupt)
        try:
            for process_name, command in commands.items():
                # Each in its own process group, so Ctrl-C is handled here, once, in order.
                processes[process_name] = subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)  # noqa: S603
            self.stdout.write("Web server, sandbox, Celery worker and beat are running. Press Ctrl-C to stop them all.")
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [n for n, p in processes.items() if p.poll() is not None]
            raise CommandError(f"{', '.join(stopped)} stopped unexpectedly; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt

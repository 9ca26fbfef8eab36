"""`python manage.py demo`: set up the embedded default and run the whole product on this machine.

Set-up: migrate, collect static files, create one demo user per role (their credentials are
printed). Then, unless --no-serve: the web server, a Celery worker and Celery beat on the
embedded broker, as child processes; Ctrl-C stops all of them.
"""

from __future__ import annotations

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

from inventory_hub.core import roles

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
    help = "Set up the embedded default (SQLite, filesystem broker) and serve the dashboard."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="Set up, then exit.")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo creates users with known passwords: run it with DEBUG=1 (make demo does).")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        self._users_create()
        self._credentials_print(options["host"], options["port"])
        if options["no_serve"]:
            return
        self._serve(options["host"], options["port"])

    def _users_create(self) -> None:
        roles.roles_sync(django_apps)  # the migration made them; re-sync in case they were edited
        user_model = get_user_model()
        for username, password, role, is_staff in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = is_staff
            user.save()
            user.groups.set([Group.objects.get(name=role)])

    def _credentials_print(self, host: str, port: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nInventory Hub demo: http://{host}:{port}/\n"))
        self.stdout.write("Log in as one of (demo only):")
        for username, password, role, _ in DEMO_USERS:
            self.stdout.write(f"  {role:<20} username {username:<8} password {password}")
        self.stdout.write("")

    def _serve(self, host: str, port: int) -> None:
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            "worker": [python, "-m", "celery", "-A", "inventory_hub", "worker", "--loglevel=INFO", "--concurrency=2"],
            "beat": [python, "-m", "celery", "-A", "inventory_hub", "beat", "--loglevel=INFO"],
        }
        processes: dict[str, subprocess.Popen[bytes]] = {}
        # A terminal's Ctrl-C is SIGINT; a supervisor or `timeout` sends SIGTERM/SIGHUP: stop the
        # children the same way for all of them, never leave them running.
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _raise_keyboard_interrupt)
        try:
            for name, command in commands.items():
                # Each in its own process group, so Ctrl-C is handled here, once, in order.
                processes[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)  # noqa: S603
            self.stdout.write("Web server, Celery worker and beat are running. Press Ctrl-C to stop them all.")
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, p in processes.items() if p.poll() is not None]
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

"""Print a new Fernet key for FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from inventory_hub.core.crypto import generate_key


class Command(BaseCommand):
    help = "Print a new key for FIELD_ENCRYPTION_KEYS (put it first, keep the old ones until rotated)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(generate_key())

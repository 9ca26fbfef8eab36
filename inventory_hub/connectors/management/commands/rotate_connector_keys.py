"""Re-encrypt every connector's credentials with the newest FIELD_ENCRYPTION_KEYS key."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from inventory_hub.connectors.models import Connector


class Command(BaseCommand):
    help = "Re-encrypt connector credentials with the first key of FIELD_ENCRYPTION_KEYS; then old keys can go."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            # Reading decrypts with any configured key; writing encrypts with the newest.
            for connector in Connector.objects.select_for_update().only("pk", "credentials"):
                Connector.objects.filter(pk=connector.pk).update(credentials=connector.credentials)
                count += 1
        self.stdout.write(f"Re-encrypted the credentials of {count} connector(s) with the newest key.")

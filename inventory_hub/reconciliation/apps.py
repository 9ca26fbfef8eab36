from __future__ import annotations

from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "inventory_hub.reconciliation"
    label = "reconciliation"
    verbose_name = "Reconciliation"

from __future__ import annotations

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "inventory_hub.reports"
    label = "reports"
    verbose_name = "Reports"

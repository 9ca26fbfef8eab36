from __future__ import annotations

from django.apps import AppConfig


class ObservationsConfig(AppConfig):
    name = "inventory_hub.observations"
    label = "observations"
    verbose_name = "Observations"

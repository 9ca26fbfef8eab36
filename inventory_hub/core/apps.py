from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "inventory_hub.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from inventory_hub.core import checks  # noqa: F401  (registers the system checks)

from __future__ import annotations

from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "inventory_hub.connectors"
    label = "connectors"
    verbose_name = "Connectors"

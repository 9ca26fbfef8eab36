from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "inventory_hub.api"
    label = "api"
    verbose_name = "REST API"

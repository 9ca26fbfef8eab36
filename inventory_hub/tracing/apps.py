from __future__ import annotations

from django.apps import AppConfig


class TracingConfig(AppConfig):
    name = "inventory_hub.tracing"
    label = "tracing"
    verbose_name = "Tracing"

"""The sandbox is a Django app only for its management command (`manage.py sandbox`); it has no models."""

from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "inventory_hub.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox retailer"

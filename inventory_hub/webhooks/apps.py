from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "inventory_hub.webhooks"
    label = "webhooks"
    verbose_name = "Webhook intake"

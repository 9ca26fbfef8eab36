"""Inventory Hub: one view of what the WMS, ERP and storefront each believe about stock."""

from __future__ import annotations

# Celery's app is loaded with Django so that @shared_task binds to it.
from inventory_hub.celery import app as celery_app

__all__ = ("celery_app",)

"""WSGI entry point (gunicorn inventory_hub.wsgi)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_hub.settings")

application = get_wsgi_application()

"""System checks guarding settings invariants; the deploy ones run with `check --deploy`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register()
def check_time_zone(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Everything is stored and computed in UTC; pages convert per location."""
    if settings.TIME_ZONE != "UTC" or not settings.USE_TZ:
        return [Error("TIME_ZONE must be 'UTC' and USE_TZ True.", id="inventory_hub.E001")]
    return []


@register(Tags.security, deploy=True)
def check_production_settings(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """What Django's own deploy checks do not cover (RELIABILITY.md, settings checklist)."""
    problems: list[Warning] = []

    def warn(message: str, number: int) -> None:
        problems.append(Warning(message, id=f"inventory_hub.W{number:03d}"))

    if settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        warn("SECRET_KEY is the development key; set SECRET_KEY.", 1)
    if settings.DEV_FIELD_ENCRYPTION_KEY in settings.FIELD_ENCRYPTION_KEYS:
        warn("FIELD_ENCRYPTION_KEYS holds the development key; set your own.", 2)
    if "inventory_hub.core.middleware.HtmxLoginRequiredMiddleware" not in settings.MIDDLEWARE:
        warn("LoginRequiredMiddleware is missing: pages would be public by default.", 3)
    if "csp.middleware.CSPMiddleware" not in settings.MIDDLEWARE or not getattr(
        settings, "CONTENT_SECURITY_POLICY", None
    ):
        warn("The Content-Security-Policy middleware or policy is missing.", 4)
    if settings.AUTHENTICATION_BACKENDS[:1] != ["axes.backends.AxesStandaloneBackend"]:
        warn("django-axes must be the first authentication backend.", 5)
    permissions = settings.REST_FRAMEWORK.get("DEFAULT_PERMISSION_CLASSES", [])
    if not permissions or "rest_framework.permissions.AllowAny" in permissions:
        warn("The API's default permission must not be AllowAny.", 6)
    if not settings.CELERY_TASK_ACKS_LATE:
        warn("CELERY_TASK_ACKS_LATE must be on: polls are idempotent and must survive a crash.", 7)
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    if visibility is not None and visibility <= settings.CELERY_TASK_TIME_LIMIT:
        warn("The broker visibility_timeout must exceed CELERY_TASK_TIME_LIMIT.", 8)
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        warn("Production runs on PostgreSQL: set DATABASE_URL.", 9)
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        warn("The filesystem broker serves one machine only: set CELERY_BROKER_URL.", 10)
    return problems

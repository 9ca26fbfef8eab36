"""Admin helpers shared by the apps, and the admin of core's own models."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest

from inventory_hub.core.models import WorkerHeartbeat


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: exact counts of history tables with millions of rows are slow."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:  # type: ignore[override]
        return len(self.object_list[: self.CAP + 1].values_list("pk", flat=True))  # type: ignore[union-attr]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Observed facts and history: visible to admins, never edited by hand."""

    paginator = CappedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "seen_at"]
    search_fields = ["hostname"]

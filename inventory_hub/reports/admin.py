from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from inventory_hub.core import roles
from inventory_hub.core.admin import ReadOnlyAdmin
from inventory_hub.reports import periods
from inventory_hub.reports.models import ReportJob, ReportSchedule


class ExportPermissionMixin:
    """Reports answer to the one export permission (an admin's), not to per-model permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(roles.PERM_EXPORT_REPORTS)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(roles.PERM_EXPORT_REPORTS)


@admin.register(ReportSchedule)
class ReportScheduleAdmin(ExportPermissionMixin, admin.ModelAdmin):
    list_display = ["kind", "format", "frequency", "send_hour", "is_active", "next_run_at", "last_run_at"]
    list_filter = ["kind", "frequency", "is_active"]
    filter_horizontal = ["locations"]
    readonly_fields = ["created_by", "created_at", "last_run_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(roles.PERM_EXPORT_REPORTS)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(roles.PERM_EXPORT_REPORTS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(roles.PERM_EXPORT_REPORTS)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault(
            "next_run_at", periods.schedule_next_run(frequency="daily", send_hour=6, after=timezone.now())
        )
        return initial

    def save_model(self, request: HttpRequest, obj: ReportSchedule, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


@admin.register(ReportJob)
class ReportJobAdmin(ExportPermissionMixin, ReadOnlyAdmin):
    list_display = ["created_at", "kind", "format", "date_from", "date_to", "status", "rows_written", "requested_by"]
    list_filter = ["status", "kind", "format"]
    list_select_related = ["requested_by"]

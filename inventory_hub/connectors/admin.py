from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from inventory_hub.connectors import services
from inventory_hub.connectors.models import Connector, LocationMapping, PollRun
from inventory_hub.core.admin import ReadOnlyAdmin


class ConnectorForm(forms.ModelForm):
    """Credentials are write-only: typed in, encrypted, never rendered back."""

    base_url = forms.URLField(max_length=500, assume_scheme="https", label="Base URL")
    new_credentials = forms.CharField(
        required=False,
        label="Credentials",
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            'A JSON object, e.g. {"access_token": "…"} for Shopify or {"api_key": "…", '
            '"api_secret": "…"} for ERPNext. Leave blank to keep the stored credentials.'
        ),
    )

    class Meta:
        model = Connector
        fields = [
            "name",
            "role",
            "adapter",
            "base_url",
            "options",
            "poll_interval_seconds",
            "enabled",
            "disabled_reason",
        ]

    def clean_new_credentials(self) -> dict[str, Any] | None:
        raw = self.cleaned_data["new_credentials"].strip()
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from exc
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise forms.ValidationError('Give a JSON object of strings, e.g. {"access_token": "…"}.')
        return value

    def save(self, commit: bool = True) -> Connector:
        credentials = self.cleaned_data.get("new_credentials")
        if credentials is not None:
            self.instance.credentials = credentials
        # Same bookkeeping as connector_enable / connector_disable.
        if self.instance.enabled:
            self.instance.disabled_reason, self.instance.disabled_at = "", None
        elif self.instance.disabled_at is None:
            self.instance.disabled_at = timezone.now()
        return super().save(commit=commit)


class LocationMappingInline(admin.TabularInline):
    model = LocationMapping
    extra = 0
    fields = ["external_id", "external_name", "location"]
    autocomplete_fields = ["location"]


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    form = ConnectorForm
    list_display = [
        "name",
        "role",
        "adapter",
        "base_url",
        "poll_interval_seconds",
        "enabled",
        "disabled_reason",
        "next_poll_at",
    ]
    list_filter = ["role", "adapter", "enabled"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["credentials_summary", "disabled_at", "next_poll_at", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "role", "adapter", "base_url", "options"]}),
        ("Credentials", {"fields": ["credentials_summary", "new_credentials"]}),
        ("Polling", {"fields": ["poll_interval_seconds", "enabled", "disabled_reason", "disabled_at", "next_poll_at"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [LocationMappingInline]
    actions = ["enable", "disable"]

    @admin.display(description="Stored credentials")
    def credentials_summary(self, obj: Connector) -> str:
        # Names only: the values are never sent back to a browser.
        keys = sorted(obj.credentials) if obj.pk else []
        return f"Set ({', '.join(keys)})" if keys else "None stored"

    @admin.action(description="Enable polling")
    def enable(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        for connector_id in queryset.values_list("pk", flat=True):
            services.connector_enable(connector_id=connector_id)
        self.message_user(request, "Enabled; they will be polled at the next fan-out.", messages.SUCCESS)

    @admin.action(description="Disable polling")
    def disable(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        reason = f"Disabled by {request.user.get_username()} in the admin."
        for connector_id in queryset.values_list("pk", flat=True):
            services.connector_disable(connector_id=connector_id, reason=reason)
        self.message_user(request, "Disabled.", messages.SUCCESS)


@admin.register(LocationMapping)
class LocationMappingAdmin(admin.ModelAdmin):
    list_display = ["connector", "external_id", "external_name", "location"]
    list_filter = ["connector", "location"]
    search_fields = ["external_id", "external_name", "location__code"]
    list_select_related = ["connector", "location"]
    autocomplete_fields = ["location"]


@admin.register(PollRun)
class PollRunAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "connector",
        "status",
        "trigger",
        "work_seconds",
        "pages",
        "positions_seen",
        "positions_full_read",
        "positions_changed",
        "events_new",
        "orders_new",
        "error_kind",
    ]
    list_filter = ["status", "trigger", "error_kind", "connector"]
    search_fields = ["connector__name", "error"]
    list_select_related = ["connector"]
    date_hierarchy = "started_at"

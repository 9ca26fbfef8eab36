from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from inventory_hub.core.admin import ReadOnlyAdmin, ReadOnlyInline
from inventory_hub.inventory import selectors, services
from inventory_hub.inventory.models import (
    AllocationRule,
    AllocationRuleVersion,
    Channel,
    Location,
    Pool,
    PoolBoundary,
    PoolBoundaryEntry,
    PoolChange,
)
from inventory_hub.inventory.rules import RuleValues


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "time_zone", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


class PoolBoundaryInline(admin.TabularInline):
    model = PoolBoundary
    extra = 0
    fields = ["connector", "notes"]
    show_change_link = True


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "scope", "channel", "fulfillment_method", "location_codes"]
    list_filter = ["scope", "channel", "fulfillment_method"]
    search_fields = ["code", "name", "locations__code"]
    filter_horizontal = ["locations"]
    inlines = [PoolBoundaryInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("channel").prefetch_related("locations")

    @admin.display(description="Locations")
    def location_codes(self, obj: Pool) -> str:
        return ", ".join(location.code for location in obj.locations.all())


class PoolBoundaryEntryInline(admin.TabularInline):
    model = PoolBoundaryEntry
    extra = 1
    fields = ["external_location_id", "bin", "included"]


@admin.register(PoolBoundary)
class PoolBoundaryAdmin(admin.ModelAdmin):
    list_display = ["pool", "connector", "updated_at", "updated_by"]
    list_filter = ["pool", "connector__role", "connector"]
    search_fields = ["pool__code", "connector__name", "entries__external_location_id"]
    readonly_fields = ["updated_at", "updated_by"]
    list_select_related = ["pool", "connector", "updated_by"]
    inlines = [PoolBoundaryEntryInline]

    def save_model(self, request: HttpRequest, obj: PoolBoundary, form: Any, change: bool) -> None:
        obj.updated_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


class AllocationRuleVersionInline(ReadOnlyInline):
    model = AllocationRuleVersion
    fields = [
        "number",
        "safety_stock",
        "channel_share_percent",
        "channel_priority",
        "pickup_reservation",
        "effective_from",
        "author_name",
        "reason",
        "created_at",
    ]
    readonly_fields = fields
    ordering = ["-number"]
    show_change_link = False


class AllocationRuleForm(forms.ModelForm):
    """The rule's identity plus the values of its next version and the reason for the change."""

    safety_stock = forms.IntegerField(min_value=0, initial=0)
    channel_share_percent = forms.IntegerField(min_value=0, max_value=100, initial=100)
    channel_priority = forms.IntegerField(min_value=1, initial=1)
    pickup_reservation = forms.IntegerField(min_value=0, initial=0)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Kept in the rule's history.")

    class Meta:
        model = AllocationRule
        fields = ["pool", "channel", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            current = selectors.allocation_rule_values(rule=self.instance)
            if current is not None:
                for name in AllocationRuleVersion.VALUE_FIELDS:
                    self.fields[name].initial = getattr(current, name)
            self.fields["pool"].disabled = True
            self.fields["channel"].disabled = True

    def rule_values(self) -> RuleValues:
        return RuleValues(**{name: self.cleaned_data[name] for name in AllocationRuleVersion.VALUE_FIELDS})


@admin.register(AllocationRule)
class AllocationRuleAdmin(admin.ModelAdmin):
    form = AllocationRuleForm
    list_display = ["pool", "channel", "is_active", "current_version"]
    list_filter = ["pool", "channel", "is_active"]
    search_fields = ["pool__code", "pool__name", "channel__code"]
    list_select_related = ["pool", "channel"]
    inlines = [AllocationRuleVersionInline]

    @admin.display(description="Current version")
    def current_version(self, obj: AllocationRule) -> str:
        values = selectors.allocation_rule_values(rule=obj)
        if values is None:
            return "—"
        return (
            f"safety {values.safety_stock}, share {values.channel_share_percent}%, "
            f"priority {values.channel_priority}, pickup {values.pickup_reservation}"
        )

    def save_model(self, request: HttpRequest, obj: AllocationRule, form: Any, change: bool) -> None:
        # Values go through the services: a new audited version, never an in-place edit.
        try:
            if change:
                obj.save(update_fields=["is_active"])
                if selectors.allocation_rule_values(rule=obj) != form.rule_values():
                    services.allocation_rule_update(
                        rule=obj, values=form.rule_values(), author=request.user, reason=form.cleaned_data["reason"]
                    )
            else:
                rule = services.allocation_rule_create(
                    pool=obj.pool,
                    channel=obj.channel,
                    values=form.rule_values(),
                    author=request.user,
                    reason=form.cleaned_data["reason"],
                )
                obj.pk = rule.pk
        except services.RuleValidationError as exc:
            raise ValidationError(str(exc)) from exc


@admin.register(AllocationRuleVersion)
class AllocationRuleVersionAdmin(ReadOnlyAdmin):
    list_display = [
        "rule",
        "number",
        "safety_stock",
        "channel_share_percent",
        "channel_priority",
        "pickup_reservation",
        "effective_from",
        "author_name",
        "reason",
    ]
    list_filter = ["rule__pool", "rule__channel"]
    search_fields = ["author_name", "reason", "rule__pool__code"]
    list_select_related = ["rule__pool", "rule__channel"]


@admin.register(PoolChange)
class PoolChangeAdmin(ReadOnlyAdmin):
    """The audit trail of pool and boundary edits (made on the pools page): read-only here."""

    list_display = ["created_at", "pool", "subject", "author_name", "reason"]
    list_filter = ["pool"]
    search_fields = ["pool__code", "subject", "author_name", "reason"]
    date_hierarchy = "created_at"
    list_select_related = ["pool"]

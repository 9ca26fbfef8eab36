"""Query filters of the list endpoints (django-filter): the same questions the pages ask."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from inventory_hub.connectors.models import Role
from inventory_hub.inventory.models import PoolBoundary
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation.models import Discrepancy, DiscrepancyClass, Hop
from inventory_hub.tracing.models import Oversell, RootCause


class IdFilter(django_filters.NumberFilter):
    """A database id: a whole number in range, so a wild value is a 400, never a database error."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, min_value=1, max_value=2**31 - 1, **kwargs)


class PositionFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    location_code = django_filters.CharFilter(field_name="location__code")
    sku = django_filters.CharFilter(field_name="sku")
    system = django_filters.ChoiceFilter(field_name="connector__role", choices=Role.choices)
    connector = IdFilter(field_name="connector_id")

    class Meta:
        model = InventoryPosition
        fields = ("location", "location_code", "sku", "system", "connector")


class DiscrepancyFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    sku = django_filters.CharFilter(field_name="sku")
    hop = django_filters.ChoiceFilter(choices=Hop.choices)
    classification = django_filters.ChoiceFilter(choices=DiscrepancyClass.choices)
    open = django_filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", label="Still open")
    acknowledged = django_filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", exclude=True, label="Acknowledged"
    )
    opened_after = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="gte")
    opened_before = django_filters.IsoDateTimeFilter(field_name="opened_at", lookup_expr="lt")

    class Meta:
        model = Discrepancy
        fields = ("location", "sku", "hop", "classification", "open", "acknowledged", "opened_after", "opened_before")


class OversellFilter(django_filters.FilterSet):
    location = IdFilter(field_name="location_id")
    sku = django_filters.CharFilter(field_name="sku")
    root_cause = django_filters.ChoiceFilter(choices=RootCause.choices)
    ordered_after = django_filters.IsoDateTimeFilter(field_name="ordered_at", lookup_expr="gte")
    ordered_before = django_filters.IsoDateTimeFilter(field_name="ordered_at", lookup_expr="lt")

    class Meta:
        model = Oversell
        fields = ("location", "sku", "root_cause", "ordered_after", "ordered_before")


class PoolBoundaryFilter(django_filters.FilterSet):
    pool = IdFilter(field_name="pool_id")
    connector = IdFilter(field_name="connector_id")

    class Meta:
        model = PoolBoundary
        fields = ("pool", "connector")

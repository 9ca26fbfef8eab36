"""What the API shows and accepts. Field names follow the glossary (DESIGN.md §2)."""

from __future__ import annotations

from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from inventory_hub.connectors.models import Connector, PollRun
from inventory_hub.inventory.models import (
    AllocationRule,
    AllocationRuleVersion,
    Channel,
    Location,
    Pool,
    PoolBoundary,
    PoolBoundaryEntry,
)
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation.models import Discrepancy, Hop
from inventory_hub.tracing.models import Oversell, TraceStep


class StrictCharField(serializers.CharField):
    """Text must come as a JSON string: DRF would also take the number 0 as "0"."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A whole number must come as a JSON number: DRF would also take "5", 5.0 and true."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A flag must come as JSON true or false: DRF would also take "yes", "0" and 1."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictManyRelatedField(serializers.ManyRelatedField):
    """A list of ids must come as a JSON array: DRF would also take {} as an empty one."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id must come as a JSON number: DRF would also take "5"."""

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> StrictManyRelatedField:
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update({key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS})
        return StrictManyRelatedField(**list_kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose text, number, flag and id fields take only their own JSON type."""

    serializer_related_field = StrictPrimaryKeyRelatedField

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.SmallIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
    }


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ("id", "code", "name", "kind", "time_zone", "is_active")


class PollRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = PollRun
        fields = (
            "id",
            "status",
            "trigger",
            "started_at",
            "finished_at",
            "positions_seen",
            "positions_full_read",
            "positions_changed",
            "events_new",
            "orders_new",
            "error_kind",
            "error",
        )


class ConnectorHealthSerializer(serializers.Serializer):
    """A connector, its health in one word and its last poll. Credentials never leave the hub."""

    id = serializers.IntegerField(source="connector.pk")
    name = serializers.CharField(source="connector.name")
    system = serializers.ChoiceField(source="connector.role", choices=Connector._meta.get_field("role").choices)
    product = serializers.CharField(source="connector.adapter")
    enabled = serializers.BooleanField(source="connector.enabled")
    poll_interval_seconds = serializers.IntegerField(source="connector.poll_interval_seconds")
    state = serializers.ChoiceField(choices=["disabled", "never", "running", "failing", "ok"])
    last_poll = PollRunSerializer(source="last_run", allow_null=True)


class PositionSerializer(serializers.ModelSerializer):
    system = serializers.CharField(source="connector.role")
    location_code = serializers.CharField(source="location.code")

    class Meta:
        model = InventoryPosition
        fields = (
            "id",
            "connector",
            "system",
            "location",
            "location_code",
            "sku",
            "bin",
            "on_hand",
            "allocated",
            "available",
            "incoming",
            "as_of",
            "observed_at",
            "changed_at",
        )


class DiscrepancySerializer(serializers.ModelSerializer):
    location_code = serializers.CharField(source="location.code")
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Discrepancy
        fields = (
            "id",
            "location",
            "location_code",
            "sku",
            "hop",
            "classification",
            "opened_at",
            "closed_at",
            "duration_seconds",
            "upstream_quantity",
            "downstream_quantity",
            "peak_gap",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
        )

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, discrepancy: Discrepancy) -> float | None:
        """Closed: how long it was open. Open: null (it is still going)."""
        if discrepancy.closed_at is None:
            return None
        return (discrepancy.closed_at - discrepancy.opened_at).total_seconds()


class AcknowledgementSerializer(serializers.Serializer):
    note = StrictCharField(max_length=4000, allow_blank=True)


class TraceStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = TraceStep
        fields = ("position", "kind", "system", "hop", "occurred_at", "lag_seconds", "quantity", "event", "detail")


class OversellSerializer(serializers.ModelSerializer):
    location_code = serializers.CharField(source="location.code")

    class Meta:
        model = Oversell
        fields = (
            "id",
            "location",
            "location_code",
            "sku",
            "ordered_at",
            "quantity",
            "shown",
            "truth",
            "shortfall",
            "root_cause",
            "originating_event",
            "explanation",
            "detected_at",
        )


class OversellTraceSerializer(OversellSerializer):
    steps = TraceStepSerializer(many=True, read_only=True)

    class Meta(OversellSerializer.Meta):
        fields = (*OversellSerializer.Meta.fields, "steps")


class LagStatsSerializer(serializers.Serializer):
    p50 = serializers.FloatField()
    p95 = serializers.FloatField()
    max = serializers.FloatField()
    count = serializers.IntegerField()


class HopLagSerializer(serializers.Serializer):
    location = serializers.IntegerField()
    hop = serializers.ChoiceField(choices=Hop.choices)
    p50_seconds = serializers.FloatField(source="p50")
    p95_seconds = serializers.FloatField(source="p95")
    max_seconds = serializers.FloatField(source="max")
    samples = serializers.IntegerField(source="count")


class PoolSerializer(StrictModelSerializer):
    class Meta:
        model = Pool
        fields = ("id", "code", "name", "scope", "channel", "fulfillment_method", "locations", "description")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The model's check constraints, as field errors instead of an IntegrityError.
        scope = attrs.get("scope", getattr(self.instance, "scope", None))
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        method = attrs.get("fulfillment_method", getattr(self.instance, "fulfillment_method", ""))
        if scope == Pool.Scope.CHANNEL and channel is None:
            raise serializers.ValidationError({"channel": "A channel-scoped pool needs a channel."})
        if scope == Pool.Scope.FULFILLMENT_METHOD and not method:
            raise serializers.ValidationError({"fulfillment_method": "A fulfillment-method pool needs a method."})
        return attrs


class PoolBoundaryEntrySerializer(StrictModelSerializer):
    class Meta:
        model = PoolBoundaryEntry
        fields = ("external_location_id", "bin", "included")


class PoolBoundarySerializer(StrictModelSerializer):
    """A system's drawing of a pool. Writing `entries` replaces them all (one list, one truth)."""

    entries = PoolBoundaryEntrySerializer(many=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = PoolBoundary
        fields = ("id", "pool", "connector", "notes", "entries", "updated_at", "updated_by")
        read_only_fields = ("updated_at",)

    def validate_entries(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen = set()
        for entry in entries:
            key = (entry["external_location_id"], entry.get("bin", ""))
            if key in seen:
                where = f"{key[0]}/{key[1]}" if key[1] else key[0]
                raise serializers.ValidationError(f"{where} is listed twice.")
            seen.add(key)
        return entries


class RuleValuesSerializer(serializers.Serializer):
    """Rule values as given; the service validates them together (shares within 100 %, …)."""

    safety_stock = StrictIntegerField()
    channel_share_percent = StrictIntegerField()
    channel_priority = StrictIntegerField(default=1)
    pickup_reservation = StrictIntegerField(default=0)

    def rule_values(self) -> RuleValues:
        return RuleValues(**{name: self.validated_data[name] for name in AllocationRuleVersion.VALUE_FIELDS})


class AllocationRuleVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AllocationRuleVersion
        fields = (
            "number",
            *AllocationRuleVersion.VALUE_FIELDS,
            "effective_from",
            "author_name",
            "reason",
            "created_at",
        )


class AllocationRuleSerializer(serializers.ModelSerializer):
    """A rule with its values in force now (`current`) and every version, newest first."""

    current = serializers.SerializerMethodField()
    versions = AllocationRuleVersionSerializer(many=True, read_only=True)

    class Meta:
        model = AllocationRule
        fields = ("id", "pool", "channel", "is_active", "current", "versions")

    @extend_schema_field(AllocationRuleVersionSerializer(allow_null=True))
    def get_current(self, rule: AllocationRule) -> dict[str, Any] | None:
        versions = sorted(rule.versions.all(), key=lambda v: (v.effective_from, v.number))
        now = self.context["now"]
        in_force = [v for v in versions if v.effective_from <= now]
        return AllocationRuleVersionSerializer(in_force[-1]).data if in_force else None


class AllocationRuleCreateSerializer(RuleValuesSerializer):
    pool = StrictPrimaryKeyRelatedField(queryset=Pool.objects.all())
    channel = StrictPrimaryKeyRelatedField(queryset=Channel.objects.all(), allow_null=True, default=None)
    reason = StrictCharField(allow_blank=True, max_length=2000)


class AllocationRuleUpdateSerializer(RuleValuesSerializer):
    reason = StrictCharField(allow_blank=True, max_length=2000)
    effective_from = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ExpectedAtpSerializer(serializers.Serializer):
    pool = serializers.IntegerField(source="pool_id", allow_null=True)
    pool_code = serializers.CharField(allow_null=True)
    channel = serializers.IntegerField(source="channel_id", allow_null=True)
    location = serializers.IntegerField(source="location_id")
    sku = serializers.CharField()
    wms_comparable = serializers.IntegerField()
    expected_atp = serializers.IntegerField()
    safety_stock = serializers.IntegerField(source="rule.safety_stock")
    channel_share_percent = serializers.IntegerField(source="rule.channel_share_percent")
    pickup_reservation = serializers.IntegerField(source="rule.pickup_reservation")
    wms_changed_at = serializers.DateTimeField(allow_null=True)

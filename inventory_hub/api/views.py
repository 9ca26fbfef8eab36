"""The REST API's endpoints: thin — parse, check the role, call a selector or service, serialize.

Every view answers to `RolePermission`: reads need the role's view permission, writes the
permission the view names (`write_permission`); a view naming none is read-only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from inventory_hub.api import filters
from inventory_hub.api import serializers as api
from inventory_hub.api.pagination import HubCursorPagination
from inventory_hub.connectors import selectors as connector_selectors
from inventory_hub.connectors.models import Role
from inventory_hub.core import roles
from inventory_hub.inventory import services as inventory_services
from inventory_hub.inventory.models import AllocationRule, Location, Pool, PoolBoundary, PoolBoundaryEntry
from inventory_hub.observations.models import InventoryPosition
from inventory_hub.reconciliation import atp
from inventory_hub.reconciliation import selectors as reconciliation_selectors
from inventory_hub.reconciliation import services as reconciliation_services
from inventory_hub.reconciliation.models import Discrepancy
from inventory_hub.tracing.models import Oversell

MAX_LAG_WINDOW_HOURS = 24 * 90
MAX_ATP_SKUS = 500


class CodeCursorPagination(HubCursorPagination):
    ordering = "code"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"


class LocationViewSet(viewsets.ReadOnlyModelViewSet):
    """Hub locations: stores, fulfillment centers, distribution centers."""

    queryset = Location.objects.all()
    serializer_class = api.LocationSerializer
    pagination_class = CodeCursorPagination


@extend_schema_view(retrieve=extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)]))
class ConnectorViewSet(viewsets.ViewSet):
    """Connector health: each connector's state in one word and its last poll."""

    serializer_class = api.ConnectorHealthSerializer

    def list(self, request: Request) -> Response:
        return Response(self.serializer_class(connector_selectors.connector_health_list(), many=True).data)

    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        for health in connector_selectors.connector_health_list():
            if str(health.connector.pk) == pk:
                return Response(self.serializer_class(health).data)
        return Response({"detail": "No such connector."}, status=status.HTTP_404_NOT_FOUND)


class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    """What each system says now per location, SKU (and WMS bin). Filter by location, SKU, system."""

    queryset = InventoryPosition.objects.select_related("connector", "location")
    serializer_class = api.PositionSerializer
    filterset_class = filters.PositionFilter


class DiscrepancyViewSet(viewsets.ReadOnlyModelViewSet):
    """Two systems disagreeing about a (location, SKU) across one hop; acknowledge one with a note."""

    queryset = Discrepancy.objects.select_related("location", "acknowledged_by")
    serializer_class = api.DiscrepancySerializer
    filterset_class = filters.DiscrepancyFilter
    write_permission = roles.PERM_ACKNOWLEDGE

    @extend_schema(request=api.AcknowledgementSerializer, responses=api.DiscrepancySerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        discrepancy = self.get_object()
        payload = api.AcknowledgementSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            discrepancy = reconciliation_services.discrepancy_acknowledge(
                discrepancy=discrepancy, user=request.user, note=payload.validated_data["note"]
            )
        except reconciliation_services.AcknowledgementError as exc:
            raise ValidationError({"note": [str(exc)]}) from exc
        return Response(self.get_serializer(discrepancy).data)


class OversellViewSet(viewsets.ReadOnlyModelViewSet):
    """Order lines the storefront accepted beyond what the WMS had; one oversell comes with its trace."""

    queryset = Oversell.objects.select_related("location")
    filterset_class = filters.OversellFilter

    def get_queryset(self) -> QuerySet[Oversell]:
        if self.action == "retrieve":
            return self.queryset.prefetch_related("steps")
        return self.queryset

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return api.OversellTraceSerializer if self.action == "retrieve" else api.OversellSerializer


class HopLagView(APIView):
    """Measured hop lags per location and hop over a window: p50, p95 and max in seconds."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "hours",
                {"type": "integer", "minimum": 1, "maximum": MAX_LAG_WINDOW_HOURS},
                description="Window ending now, in hours (1–2160; default 24).",
            ),
            OpenApiParameter("location", filters.ID_SCHEMA, description="Only this location."),
        ],
        responses=api.HopLagSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        hours = _int_param(request, "hours", default=24, low=1, high=MAX_LAG_WINDOW_HOURS)
        location = _int_param(request, "location", default=None, low=1, high=filters.MAX_ID)
        stats = reconciliation_selectors.hop_lag_stats(
            window=dt.timedelta(hours=hours),
            now=timezone.now(),
            location_ids=None if location is None else [location],
        )
        rows = [
            {"location": location_id, "hop": hop, **values}
            for location_id, hops in sorted(stats.items())
            for hop, values in sorted(hops.items())
        ]
        return Response(api.HopLagSerializer(rows, many=True).data)


@extend_schema_view(
    destroy=extend_schema(
        responses={204: None, 409: OpenApiResponse(description="The pool still has allocation rules.")}
    )
)
class PoolViewSet(viewsets.ModelViewSet):
    """The hub's canonical pools. Ops leads and admins edit them."""

    queryset = Pool.objects.prefetch_related("locations")
    serializer_class = api.PoolSerializer
    pagination_class = CodeCursorPagination
    write_permission = "inventory.change_pool"

    def perform_destroy(self, instance: Pool) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:
            raise Conflict("The pool still has allocation rules: remove them first.") from exc


class PoolBoundaryViewSet(viewsets.ModelViewSet):
    """How each system draws a pool: its own location ids and bins, in or out."""

    queryset = PoolBoundary.objects.select_related("updated_by").prefetch_related("entries")
    serializer_class = api.PoolBoundarySerializer
    filterset_class = filters.PoolBoundaryFilter
    write_permission = "inventory.change_poolboundary"

    def perform_create(self, serializer: api.PoolBoundarySerializer) -> None:
        self._save(serializer)

    def perform_update(self, serializer: api.PoolBoundarySerializer) -> None:
        self._save(serializer)

    def _save(self, serializer: api.PoolBoundarySerializer) -> None:
        entries = serializer.validated_data.pop("entries", None)
        with transaction.atomic():
            boundary = serializer.save(updated_by=self.request.user)
            if entries is not None:
                boundary.entries.all().delete()
                PoolBoundaryEntry.objects.bulk_create(PoolBoundaryEntry(boundary=boundary, **e) for e in entries)


class AllocationRuleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Allocation rules with their values in force and their history. Every edit is a new version
    with who, when and why (POST …/versions/); the same validation as the rules editor."""

    queryset = AllocationRule.objects.select_related("pool", "channel").prefetch_related("versions")
    serializer_class = api.AllocationRuleSerializer
    write_permission = roles.PERM_EDIT_RULES

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    @extend_schema(request=api.AllocationRuleCreateSerializer, responses={201: api.AllocationRuleSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = api.AllocationRuleCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            rule = inventory_services.allocation_rule_create(
                pool=payload.validated_data["pool"],
                channel=payload.validated_data["channel"],
                values=payload.rule_values(),
                author=request.user,
                reason=payload.validated_data["reason"],
            )
        except inventory_services.RuleValidationError as exc:
            raise ValidationError(_field_errors(exc.errors)) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=rule.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=api.AllocationRuleUpdateSerializer, responses={201: api.AllocationRuleSerializer})
    @action(detail=True, methods=["post"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        payload = api.AllocationRuleUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            inventory_services.allocation_rule_update(
                rule=rule,
                values=payload.rule_values(),
                author=request.user,
                reason=payload.validated_data["reason"],
                effective_from=payload.validated_data["effective_from"],
            )
        except inventory_services.RuleValidationError as exc:
            raise ValidationError(_field_errors(exc.errors)) from exc
        return Response(self.get_serializer(self.get_queryset().get(pk=rule.pk)).data, status=status.HTTP_201_CREATED)


class ExpectedAtpView(APIView):
    """Expected ATP per pool, location and SKU from WMS truth and the rules in force now: the
    number a storefront should pull instead of a lagged ERP figure."""

    @extend_schema(
        parameters=[
            OpenApiParameter("location", filters.ID_SCHEMA, required=True, description="Hub location id."),
            OpenApiParameter(
                "sku", OpenApiTypes.STR, many=True, description=f"Repeat for several (at most {MAX_ATP_SKUS})."
            ),
            OpenApiParameter("after", OpenApiTypes.STR, description="Without sku: page on, after this SKU."),
        ],
        responses={
            200: inline_serializer(
                "ExpectedAtpPage",
                {"results": api.ExpectedAtpSerializer(many=True), "next_after": serializers.CharField(allow_null=True)},
            ),
            404: OpenApiResponse(description="No such location."),
        },
    )
    def get(self, request: Request) -> Response:
        location_id = _int_param(request, "location", default=None, low=1, high=filters.MAX_ID)
        if location_id is None:
            raise ValidationError({"location": ["Give the hub location id: ?location=…"]})
        location = get_object_or_404(Location, pk=location_id)
        skus = request.query_params.getlist("sku")
        next_after = None
        if skus:
            if len(skus) > MAX_ATP_SKUS:
                raise ValidationError({"sku": [f"At most {MAX_ATP_SKUS} SKUs per request."]})
        else:
            page_size = 200
            wms_skus = (
                InventoryPosition.objects.filter(location=location, connector__role=Role.WMS, connector__enabled=True)
                .filter(sku__gt=request.query_params.get("after", ""))
                .order_by("sku")
                .values_list("sku", flat=True)
                .distinct()
            )
            skus = list(wms_skus[: page_size + 1])
            if len(skus) > page_size:
                skus, next_after = skus[:page_size], skus[page_size - 1]
        rows = atp.expected_atp_list(location_id=location.pk, skus=skus)
        return Response({"results": api.ExpectedAtpSerializer(rows, many=True).data, "next_after": next_after})


class TokenObtainView(ObtainAuthToken):
    """Exchange a username and password for an API token (anyone may try; failures count towards
    the same lockout as the login page, through django-axes' authentication backend)."""

    # It takes credentials, it needs none: a stale token or session cookie sent along is ignored,
    # not a 401, and every caller is throttled as anonymous (by address).
    authentication_classes = ()
    throttle_classes = (AnonRateThrottle,)


def _int_param(request: Request, name: str, *, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"{name} must be a whole number."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"{name} must be between {low} and {high}."]})
    return value


def _field_errors(errors: dict[str, str]) -> dict[str, list[str]]:
    return {("non_field_errors" if field == "__all__" else field): [message] for field, message in errors.items()}

"""Webhook endpoints: signed by the sender, not by a user, so no login, no CSRF, no session."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from inventory_hub.connectors.models import Connector
from inventory_hub.webhooks import services


@csrf_exempt  # authenticated by the body's HMAC signature instead
@login_not_required
@require_POST
def receive(request: HttpRequest, adapter: str, connector_id: int) -> JsonResponse:
    connector = get_object_or_404(Connector, pk=connector_id, adapter=adapter)
    intake = services.delivery_receive(connector=connector, body=request.body, headers=request.headers)
    return JsonResponse(dict(intake.body), status=intake.status_code)

from __future__ import annotations

from django.urls import path

from inventory_hub.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("<str:adapter>/<int:connector_id>/", views.receive, name="receive"),
]

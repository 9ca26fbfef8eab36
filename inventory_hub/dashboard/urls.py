from __future__ import annotations

from django.urls import path

from inventory_hub.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("rules/", views.rule_list, name="rule-list"),
    path("rules/<int:rule_id>/", views.rule_detail, name="rule-detail"),
    path("rules/<int:rule_id>/edit/", views.rule_edit, name="rule-edit"),
    path("connectors/", views.connector_list, name="connector-list"),
    path("connectors/<int:connector_id>/toggle/", views.connector_toggle, name="connector-toggle"),
]

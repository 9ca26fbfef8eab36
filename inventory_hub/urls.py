from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "Inventory Hub administration"
admin.site.site_title = "Inventory Hub admin"
admin.site.index_title = "Connectors, locations, rules and users"

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("inventory_hub.api.urls")),
    path("webhooks/", include("inventory_hub.webhooks.urls")),
    path("reports/", include("inventory_hub.reports.urls")),
    path("", include("inventory_hub.dashboard.urls")),
]

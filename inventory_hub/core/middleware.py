"""Login-by-default that also works for HTMX partial requests."""

from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url


class HtmxLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware; an expired session in an HTMX request reloads the page.

    A plain redirect would be followed by htmx and the login form swapped into a table cell.
    """

    def handle_no_permission(self, request: HttpRequest, view_func: object) -> HttpResponse:
        if request.headers.get("HX-Request") == "true":
            target = redirect_to_login(
                request.headers.get("HX-Current-URL", request.get_full_path()),
                resolve_url(self.get_login_url(view_func)),
                self.get_redirect_field_name(view_func),
            )
            return HttpResponse(status=401, headers={"HX-Redirect": target["Location"]})
        return super().handle_no_permission(request, view_func)  # type: ignore[arg-type]

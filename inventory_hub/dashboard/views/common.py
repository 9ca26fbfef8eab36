"""What every page view shares."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def template_for(request: HtmxHttpRequest, name: str, partials: frozenset[str]) -> str:
    """The page template, or one of its partials when HTMX targets it by id."""
    if request.htmx and request.htmx.target in partials:
        return f"{name}#{request.htmx.target}"
    return name

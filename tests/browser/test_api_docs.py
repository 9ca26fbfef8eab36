"""The API's Swagger page in a real browser: every operation listed, nothing refused by the CSP, no missing asset."""

from __future__ import annotations

import pytest
from django.apps import apps as django_apps

from inventory_hub.core import roles
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "a-long-browser-test-password"


def test_swagger_page_lists_the_operations_under_the_strict_csp(live_server, page, screenshot):
    roles.roles_sync(django_apps)  # a browser test before this one may have flushed the role groups
    user = UserFactory(username="reader", role=roles.FULFILLMENT_MANAGER)
    user.set_password(PASSWORD)
    user.save()
    console_errors: list[str] = []
    missing: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: missing.append(response.url) if response.status >= 400 else None)

    page.goto(f"{live_server.url}/api/v1/docs/")  # anonymous: sent to log in first
    page.fill("input[name=username]", "reader")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".opblock-summary-path")
    screenshot("api-docs")

    assert page.locator(".opblock").count() >= 25
    assert page.locator(".opblock-summary-path", has_text="/api/v1/discrepancies/").count() >= 1
    assert console_errors == []  # a CSP refusal of an inline <style> or script shows up here
    assert missing == []

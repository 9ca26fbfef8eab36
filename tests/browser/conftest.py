"""Playwright driving Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it).

Screenshots of every page go to screenshots/ (1440×900, not committed) for people to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
# Without these flags Chromium reaches for Google's hosts, which this machine's network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)."
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it, so its absence there is a failure
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the ORM calls in the tests are
    # still synchronous and single-threaded, so Django's async guard does not apply.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take


def _demo(settings, live_server, **options) -> str:
    settings.DEBUG = True  # the demo command's set-up runs as in development
    call_command("demo", no_serve=True, days=0.25, stdout=open(os.devnull, "w"), **options)  # noqa: SIM115
    settings.DEBUG = False
    return live_server.url


@pytest.fixture
def demo_set_up(settings, live_server) -> str:
    """The demo retailer (two stores and an FC), six backfilled hours: the live server's URL."""
    return _demo(settings, live_server)


@pytest.fixture
def stressed_demo(settings, live_server) -> str:
    """The `stressed` scenario, six backfilled hours: oversells and cascade loops within them."""
    return _demo(settings, live_server, scenario="stressed")


def log_in(page, base_url: str, username: str = "manager") -> None:
    """Log in as one of the demo users (their passwords from DEMO_USERS) and land on the overview."""
    from inventory_hub.dashboard.management.commands.demo import DEMO_USERS

    password = next(user[1] for user in DEMO_USERS if user[0] == username)
    page.goto(f"{base_url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Overview')")

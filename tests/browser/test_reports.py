"""The admin starts an export in a real browser, watches its progress bar fill, then downloads it."""

from __future__ import annotations

import datetime as dt
import threading
import time

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from inventory_hub.inventory.models import Location
from inventory_hub.reports import services
from inventory_hub.reports.models import ReportJob
from inventory_hub.reports.selectors import Report
from tests.browser.conftest import log_in

# serialized_rollback restores the role groups of the data migration after the flush.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def reports_demo(demo_set_up, settings, tmp_path):
    settings.REPORTS_DIR = tmp_path / "reports"
    settings.REPORTS_PROGRESS_EVERY = 1
    return demo_set_up


def _worker(job_id: int, seconds: float, monkeypatch) -> threading.Thread:
    """Runs the real export service in another thread, as a Celery worker would, paced so the bar is seen."""
    real_rows = Report.rows

    def paced_rows(self):
        pause = seconds / max(1, self.count())
        for row in real_rows(self):
            time.sleep(pause)
            yield row

    monkeypatch.setattr(Report, "rows", paced_rows)

    def run():
        try:
            services.report_job_run(job_id=job_id)
        finally:
            connection.close()

    return threading.Thread(target=run, daemon=True)


def test_admin_exports_a_report_sees_the_progress_bar_then_downloads_the_file(
    reports_demo, page, screenshot, monkeypatch, tmp_path
):
    base = reports_demo
    log_in(page, base, "admin")
    page.click("nav >> text=Reports")
    page.wait_for_selector("h1:has-text('Reports')")
    today = dt.datetime.now(dt.UTC).date()
    # An earlier export that failed, so the list shows how a failure reads.
    ReportJob.objects.create(
        requested_by=get_user_model().objects.get(username="admin"),
        kind="hop_lags", format="csv", date_from=today, date_to=today,
        location_ids=list(Location.objects.values_list("pk", flat=True)[:1]),
        status="failed", error="Failed after 12,000 rows: OperationalError: could not write to file: No space left on device",
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    )  # fmt: skip
    page.select_option("select[name=kind]", "discrepancies")
    page.select_option("select[name=format]", "xlsx")
    page.fill("input[name=date_to]", "2000-01-01")
    page.click("button:has-text('Start export')")
    page.wait_for_selector(".field.has-error:has-text('The end is before the start')")  # swapped in by htmx (422)
    assert ReportJob.objects.filter(kind="discrepancies").count() == 0

    page.fill("input[name=date_to]", dt.datetime.now(dt.UTC).date().isoformat())
    page.click("button:has-text('Start export')")
    page.wait_for_selector("li.job-queued progress.job-bar")  # queued: no worker has it yet
    job = ReportJob.objects.get(kind="discrepancies")
    assert job.rows_total is None

    worker = _worker(job.pk, seconds=6, monkeypatch=monkeypatch)
    worker.start()
    bar = page.locator(f"#job-{job.pk} progress.job-bar[value]")
    bar.wait_for()
    page.wait_for_function(
        "id => { const p = document.querySelector(`#job-${id} progress`); return p && p.value >= 20 && p.value < 90; }",
        arg=job.pk,
        timeout=10_000,
    )
    assert "rows (" in page.locator(f"#job-{job.pk} .progress-text").inner_text()
    screenshot("reports")

    download_link = page.locator(f"#job-{job.pk} a.download")
    download_link.wait_for(timeout=20_000)
    worker.join(timeout=10)
    screenshot("reports-done")
    with page.expect_download() as info:
        download_link.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)

    job.refresh_from_db()
    rows = list(openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True))
    assert job.status == "done"
    assert job.rows_written > 0
    assert path.name == f"report-{job.pk}-discrepancies-{job.date_from:%Y%m%d}-{job.date_to:%Y%m%d}.xlsx"
    assert rows[0][:3] == ("Location", "SKU", "Hop")
    assert len(rows) == job.rows_written + 1
    assert page.locator(f"#job-{job.pk}[hx-trigger]").count() == 0  # polling stopped

    page.click("summary:has-text('Add a schedule')")
    page.select_option("select[name=schedule-frequency]", "weekly")
    page.fill("textarea[name=schedule-recipients]", "ops@example.com, not-an-address")
    page.click("button:has-text('Add schedule')")
    page.wait_for_selector(".field.has-error:has-text('Not an e-mail address: not-an-address.')")
    page.fill("textarea[name=schedule-recipients]", "ops@example.com")
    page.select_option(
        "select[name=schedule-locations]", [str(pk) for pk in Location.objects.values_list("pk", flat=True)]
    )
    page.click("button:has-text('Add schedule')")
    page.wait_for_selector("#report-schedules td:has-text('ops@example.com')")
    screenshot("reports-schedule")

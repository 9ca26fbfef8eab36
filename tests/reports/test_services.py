from __future__ import annotations

import csv
import datetime as dt

import openpyxl
import pytest
from openpyxl.worksheet._writer import ALL_TEMP_FILES

from inventory_hub.observations.models import InventoryEvent
from inventory_hub.reports import services
from inventory_hub.reports.models import ReportJob
from inventory_hub.reports.selectors import Report
from tests.factories import UserFactory
from tests.reports.conftest import at, discrepancy, hop_lag, oversell, rule_versions

NOW = at(20)


def excel(*args: int) -> dt.datetime:
    """A UTC time as openpyxl reads it back: naive (Excel has no time zones)."""
    return dt.datetime(*args, tzinfo=dt.UTC).replace(tzinfo=None)


DISCREPANCY_HEADER = [
    "Location",
    "SKU",
    "Hop",
    "Class",
    "State",
    "Opened (UTC)",
    "Closed (UTC)",
    "Duration (s)",
    "Peak gap",
    "Upstream quantity",
    "Downstream quantity",
    "Gap",
    "Acknowledged (UTC)",
    "Acknowledged by",
    "Acknowledgement note",
]


def _export(kind, fmt, location_ids, date_from=dt.date(2026, 3, 10), date_to=dt.date(2026, 3, 12)) -> ReportJob:
    job = services.report_job_create(
        user_id=None,
        kind=kind,
        format=fmt,
        date_from=date_from,
        date_to=date_to,
        location_ids=location_ids,
        enqueue=False,
        now=NOW,
    )
    return services.report_job_run(job_id=job.pk, now=NOW)


def _xlsx_rows(job: ReportJob) -> list[tuple]:
    workbook = openpyxl.load_workbook(services.report_job_path(job), read_only=True)
    return [row for sheet in workbook.worksheets for row in sheet.iter_rows(values_only=True)]


def _csv_rows(job: ReportJob) -> list[list[str]]:
    with services.report_job_path(job).open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


@pytest.fixture
def discrepancies(locations):
    store_a, store_b = locations
    manager = UserFactory(username="fiona")
    return {
        # opened before the range and closed inside it: it was open during the range
        "early": discrepancy(store_a, "SKU-EARLY", at(9, 22), at(10, 1, 30)),
        "inside": discrepancy(
            store_a,
            "SKU-IN",
            at(11, 8),
            None,
            classification="drift",
            hop="erp_storefront",
            acknowledged_at=at(11, 9),
            acknowledged_by=manager,
            acknowledgement_note="Known: Store A recount pending",
        ),
        "closed_before": discrepancy(store_a, "SKU-OLD", at(8), at(9, 23)),
        "after": discrepancy(store_a, "SKU-AFTER", at(13, 0, 1)),
        "other_location": discrepancy(store_b, "SKU-B", at(11)),
    }


def test_xlsx_discrepancy_report_has_the_header_and_the_rows_in_range_at_the_chosen_locations(discrepancies, locations):
    job = _export("discrepancies", "xlsx", [locations[0].pk])

    rows = _xlsx_rows(job)
    assert job.status == ReportJob.Status.DONE
    assert job.rows_written == 2
    assert job.rows_total == 2
    assert list(rows[0]) == DISCREPANCY_HEADER
    assert rows[1:] == [
        (
            "STORE-A", "SKU-EARLY", "WMS → ERP", "Stale", "closed",
            excel(2026, 3, 9, 22), excel(2026, 3, 10, 1, 30), 12600, 7, 40, 47, 7, None, None, None,
        ),
        (
            "STORE-A", "SKU-IN", "ERP → storefront", "Drift", "open",
            excel(2026, 3, 11, 8), None, 9 * 86400 + 4 * 3600, 7, 40, 47, 7,
            excel(2026, 3, 11, 9), "fiona", "Known: Store A recount pending",
        ),
    ]  # fmt: skip


def test_csv_discrepancy_report_has_the_same_rows_as_text(discrepancies, locations):
    job = _export("discrepancies", "csv", [locations[0].pk, locations[1].pk])

    rows = _csv_rows(job)
    assert rows[0] == DISCREPANCY_HEADER
    assert [row[:2] for row in rows[1:]] == [["STORE-A", "SKU-EARLY"], ["STORE-A", "SKU-IN"], ["STORE-B", "SKU-B"]]
    assert rows[1] == [
        "STORE-A", "SKU-EARLY", "WMS → ERP", "Stale", "closed", "2026-03-09 22:00:00", "2026-03-10 01:30:00",
        "12600", "7", "40", "47", "7", "", "", "",
    ]  # fmt: skip
    assert job.file_name.endswith(".csv")


def test_oversell_report_keeps_formula_like_text_as_text_in_both_formats(locations, wms, storefront):
    store_a, store_b = locations
    count = InventoryEvent.objects.create(
        connector=wms,
        source_event_id="alloc-77",
        kind="channel_allocation",
        location=store_a,
        sku="SKU-1",
        delta=-47,
        occurred_at=at(10, 11, 40),
        observed_at=at(10, 11, 41),
    )
    oversell(storefront, store_a, "SKU-1", at(10, 12), origin=count)
    oversell(storefront, store_b, "SKU-2", at(10, 12))
    oversell(storefront, store_a, "SKU-3", at(13, 0, 0))  # the day after the range

    xlsx = _xlsx_rows(_export("oversells", "xlsx", [store_a.pk]))
    text = _csv_rows(_export("oversells", "csv", [store_a.pk]))

    explanation = '=HYPERLINK("http://evil.example") allocated to wholesale 20 min before'
    assert xlsx[1] == (
        excel(2026, 3, 10, 12), "STORE-A", "SKU-1", 5, 47, 2, 3, "Allocated to another channel",
        "channel_allocation", "alloc-77", excel(2026, 3, 10, 11, 40), explanation,
    )  # fmt: skip
    assert len(xlsx) == 2
    assert text[1][-1] == "'" + explanation
    assert len(text) == 2


def test_hop_lag_report_lists_each_sample_with_its_lag_or_none_when_not_reflected(locations):
    store_a, _ = locations
    hop_lag(store_a, "SKU-1", at(10, 8), 95.5)
    hop_lag(store_a, "SKU-2", at(12, 23, 59), None)
    hop_lag(store_a, "SKU-3", at(9, 23, 59), 10)

    rows = _xlsx_rows(_export("hop_lags", "xlsx", [store_a.pk]))

    assert rows == [
        ("Location", "SKU", "Hop", "WMS changed (UTC)", "Reflected (UTC)", "Lag (s)", "Measured by"),
        ("STORE-A", "SKU-1", "WMS → ERP", excel(2026, 3, 10, 8), excel(2026, 3, 10, 8, 1, 35), 95.5, "Value match"),
        ("STORE-A", "SKU-2", "WMS → ERP", excel(2026, 3, 12, 23, 59), None, None, "Downstream sync"),
    ]  # fmt: skip


def test_rule_change_report_shows_who_when_why_and_old_to_new_values(locations):
    store_a, store_b = locations
    rule_versions(store_a, [at(1), at(10, 9), at(11, 10)])

    rows = _csv_rows(_export("rule_changes", "csv", [store_a.pk]))
    elsewhere = _csv_rows(_export("rule_changes", "csv", [store_b.pk]))

    assert rows[0][:8] == [
        "Changed (UTC)",
        "Who",
        "Pool",
        "Channel",
        "Version",
        "Effective from (UTC)",
        "Why",
        "Old → new",
    ]
    assert rows[0][8:10] == ["Safety stock (old)", "Safety stock (new)"]
    assert rows[1][:8] == [
        "2026-03-10 09:00:00", "olivia", "web-a", "all channels", "2", "2026-03-10 09:00:00", "change 2",
        "safety stock 0 → 4",
    ]  # fmt: skip
    assert rows[1][8:] == ["0", "4", "100", "100", "1", "1", "0", "0"]
    assert rows[2][7] == "channel share percent 100 → 70"
    assert len(rows) == 3
    assert len(elsewhere) == 1  # the pool holds no Store B: header only


def test_progress_is_recorded_every_n_rows_while_the_file_is_written(settings, locations, monkeypatch):
    settings.REPORTS_PROGRESS_EVERY = 2
    for minute in range(5):
        discrepancy(locations[0], f"SKU-{minute}", at(10, 12, minute))
    seen = []
    real_open = services.row_writer_open

    def spying_open(**kwargs):
        writer = real_open(**kwargs)
        real_write = writer.write

        def write(row):
            seen.append(ReportJob.objects.values_list("status", "rows_written", "rows_total").get())
            real_write(row)

        writer.write = write
        return writer

    monkeypatch.setattr(services, "row_writer_open", spying_open)

    job = _export("discrepancies", "csv", [locations[0].pk])

    assert seen == [("running", 0, 5), ("running", 0, 5), ("running", 2, 5), ("running", 2, 5), ("running", 4, 5)]
    assert (job.status, job.rows_written, job.percent) == ("done", 5, 100)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_job_failing_midway_is_failed_with_its_error_and_leaves_no_file(locations, monkeypatch, reports_dir, fmt):
    for minute in range(5):
        discrepancy(locations[0], f"SKU-{minute}", at(10, 12, minute))
    real_rows = Report.rows

    def failing_rows(self):
        for n, row in enumerate(real_rows(self)):
            if n == 3:
                raise ConnectionError("server closed the connection unexpectedly")
            yield row

    monkeypatch.setattr(Report, "rows", failing_rows)

    job = _export("discrepancies", fmt, [locations[0].pk])

    assert job.status == ReportJob.Status.FAILED
    assert job.error == "Failed after 3 rows: ConnectionError: server closed the connection unexpectedly"
    assert job.rows_written == 3
    assert job.file_name == ""
    assert services.report_job_path(job) is None
    assert list(reports_dir.iterdir()) == []
    assert ALL_TEMP_FILES == []  # nor openpyxl's temporary sheet XML


def test_creating_a_job_enqueues_its_task_once_committed(locations, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: sent.append((name, args)))

    with django_capture_on_commit_callbacks(execute=True):
        job = services.report_job_create(
            user_id=None,
            kind="discrepancies",
            format="csv",
            date_from=dt.date(2026, 3, 1),
            date_to=dt.date(2026, 3, 1),
            location_ids=[locations[1].pk, locations[0].pk],
        )

    assert sent == [("inventory_hub.reports.tasks.report_job_run_task", [job.pk])]
    assert job.status == ReportJob.Status.QUEUED
    assert job.location_ids == sorted([locations[0].pk, locations[1].pk])


def test_running_a_finished_job_again_changes_nothing(locations):
    discrepancy(locations[0], "SKU-1", at(10))
    job = _export("discrepancies", "csv", [locations[0].pk])

    again = services.report_job_run(job_id=job.pk, now=NOW + dt.timedelta(hours=1))

    assert (again.status, again.file_name, again.started_at) == ("done", job.file_name, job.started_at)


def test_a_job_stuck_running_past_the_time_limit_is_taken_over(locations):
    discrepancy(locations[0], "SKU-1", at(10))
    job = services.report_job_create(
        user_id=None, kind="discrepancies", format="csv", date_from=dt.date(2026, 3, 10),
        date_to=dt.date(2026, 3, 10), location_ids=[locations[0].pk], enqueue=False,
    )  # fmt: skip
    ReportJob.objects.filter(pk=job.pk).update(status="running", started_at=NOW - dt.timedelta(minutes=5))

    fresh = services.report_job_run(job_id=job.pk, now=NOW)
    stale = services.report_job_run(job_id=job.pk, now=NOW + dt.timedelta(hours=2))

    assert fresh.status == "running"
    assert (stale.status, stale.rows_written) == ("done", 1)


def test_purge_deletes_old_files_and_jobs_only(locations):
    discrepancy(locations[0], "SKU-1", at(10))
    old = _export("discrepancies", "csv", [locations[0].pk])
    path = services.report_job_path(old)
    recent = _export("discrepancies", "xlsx", [locations[0].pk])
    ReportJob.objects.filter(pk=old.pk).update(finished_at=NOW - dt.timedelta(days=40))

    removed = services.report_files_purge(older_than=dt.timedelta(days=30), now=NOW)

    assert removed == 1
    assert not path.exists()
    assert list(ReportJob.objects.values_list("pk", flat=True)) == [recent.pk]
    assert services.report_job_path(recent) is not None

from __future__ import annotations

import datetime as dt
import io
from http import HTTPStatus

import openpyxl
import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from inventory_hub.celery import app
from inventory_hub.reports import services, tasks
from inventory_hub.reports.models import ReportJob, ReportSchedule
from inventory_hub.reports.services import ScheduleSpec
from tests.reports.conftest import at, discrepancy

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def schedule(locations) -> ReportSchedule:
    spec = ScheduleSpec(
        kind="discrepancies",
        format="xlsx",
        location_ids=[locations[0].pk],
        frequency="daily",
        send_hour=6,
        recipients=["ops@example.com", "cfo@example.com"],
    )
    return services.report_schedule_create(spec=spec, user_id=None, now=at(10, 7))


def test_a_new_schedule_first_runs_at_the_next_send_hour(schedule):
    assert schedule.next_run_at == at(11, 6)
    assert schedule.recipient_list == ["ops@example.com", "cfo@example.com"]


def test_a_due_schedule_is_claimed_once_for_the_day_before_its_run(schedule):
    claimed = services.report_schedules_due_claim(now=at(11, 6, 2))
    again = services.report_schedules_due_claim(now=at(11, 6, 3))
    early = services.report_schedules_due_claim(now=at(12, 5, 59))

    schedule.refresh_from_db()
    assert claimed == [(schedule.pk, dt.date(2026, 3, 10), dt.date(2026, 3, 10))]
    assert again == []
    assert early == []
    assert schedule.next_run_at == at(12, 6)


def test_a_scheduled_report_is_e_mailed_with_its_file_attached_once(schedule, locations):
    discrepancy(locations[0], "SKU-1", at(10, 9))
    discrepancy(locations[0], "SKU-2", at(11, 9))  # the day after the period
    discrepancy(locations[1], "SKU-3", at(10, 9))  # a location the schedule does not cover

    job = services.report_schedule_run(
        schedule_id=schedule.pk, date_from=dt.date(2026, 3, 10), date_to=dt.date(2026, 3, 10), now=at(11, 6)
    )
    services.report_schedule_run(
        schedule_id=schedule.pk, date_from=dt.date(2026, 3, 10), date_to=dt.date(2026, 3, 10), now=at(11, 6, 5)
    )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ops@example.com", "cfo@example.com"]
    assert message.subject == "Inventory Hub: Discrepancies report, 2026-03-10"
    assert "1 rows, attached as Excel (XLSX)." in message.body
    assert "locations: STORE-A." in message.body
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == (f"report-{job.pk}-discrepancies-20260310-20260310.xlsx", XLSX)
    rows = list(openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))
    assert [row[:2] for row in rows] == [("Location", "SKU"), ("STORE-A", "SKU-1")]
    assert ReportJob.objects.filter(schedule=schedule).count() == 1
    assert job.emailed_at == at(11, 6)


def test_a_failed_scheduled_report_is_e_mailed_without_attachment_saying_why(schedule, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services.selectors, "report_get", broken)

    job = services.report_schedule_run(
        schedule_id=schedule.pk, date_from=dt.date(2026, 3, 10), date_to=dt.date(2026, 3, 10), now=at(11, 6)
    )

    assert job.status == ReportJob.Status.FAILED
    assert mail.outbox[0].attachments == []
    assert "could not be generated. Failed after 0 rows: RuntimeError: the database went away" in mail.outbox[0].body


def test_a_report_too_large_to_attach_says_where_to_get_it(schedule, locations, settings):
    settings.REPORTS_MAX_ATTACHMENT_BYTES = 100
    discrepancy(locations[0], "SKU-1", at(10, 9))

    services.report_schedule_run(
        schedule_id=schedule.pk, date_from=dt.date(2026, 3, 10), date_to=dt.date(2026, 3, 10), now=at(11, 6)
    )

    assert mail.outbox[0].attachments == []
    assert "too large to attach" in mail.outbox[0].body


def test_beat_fan_out_enqueues_each_due_schedule(schedule, monkeypatch, time_machine):
    time_machine.move_to(at(11, 6, 1))
    enqueued = []
    monkeypatch.setattr(tasks.report_schedule_run_task, "delay", lambda *args: enqueued.append(args))

    tasks.report_schedules_due_task.apply()

    assert enqueued == [(schedule.pk, "2026-03-10", "2026-03-10")]


@pytest.mark.parametrize("entry", ["report-schedules-due", "report-files-purge"])
def test_the_beat_entries_name_registered_tasks(entry):
    app.loader.import_default_modules()

    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] in app.tasks


def test_admin_adds_and_deletes_a_schedule_on_the_page(admin_role_client, locations):
    response = admin_role_client.post(
        reverse("reports:schedule-create"),
        {
            "schedule-kind": "hop_lags",
            "schedule-format": "csv",
            "schedule-frequency": "weekly",
            "schedule-send_hour": "7",
            "schedule-locations": [locations[1].pk],
            "schedule-recipients": "ops@example.com, lead@example.com",
        },
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="report-schedules",
    )

    schedule = ReportSchedule.objects.get()
    assert response.status_code == HTTPStatus.OK
    assert "Schedule added: the first e-mail goes out at" in response.content.decode()
    assert (schedule.kind, schedule.frequency, schedule.send_hour) == ("hop_lags", "weekly", 7)
    assert schedule.next_run_at.weekday() == 0
    assert schedule.recipient_list == ["ops@example.com", "lead@example.com"]
    assert list(schedule.locations.all()) == [locations[1]]

    admin_role_client.post(reverse("reports:schedule-delete", args=[schedule.pk]))

    assert ReportSchedule.objects.count() == 0


def test_a_schedule_with_a_bad_address_is_refused(admin_role_client, locations):
    response = admin_role_client.post(
        reverse("reports:schedule-create"),
        {
            "schedule-kind": "hop_lags",
            "schedule-format": "csv",
            "schedule-frequency": "daily",
            "schedule-send_hour": "7",
            "schedule-locations": [locations[1].pk],
            "schedule-recipients": "ops@example.com\nnot-an-address",
        },
    )

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.context["schedule_form"].errors["recipients"] == ["Not an e-mail address: not-an-address."]
    assert ReportSchedule.objects.count() == 0

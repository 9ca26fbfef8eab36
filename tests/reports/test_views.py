from __future__ import annotations

import datetime as dt
from http import HTTPStatus

import pytest
from django.urls import reverse

from inventory_hub.core import roles
from inventory_hub.inventory.models import Location
from inventory_hub.reports import services
from inventory_hub.reports.models import ReportJob, ReportSchedule
from tests.reports.conftest import at, discrepancy

PAGE = reverse("reports:report-list")
CREATE = reverse("reports:job-create")


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(services.current_app, "send_task", lambda name, args: calls.append((name, args)))
    return calls


def _job(status="queued", **extra) -> ReportJob:
    location = Location.objects.first()
    values = {
        "kind": "discrepancies",
        "format": "xlsx",
        "date_from": dt.date(2026, 3, 10),
        "date_to": dt.date(2026, 3, 12),
    }
    return ReportJob.objects.create(
        location_ids=[location.pk] if location else [], status=status, created_at=at(20), **{**values, **extra}
    )


def _post(client, location_ids, **fields):
    data = {"kind": "discrepancies", "format": "xlsx", "date_from": "2026-03-10", "date_to": "2026-03-12"}
    return client.post(CREATE, {**data, **fields, "locations": location_ids})


@pytest.mark.parametrize("role", [roles.FULFILLMENT_MANAGER, roles.OPS_LEAD])
def test_only_admins_reach_the_page_the_jobs_the_downloads_and_the_schedules(role_client, locations, sent, role):
    client = role_client(role)
    job = _job()
    schedule = ReportSchedule.objects.create(kind="oversells", recipients="a@example.com", next_run_at=at(21))

    responses = [
        client.get(PAGE),
        _post(client, [locations[0].pk]),
        client.get(reverse("reports:job-detail", args=[job.pk])),
        client.get(reverse("reports:job-download", args=[job.pk])),
        client.post(reverse("reports:schedule-create"), {"schedule-kind": "oversells"}),
        client.post(reverse("reports:schedule-delete", args=[schedule.pk])),
    ]

    assert [r.status_code for r in responses] == [HTTPStatus.FORBIDDEN] * 6
    assert ReportJob.objects.count() == 1
    assert ReportSchedule.objects.count() == 1
    assert sent == []


def test_the_nav_shows_reports_to_admins_only(admin_role_client, manager_client):
    admin_page = admin_role_client.get(reverse("dashboard:home")).content.decode()
    manager_page = manager_client.get(reverse("dashboard:home")).content.decode()

    assert f'href="{PAGE}"' in admin_page
    assert f'href="{PAGE}"' not in manager_page


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(PAGE)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("login"))


def test_admin_starts_an_export_and_it_is_queued_for_a_worker(
    admin_role_client, locations, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(admin_role_client, [locations[0].pk, locations[1].pk])

    job = ReportJob.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert (job.kind, job.format, job.date_from, job.date_to) == (
        "discrepancies",
        "xlsx",
        dt.date(2026, 3, 10),
        dt.date(2026, 3, 12),
    )
    assert job.location_ids == sorted(loc.pk for loc in locations)
    assert job.requested_by.username == "admin"
    assert sent == [(services.REPORT_JOB_TASK_NAME, [job.pk])]


def test_an_htmx_post_answers_with_the_job_list_and_its_progress_bar(admin_role_client, locations, sent):
    response = admin_role_client.post(
        CREATE,
        {
            "kind": "oversells",
            "format": "csv",
            "date_from": "2026-03-10",
            "date_to": "2026-03-10",
            "locations": [locations[0].pk],
        },
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="report-main",
    )

    html = response.content.decode()
    job = ReportJob.objects.get()
    assert response.status_code == HTTPStatus.OK
    assert html.startswith('\n<div id="report-main"') or html.lstrip().startswith('<div id="report-main"')
    assert "<html" not in html
    assert f'hx-get="{reverse("reports:job-detail", args=[job.pk])}" hx-trigger="every 1s"' in html
    assert '<progress class="job-bar"' in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"date_from": "2026-03-12", "date_to": "2026-03-10"}, "date_to", "The end is before the start"),
        (
            {"date_from": "2024-01-01", "date_to": "2026-03-10"},
            "date_to",
            "The range is 800 days long; a report covers at most 366.",
        ),
        ({"date_from": "2999-01-01", "date_to": "2999-01-02"}, "date_from", "The range starts in the future"),
        ({"date_from": "2026-13-40"}, "date_from", "Enter a valid date."),
        ({"kind": "payroll"}, "kind", "Select a valid choice."),
    ],
)
def test_invalid_exports_are_refused_with_a_clear_error(admin_role_client, locations, sent, fields, field, message):
    response = _post(admin_role_client, [locations[0].pk], **fields)

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert any(message in error for error in response.context["export_form"].errors[field])
    assert message.split(";")[0] in response.content.decode()
    assert ReportJob.objects.count() == 0


def test_an_export_needs_a_location(admin_role_client, locations, sent):
    response = _post(admin_role_client, [])

    assert response.status_code == HTTPStatus.UNPROCESSABLE_ENTITY
    assert response.context["export_form"].errors["locations"] == ["Choose at least one location."]
    assert ReportJob.objects.count() == 0


def test_without_any_location_the_form_says_to_add_some_first(admin_role_client, sent):
    response = _post(admin_role_client, [])

    assert response.context["export_form"].errors["locations"] == [
        "No locations exist yet: add them in Admin › Locations (or run the demo set-up) first."
    ]
    assert ReportJob.objects.count() == 0


def test_a_running_job_polls_and_shows_its_progress(admin_role_client, locations):
    job = _job("running", rows_written=2500, rows_total=10000)

    response = admin_role_client.get(reverse("reports:job-detail", args=[job.pk]), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith(f'<li class="job job-running" id="job-{job.pk}"')
    assert 'hx-trigger="every 1s"' in html
    assert '<progress class="job-bar" max="100" value="25"' in html
    assert "2,500 of ~10,000 rows (25%)" in html


def test_a_finished_job_stops_polling_and_offers_its_file(admin_role_client, locations):
    discrepancy(locations[0], "SKU-1", at(10))
    job = services.report_job_create(
        user_id=None, kind="discrepancies", format="csv", date_from=dt.date(2026, 3, 10),
        date_to=dt.date(2026, 3, 10), location_ids=[locations[0].pk], enqueue=False,
    )  # fmt: skip
    services.report_job_run(job_id=job.pk)

    fragment = admin_role_client.get(reverse("reports:job-detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    download = admin_role_client.get(reverse("reports:job-download", args=[job.pk]))

    html = fragment.content.decode()
    assert "hx-trigger" not in html
    assert f'href="{reverse("reports:job-download", args=[job.pk])}"' in html
    assert download.status_code == HTTPStatus.OK
    assert download["Content-Type"] == "text/csv"
    assert (
        download["Content-Disposition"] == f'attachment; filename="report-{job.pk}-discrepancies-20260310-20260310.csv"'
    )
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert body.splitlines()[1].startswith("STORE-A,SKU-1,WMS → ERP,Stale,open,2026-03-10 12:00:00")


def test_a_failed_job_says_why_and_offers_no_download(admin_role_client, locations):
    job = _job("failed", error="Failed after 3 rows: OperationalError: disk full")

    fragment = admin_role_client.get(reverse("reports:job-detail", args=[job.pk]), HTTP_HX_REQUEST="true")
    download = admin_role_client.get(reverse("reports:job-download", args=[job.pk]))

    html = fragment.content.decode()
    assert "Failed after 3 rows: OperationalError: disk full" in html
    assert "download" not in html.lower().replace("job-download", "")
    assert download.status_code == HTTPStatus.NOT_FOUND


def test_the_page_lists_only_the_users_own_recent_jobs(admin_role_client, locations):
    other = _job("done", kind="hop_lags")
    ReportJob.objects.filter(pk=other.pk).update(requested_by=None)
    mine = _job("queued", kind="oversells")
    ReportJob.objects.filter(pk=mine.pk).update(requested_by=admin_role_client.get(PAGE).wsgi_request.user)

    response = admin_role_client.get(PAGE)

    assert [job.pk for job in response.context["jobs"]] == [mine.pk]
    assert response.context["jobs"][0].location_codes == ["STORE-A"]
    assert "Oversell root causes" in response.content.decode()


def test_the_page_has_no_inline_styles_or_scripts(admin_role_client, locations):
    _job("running", rows_written=1, rows_total=3)

    html = admin_role_client.get(PAGE).content.decode()

    assert "style=" not in html
    assert "<script>" not in html

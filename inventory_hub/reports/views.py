"""The reports page (admin): start an export, watch its progress, download it; manage schedules."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from inventory_hub.core import roles
from inventory_hub.reports import selectors, services
from inventory_hub.reports.forms import ReportExportForm, ReportScheduleForm
from inventory_hub.reports.models import ReportJob

PAGE = "reports/report_list.html"
PARTIALS = frozenset({"report-main", "report-schedules"})


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _page(
    request: HtmxHttpRequest,
    *,
    export_form: ReportExportForm | None = None,
    schedule_form: ReportScheduleForm | None = None,
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    target = request.htmx.target if request.htmx else None
    context: dict[str, Any] = {
        "export_form": export_form or ReportExportForm.initial_for(timezone.now().date()),
        "schedule_form": schedule_form or ReportScheduleForm(),
        "jobs": selectors.report_job_recent_list(user_id=request.user.pk),
        "schedules": selectors.report_schedule_list(),
        "notice": notice,
    }
    return render(request, f"{PAGE}#{target}" if target in PARTIALS else PAGE, context, status=status)


@require_GET
@permission_required(roles.PERM_EXPORT_REPORTS, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def report_list(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@permission_required(roles.PERM_EXPORT_REPORTS, raise_exception=True)
def report_job_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ReportExportForm(request.POST)
    if not form.is_valid():
        return _page(request, export_form=form, status=422)  # 422: htmx swaps it in place, errors shown
    data = form.cleaned_data
    services.report_job_create(
        user_id=request.user.pk,
        kind=data["kind"],
        format=data["format"],
        date_from=data["date_from"],
        date_to=data["date_to"],
        location_ids=[location.pk for location in data["locations"]],
    )
    if request.htmx:
        return _page(request)
    return redirect("reports:report-list")


@require_GET
@permission_required(roles.PERM_EXPORT_REPORTS, raise_exception=True)
@vary_on_headers("HX-Request")
def report_job_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """One job's state: the fragment the progress bar polls, or a page of its own without HTMX."""
    job = selectors.report_job_get(job_id=job_id)
    if job is None:
        raise Http404("No such report job.")
    template = f"{PAGE}#job-row" if request.htmx else "reports/job_detail.html"
    return render(request, template, {"job": job})


@require_GET
@permission_required(roles.PERM_EXPORT_REPORTS, raise_exception=True)
def report_job_download(request: HttpRequest, job_id: int) -> FileResponse:
    job = get_object_or_404(ReportJob, pk=job_id)
    path = services.report_job_path(job)
    if path is None:
        raise Http404("This report has no file: it is not finished, it failed, or its file was purged.")
    # Streamed from disk in blocks by the server, never read into memory here.
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=path.name, content_type=services.MIME_TYPES[job.format]
    )


@require_POST
@permission_required(roles.PERM_EXPORT_REPORTS, raise_exception=True)
def report_schedule_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ReportScheduleForm(request.POST)
    if not form.is_valid():
        return _page(request, schedule_form=form, status=422)
    schedule = services.report_schedule_create(spec=form.spec(), user_id=request.user.pk)
    notice = f"Schedule added: the first e-mail goes out at {schedule.next_run_at:%Y-%m-%d %H:%M} UTC."
    if request.htmx:
        return _page(request, notice=notice)
    messages.success(request, notice)
    return redirect("reports:report-list")


@require_POST
@permission_required(roles.PERM_EXPORT_REPORTS, raise_exception=True)
def report_schedule_delete(request: HtmxHttpRequest, schedule_id: int) -> HttpResponse:
    if not services.report_schedule_delete(schedule_id=schedule_id):
        raise Http404("No such schedule.")
    if request.htmx:
        return _page(request)
    return redirect("reports:report-list")

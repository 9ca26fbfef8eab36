from __future__ import annotations

from django.urls import path

from inventory_hub.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_list, name="report-list"),
    path("jobs/", views.report_job_create, name="job-create"),
    path("jobs/<int:job_id>/", views.report_job_detail, name="job-detail"),
    path("jobs/<int:job_id>/download/", views.report_job_download, name="job-download"),
    path("schedules/", views.report_schedule_create, name="schedule-create"),
    path("schedules/<int:schedule_id>/delete/", views.report_schedule_delete, name="schedule-delete"),
]

"""Report exports: one-off jobs an admin starts, and schedules that e-mail a report daily or weekly."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReportKind(models.TextChoices):
    DISCREPANCIES = "discrepancies", "Discrepancies"
    OVERSELLS = "oversells", "Oversell root causes"
    HOP_LAGS = "hop_lags", "Hop lags"
    RULE_CHANGES = "rule_changes", "Allocation rule changes"


class ReportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"


class ReportSchedule(models.Model):
    """A report generated daily or weekly for the period just ended and e-mailed with the file attached."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily (the previous day)"
        WEEKLY = "weekly", "Weekly, on Mondays (the previous Monday to Sunday)"

    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    format = models.CharField(max_length=10, choices=ReportFormat.choices, default=ReportFormat.XLSX)
    locations = models.ManyToManyField("inventory.Location", related_name="+")
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    send_hour = models.PositiveSmallIntegerField(default=6, help_text="Hour of the day (UTC) the e-mail is sent.")
    recipients = models.TextField(help_text="E-mail addresses, one a line or separated by commas.")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    next_run_at = models.DateTimeField(help_text="When beat next generates and sends it (UTC).")
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "frequency", "pk"]
        constraints = [models.CheckConstraint(condition=Q(send_hour__lte=23), name="report_schedule_hour_0_23")]
        indexes = [models.Index(fields=["next_run_at"], condition=Q(is_active=True), name="report_schedule_due")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_format_display()}), {self.frequency}"

    @property
    def recipient_list(self) -> list[str]:
        return [address.strip() for address in self.recipients.replace(",", "\n").splitlines() if address.strip()]


class ReportJob(models.Model):
    """One export of one report over a date range and set of locations, written by a Celery worker."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    schedule = models.ForeignKey(ReportSchedule, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    format = models.CharField(max_length=10, choices=ReportFormat.choices)
    date_from = models.DateField(help_text="First day of the range (UTC), included.")
    date_to = models.DateField(help_text="Last day of the range (UTC), included.")
    # Ids, not a relation: a report keeps saying what it covered after a location is deleted.
    location_ids = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_written = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(null=True, blank=True, help_text="From a COUNT when the job started.")
    # Relative to settings.REPORTS_DIR; set only once the whole file is in place.
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    location_codes: list[str]  # filled by the selectors for display; not a column

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(date_to__gte=models.F("date_from")), name="report_job_range_ordered"),
            # A file is offered only by a finished job: never a half-written one.
            models.CheckConstraint(condition=Q(file_name="") | Q(status="done"), name="report_job_file_only_when_done"),
            # Beat running a schedule twice for one period finds the job of the first run.
            models.UniqueConstraint(
                fields=["schedule", "date_from", "date_to"],
                condition=Q(schedule__isnull=False),
                name="report_job_one_per_schedule_period",
            ),
        ]
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="report_job_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.date_from}–{self.date_to} ({self.format}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        """Progress as a whole percent (the COUNT is an estimate: rows may arrive while it runs)."""
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_written * 100 // self.rows_total)

    @property
    def extension(self) -> str:
        return self.format

"""Closed periods. Closing is append-only: no entry may be dated on or before
the latest ``through_date``."""

from django.db import models


class PeriodClose(models.Model):
    through_date = models.DateField(unique=True)
    closed_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.CharField(max_length=200, blank=True, default="")
    note = models.TextField(blank=True, default="")

    class Meta:
        db_table = "ledger_period_close"
        ordering = ["-through_date"]

    def __str__(self) -> str:
        return f"closed through {self.through_date.isoformat()}"

from django.db import models


class DomainEvent(models.Model):
    type = models.CharField(max_length=60, db_index=True)
    organisation = models.ForeignKey(
        "orgs.Organisation", on_delete=models.PROTECT, related_name="events", help_text="The organisation that acted."
    )
    subject = models.CharField(max_length=100, help_text="What it is about, e.g. corpus:12")
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"

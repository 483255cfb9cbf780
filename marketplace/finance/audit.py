"""Writing the finance audit log, inside the caller's transaction (an action and its record commit together)."""

from marketplace.finance.models import AuditEntry


def audit_record(*, actor, action: str, subject: str, details: dict | None = None) -> AuditEntry:
    label = getattr(actor, "email", "") or getattr(actor, "username", "") or str(actor or "system")
    user = actor if getattr(actor, "pk", None) else None
    return AuditEntry.objects.create(
        actor=user, actor_label=label, action=action, subject=subject, details=details or {}
    )

"""``Idempotency-Key`` for POSTs that create things.

- The first request with a key runs; its response (status and body) is stored.
- A repeat with the same method, path and body gets the stored response again
  (with ``Idempotent-Replayed: true``).
- A repeat with a different body gets 422; one that arrives while the first is
  still running gets 409.
- Keys are scoped to the caller's organisation and kept for 24 hours
  (``API_IDEMPOTENCY_TTL_HOURS``); a request that raised an error is forgotten
  so that it can be retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from marketplace.api.auth import caller_organisation
from marketplace.api.errors import problem
from marketplace.api.models import IdempotencyRecord

HEADER = "Idempotency-Key"


def _ttl() -> dt.timedelta:
    return dt.timedelta(hours=getattr(settings, "API_IDEMPOTENCY_TTL_HOURS", 24))


def _problem(status: int, detail: str) -> Response:
    response = Response(problem(status, detail, kind="idempotency"), status=status)
    response.content_type = "application/problem+json"
    return response


def idempotent(*, required: bool = False):
    def decorator(method):
        @wraps(method)
        def wrapper(self, request, *args, **kwargs):
            key = request.headers.get(HEADER)
            if not key:
                if required:
                    return _problem(400, f"Send an {HEADER} header so that this request is safe to retry.")
                return method(self, request, *args, **kwargs)
            if len(key) > 255:
                return _problem(400, f"{HEADER} may be at most 255 characters.")
            org = caller_organisation(request)
            digest = hashlib.sha256(
                request.method.encode() + b" " + request.path.encode() + b"\n" + request.body
            ).hexdigest()
            now = timezone.now()
            IdempotencyRecord.objects.filter(organisation=org, key=key, expires_at__lte=now).delete()
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        organisation=org, key=key, method=request.method, path=request.path, request_hash=digest,
                        expires_at=now + _ttl(),
                    )  # fmt: skip
            except IntegrityError:
                record = IdempotencyRecord.objects.get(organisation=org, key=key)
                if record.request_hash != digest:
                    return _problem(
                        422, f"This {HEADER} was used with a different request; use a new key for a new request."
                    )
                if record.status_code is None:
                    return _problem(409, f"A request with this {HEADER} is still being processed; retry shortly.")
                replay = Response(status=record.status_code)
                replay.content = bytes(record.response_body or b"")
                replay["Content-Type"] = record.response_content_type or "application/json"
                replay["Idempotent-Replayed"] = "true"
                replay._is_rendered = True  # type: ignore[attr-defined]
                return replay
            try:
                response = method(self, request, *args, **kwargs)
                response = self.finalize_response(request, response, *args, **kwargs)
                response.render()
            except Exception:
                record.delete()
                raise
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                response_body=response.content,
                response_content_type=response.get("Content-Type", "application/json"),
            )
            return response

        wrapper.idempotency_required = required  # type: ignore[attr-defined]  # read by the OpenAPI schema
        return wrapper

    return decorator


def idempotency_sweep() -> int:
    return IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()[0]

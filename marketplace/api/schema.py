"""OpenAPI details drf-spectacular cannot infer: how API keys are sent, the problem responses every
operation can give (with their media type), and the Idempotency-Key header of retry-safe POSTs."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "marketplace.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "cf_live_…",
            "description": "An API key created by a licensee admin in the web UI (Developers page).",
        }


class ProblemAutoSchema(AutoSchema):
    """Documents, for every operation, the errors it can really answer with.

    A view adds statuses of its own with ``problem_statuses`` (for example 410 for an expired link).
    """

    common = (400, 401, 403, 404, 429)

    def _handler(self):
        return getattr(self.view, self.method.lower(), None)

    def _idempotency(self) -> bool | None:
        """None when the operation takes no Idempotency-Key, else whether the key is required."""
        return getattr(self._handler(), "idempotency_required", None)

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        required = self._idempotency()
        if required is not None:
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    required=required,
                    description="Makes the POST safe to retry. A repeat with the same body returns the first "
                    "response (with `Idempotent-Replayed: true`); another body with the same key gets 422; a repeat "
                    "while the first is still running gets 409. Keys are scoped to your organisation and kept "
                    "24 hours. At most 255 characters.",
                )
            )
        return parameters

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        from marketplace.api.serializers import Problem

        codes = set(self.common) | set(getattr(self.view, "problem_statuses", ()))
        if self.method in ("POST", "PUT", "PATCH"):
            codes |= {413, 415}
        if self._idempotency() is not None:
            codes |= {409, 422}
        problem = OpenApiResponse(
            Problem, description="A problem (RFC 9457): type, title, status, detail and, per field or item, errors."
        )
        for code in sorted(codes):
            bodies.setdefault(
                str(code), self._get_response_for_code(problem, str(code), media_types=[PROBLEM_MEDIA_TYPE])
            )
        return bodies

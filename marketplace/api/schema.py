"""OpenAPI details drf-spectacular cannot infer: how API keys are sent."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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

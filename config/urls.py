from django.contrib import admin
from django.urls import include, path

from marketplace.api import views as api_views
from marketplace.payments.views import stripe_webhook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("marketplace.rating.urls")),
    path("", include("marketplace.payouts.urls")),
    path("", include("marketplace.statements.urls")),
    path("", include("marketplace.reconciliation.urls")),
    path("finance/", include("marketplace.finance.urls")),
    path("api/v1/", include("marketplace.api.urls")),
    path(".well-known/clearframe-keys.json", api_views.well_known_keys, name="well_known_keys"),
    path("webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
    path("", include("marketplace.catalog.urls")),
    path("", include("marketplace.orgs.urls")),
    path("", include("marketplace.api.page_urls")),
    path("", include("marketplace.licensing.urls")),
    path("", include("marketplace.invoicing.urls")),
    path("", include("marketplace.web.urls")),
]

handler404 = "marketplace.api.errors.not_found"
handler500 = "marketplace.api.errors.server_error"

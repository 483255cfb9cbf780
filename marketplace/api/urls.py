from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from marketplace.api import views

app_name = "api"
urlpatterns = [
    # The schema and the interactive docs are public, like any API reference.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[AllowAny]), name="docs"),
    path("redoc/", views.RedocView.as_view(url_name="api:schema", permission_classes=[AllowAny]), name="redoc"),
    path("corpora/", views.CorpusList.as_view(), name="corpora"),
    path("corpora/<slug:slug>/", views.CorpusDetail.as_view(), name="corpus"),
    path("corpora/<slug:slug>/assets/", views.CorpusAssets.as_view(), name="corpus_assets"),
    path("offers/", views.OfferList.as_view(), name="offers"),
    path("quotes/", views.QuoteListCreate.as_view(), name="quotes"),
    path("quotes/<str:quote_id>/", views.QuoteDetail.as_view(), name="quote"),
    path("orders/", views.OrderListCreate.as_view(), name="orders"),
    path("orders/<str:order_id>/", views.OrderDetail.as_view(), name="order"),
    path("licences/", views.LicenceList.as_view(), name="licences"),
    path("licences/<str:licence_id>/", views.LicenceDetail.as_view(), name="licence"),
    path("licences/<str:licence_id>/certificate/", views.LicenceCertificate.as_view(), name="certificate"),
    path("licences/<str:licence_id>/proof/", views.LicenceProof.as_view(), name="proof"),
    path("licences/<str:licence_id>/manifest/", views.LicenceManifest.as_view(), name="manifest"),
    path("licences/<str:licence_id>/manifest.csv", views.LicenceManifestCsv.as_view(), name="manifest_csv"),
    path("licences/<str:licence_id>/croissant/", views.LicenceCroissant.as_view(), name="croissant"),
    path("downloads/<str:token>", views.Download.as_view(), name="download"),
    path("usage/events/", views.UsageEvents.as_view(), name="usage_events"),
    path("usage/summary/", views.UsageSummary.as_view(), name="usage_summary"),
    path("webhook-endpoints/", views.EndpointListCreate.as_view(), name="endpoints"),
    path("webhook-endpoints/<str:endpoint_id>/", views.EndpointDetail.as_view(), name="endpoint"),
    path(
        "webhook-endpoints/<str:endpoint_id>/rotate-secret/",
        views.EndpointRotateSecret.as_view(),
        name="endpoint_rotate",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/deliveries/",
        views.EndpointDeliveries.as_view(),
        name="endpoint_deliveries",
    ),
    path("webhook-deliveries/<str:delivery_id>/replay/", views.DeliveryReplay.as_view(), name="delivery_replay"),
    path("invoices/", views.InvoiceList.as_view(), name="invoices"),
    path("invoices/<str:invoice_id>/", views.InvoiceDetail.as_view(), name="invoice"),
    path("invoices/<str:invoice_id>/pdf/", views.InvoicePdf.as_view(), name="invoice_pdf"),
    path("invoices/<str:invoice_id>/csv/", views.InvoiceCsv.as_view(), name="invoice_csv"),
    path("invoices/<str:invoice_id>/pay/", views.InvoicePay.as_view(), name="invoice_pay"),
    path("takedowns/", views.TakedownList.as_view(), name="takedowns"),
    path("takedowns/<str:notice_id>/acknowledge/", views.TakedownAcknowledge.as_view(), name="takedown_ack"),
]

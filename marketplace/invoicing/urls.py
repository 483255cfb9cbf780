from django.urls import path

from marketplace.invoicing import views

app_name = "invoicing"
org = "o/<slug:org_slug>/"
urlpatterns = [
    path(f"{org}invoices/", views.invoice_list, name="invoice_list"),
    path(f"{org}invoices/<str:invoice_id>/", views.invoice_detail, name="invoice"),
    path(f"{org}invoices/<str:invoice_id>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path(f"{org}invoices/<str:invoice_id>/csv/", views.invoice_csv, name="invoice_csv"),
]

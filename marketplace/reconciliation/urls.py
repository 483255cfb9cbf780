from django.urls import path

from marketplace.reconciliation import views

app_name = "reconciliation"
urlpatterns = [
    path("finance/reconciliation/", views.overview, name="overview"),
    path("finance/reconciliation/report.csv", views.report_csv, name="report_csv"),
    path("finance/reconciliation/report.xlsx", views.report_csv, {"fmt": "xlsx"}, name="report_xlsx"),
    path("finance/reconciliation/upload/", views.upload, name="upload"),
    path("finance/reconciliation/stripe-sync/", views.stripe_sync, name="stripe_sync"),
    path("finance/reconciliation/lines/<int:line_id>/<str:how>/", views.resolve, name="resolve"),
    path("finance/close/", views.close, name="close"),
    path("finance/close/<str:period>/<str:action>/", views.close_action, name="close_action"),
]

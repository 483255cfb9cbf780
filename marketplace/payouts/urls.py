from django.urls import path

from marketplace.payouts import views

app_name = "payouts"
org = "o/<slug:org_slug>/"
urlpatterns = [
    path(f"{org}payouts/", views.settings_page, name="settings"),
    path(f"{org}payouts/stripe/onboard/", views.stripe_onboard, name="stripe_onboard"),
    path(f"{org}payouts/stripe/return/", views.stripe_return, name="stripe_return"),
    path("finance/payouts/", views.run_list, name="runs"),
    path("finance/payouts/<str:run_id>/", views.run_detail, name="run"),
    path("finance/payouts/<str:run_id>/pain.001.xml", views.bank_file, name="bank_file"),
    path("finance/payouts/<str:run_id>/manual-transfers.csv", views.manual_transfers_csv, name="manual_transfers"),
    path("finance/payouts/<str:run_id>/<str:action>/", views.run_action, name="run_action"),
    path("finance/bank-payouts/<str:payout_id>/<str:outcome>/", views.bank_payout_confirm, name="bank_confirm"),
    path("finance/advances/", views.advances, name="advances"),
    path("finance/advances/<str:advance_id>/<str:action>/", views.advance_action, name="advance_action"),
    path("finance/audit/", views.audit_log, name="audit"),
    path("finance/payees/", views.payees, name="payees"),
    path("finance/payees/<int:payee_id>/", views.payee_terms, name="payee_terms"),
]

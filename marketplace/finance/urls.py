from django.urls import path

from marketplace.finance import views

app_name = "finance"
urlpatterns = [
    path("", views.trial_balance, name="trial_balance"),
    path("accounts/<str:currency>/<path:code>/", views.account_detail, name="account"),
    path("entries/<int:entry_id>/", views.entry_detail, name="entry"),
    path("export/journal.csv", views.journal_csv, name="journal_csv"),
    path("export/trial-balance.csv", views.trial_balance_csv, name="trial_balance_csv"),
    path("export/journal.xlsx", views.journal_csv, {"fmt": "xlsx"}, name="journal_xlsx"),
    path("export/trial-balance.xlsx", views.trial_balance_csv, {"fmt": "xlsx"}, name="trial_balance_xlsx"),
    path("charts/", views.charts, name="charts"),
]

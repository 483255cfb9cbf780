from django.urls import path

from marketplace.rating import views

app_name = "rating"
org = "o/<slug:org_slug>/"
urlpatterns = [
    path(f"{org}charges/", views.charge_list, name="charge_list"),
    path(f"{org}charges/<int:charge_id>/", views.charge_detail, name="charge"),
    path(f"{org}charges/<int:charge_id>/events.csv", views.charge_events_csv, name="charge_events_csv"),
    path("finance/charges/<int:charge_id>/", views.staff_charge_detail, name="staff_charge"),
    path("finance/flagged-usage/", views.staff_flagged_usage, name="staff_flagged_usage"),
    path("finance/charges/<int:charge_id>/events.csv", views.staff_charge_events_csv, name="staff_charge_events_csv"),
]

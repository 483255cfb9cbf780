from django.urls import path

from marketplace.statements import views

app_name = "statements"
org = "o/<slug:org_slug>/"
urlpatterns = [
    path(f"{org}statements/", views.statement_list, name="list"),
    path(f"{org}statements/<str:statement_id>/", views.statement_detail, name="detail"),
    path(f"{org}statements/<str:statement_id>/<str:kind>/", views.statement_download, name="download"),
    path("finance/statements/", views.staff_statement_list, name="staff_list"),
    path("finance/statements/<str:statement_id>/", views.staff_statement_detail, name="staff_detail"),
    path("finance/statements/<str:statement_id>/<str:kind>/", views.staff_statement_download, name="staff_download"),
]

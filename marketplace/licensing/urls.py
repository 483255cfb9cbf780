from django.urls import path

from marketplace.licensing import views

app_name = "licensing"
org = "o/<slug:org_slug>/"
urlpatterns = [
    path(f"{org}licences/", views.licence_list, name="licence_list"),
    path(f"{org}licences/<str:licence_id>/", views.licence_detail, name="licence"),
    path(
        f"{org}licences/<str:licence_id>/certificates/<int:version>.json",
        views.certificate_download,
        name="certificate_download",
    ),
    path(f"{org}takedowns/<str:notice_id>/acknowledge/", views.notice_acknowledge, name="notice_acknowledge"),
]

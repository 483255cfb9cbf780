from django.urls import path

from marketplace.api import pages

app_name = "developers"
base = "o/<slug:org_slug>/developers/"
urlpatterns = [
    path(base, pages.index, name="index"),
    path(f"{base}keys/<str:key_id>/revoke/", pages.key_revoke, name="key_revoke"),
    path(f"{base}webhooks/new/", pages.endpoint_create, name="endpoint_create"),
    path(f"{base}webhooks/<str:endpoint_id>/", pages.endpoint_detail, name="endpoint"),
    path(f"{base}webhooks/<str:endpoint_id>/rotate/", pages.endpoint_rotate, name="endpoint_rotate"),
    path(f"{base}webhooks/<str:endpoint_id>/toggle/", pages.endpoint_toggle, name="endpoint_toggle"),
    path(f"{base}deliveries/<str:delivery_id>/replay/", pages.delivery_replay, name="delivery_replay"),
]

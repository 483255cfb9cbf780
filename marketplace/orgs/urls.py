from django.urls import path

from marketplace.orgs import views

app_name = "orgs"
urlpatterns = [
    path("o/<slug:org_slug>/", views.dashboard, name="dashboard"),
    path("o/<slug:org_slug>/members/", views.members, name="members"),
    path("o/<slug:org_slug>/members/<int:membership_id>/role/", views.membership_change, name="membership_change"),
    path("o/<slug:org_slug>/members/<int:membership_id>/remove/", views.membership_remove, name="membership_remove"),
    path(
        "o/<slug:org_slug>/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"
    ),
    path(
        "o/<slug:org_slug>/invitations/<int:invitation_id>/resend/", views.invitation_resend, name="invitation_resend"
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]

from django.urls import path

from marketplace.web import auth_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", auth_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.SignOutView.as_view(), name="logout"),
    path("accounts/password-reset/", auth_views.password_reset, name="password_reset"),
    path("accounts/password-reset/sent/", auth_views.password_reset_done, name="password_reset_done"),
    path("accounts/password-reset/<uidb64>/<token>/", auth_views.password_reset_confirm, name="password_reset_confirm"),
    path("accounts/password-reset/done/", auth_views.password_reset_complete, name="password_reset_complete"),
]

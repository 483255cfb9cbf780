from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("finance/", include("marketplace.finance.urls")),
    path("", include("marketplace.web.urls")),
]

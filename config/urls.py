from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("finance/", include("marketplace.finance.urls")),
    path("", include("marketplace.catalog.urls")),
    path("", include("marketplace.orgs.urls")),
    path("", include("marketplace.web.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

from django.contrib import admin
from django.urls import include, path

from config.api import api
from healthcodes.views import healthcode_keys
from healthnet.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path(".well-known/healthcode-keys.json", healthcode_keys, name="healthcode-keys"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("", include("portal.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

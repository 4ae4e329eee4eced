"""Production serves what collectstatic wrote with hashed names (whitenoise's compressed manifest
storage): every file a stylesheet points at must exist, or collectstatic refuses to finish."""

from __future__ import annotations

import json
import re

from django.core.management import call_command
from django.test import override_settings

PRODUCTION_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


def test_collectstatic_with_production_storage_hashes_the_portal_and_vendored_files(tmp_path):
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=tmp_path):
        call_command("collectstatic", "--noinput", verbosity=0)

    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for name in (
        "portal/css/portal.css",
        "portal/js/portal.js",
        "vendor/pico/pico.min.css",
        "vendor/echarts/echarts.min.js",
        "django_htmx/htmx-2.min.js",
    ):
        assert (tmp_path / manifest[name]).is_file(), name
        assert (tmp_path / (manifest[name] + ".gz")).is_file(), name
    css = (tmp_path / manifest["portal/css/portal.css"]).read_text()
    icons = re.findall(r'url\("\.\./\.\./(portal/icons/[^"]+)"\)', css)
    assert len(icons) == 10
    assert all(re.fullmatch(r"portal/icons/\w+\.[0-9a-f]{12}\.svg", icon) for icon in icons)
    assert all((tmp_path / icon).is_file() for icon in icons)

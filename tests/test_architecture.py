"""The app order of docs/architecture.md, enforced: an app imports only the apps below it.

    healthnet < signing < referrals < healthcodes < reports < portal < demo

The only upward channels are the hook registries (healthnet.selectors.RESIDENT_RELATION_CHECKS,
signing.hooks.FOLLOWUP_RECORDED, healthnet.hooks.RESIDENT_CARD_CURRENT,
healthnet.hooks.RESIDENT_LEFT), filled by the upper app's AppConfig.ready(). `config` wires the
project together (settings, the one NinjaAPI, urls): apps may use its leaf modules (pagination,
the OpenAPI document's error answers, the Celery app) but never the wiring itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["healthnet", "signing", "referrals", "healthcodes", "reports", "portal", "demo"]
CONFIG_LEAVES = {"config.pagination", "config.openapi", "config.celery"}


def _imports(app: str) -> list[tuple[str, str]]:
    """(file, imported module) for every absolute import of a project package in the app."""
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                if module.split(".")[0] in {*ORDER, "config", "bench", "tests"}:
                    found.append((str(path.relative_to(ROOT)), module))
    return found


@pytest.mark.parametrize("app", ORDER)
def test_an_app_imports_only_the_apps_below_it(app):
    below = set(ORDER[: ORDER.index(app)])
    wrong = [
        (path, module)
        for path, module in _imports(app)
        if module.split(".")[0] not in below | {app}
        and not any(module == leaf or module.startswith(leaf + ".") for leaf in CONFIG_LEAVES)
    ]
    assert wrong == []


def test_the_order_names_every_app_of_the_project():
    from django.conf import settings

    project_apps = [
        app for app in settings.INSTALLED_APPS if "." not in app and (ROOT / app).is_dir()
    ]
    assert project_apps == ORDER

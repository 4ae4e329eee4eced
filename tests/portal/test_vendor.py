"""The vendored front-end files are exactly what `make vendor` recorded, with their licences, at
the major versions the portal is written for; htmx comes from django-htmx and is htmx 2."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import django_htmx
import pytest
from django.contrib.staticfiles import finders
from django.template import Context, Template

from portal import vendoring

PORTAL = Path(__file__).resolve().parents[2] / "portal"
LOCK = json.loads((PORTAL / "vendor.lock.json").read_text(encoding="utf-8"))
MANIFEST = json.loads((PORTAL / "vendor.json").read_text(encoding="utf-8"))


def test_every_vendored_file_matches_the_sha256_in_the_lock():
    checked = 0
    for entry in LOCK["packages"].values():
        for relative, expected in entry["files"].items():
            data = (PORTAL / "static" / relative).read_bytes()
            assert hashlib.sha256(data).hexdigest() == expected, relative
            checked += 1
    assert checked >= 10


def test_no_file_in_the_vendor_directory_escapes_the_lock():
    recorded = {path for entry in LOCK["packages"].values() for path in entry["files"]}
    on_disk = {
        path.relative_to(PORTAL / "static").as_posix()
        for path in (PORTAL / "static" / "vendor").rglob("*")
        if path.is_file()
    }
    assert on_disk == recorded


def test_the_lock_is_the_manifest_vendored():
    pinned = {
        package["dir"]: (package["name"], package["version"], package["integrity"])
        for package in MANIFEST["packages"]
    }
    locked = {
        directory: (entry["name"], entry["version"], entry["integrity"])
        for directory, entry in LOCK["packages"].items()
    }
    assert locked == pinned


def test_the_check_command_agrees_and_notices_a_changed_file(tmp_path):
    assert vendoring.check() == []

    static = tmp_path / "static"
    for entry in LOCK["packages"].values():
        for relative in entry["files"]:
            target = static / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((PORTAL / "static" / relative).read_bytes())
    (static / "vendor/pico/pico.min.css").write_text("body{}")
    (static / "vendor/pico/extra.js").write_text("")

    assert vendoring.check(static_root=static) == [
        "vendor/pico/pico.min.css: sha256 differs from the lock",
        "vendor/pico/extra.js: not in the lock",
    ]


def _fake_registry(tmp_path, monkeypatch, *, files: dict[str, bytes], reported: str | None = None):
    """An `npm` on PATH that "downloads" a tarball of `files` (the registry is the outside world)
    and reports its integrity, or `reported` instead."""
    tarball = tmp_path / "demo-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    integrity = vendoring.sha512_integrity(tarball.read_bytes())
    report = [
        {
            "name": "demo",
            "version": "1.0.0",
            "filename": tarball.name,
            "integrity": reported or integrity,
        }
    ]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        "for last; do :; done\n"  # the last argument is the pack destination
        f'cp {tarball} "$last/"\n'
        f"echo '{json.dumps(report)}'\n"
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return integrity


def _demo_package(integrity: str) -> vendoring.Package:
    return vendoring.Package(
        name="demo",
        version="1.0.0",
        integrity=integrity,
        license="MIT",
        dir="demo",
        purpose="test",
        files={"dist/demo.min.js": "demo.min.js", "LICENSE": "LICENSE"},
    )


def test_vendoring_copies_the_listed_files_and_locks_their_hashes(tmp_path, monkeypatch):
    files = {"dist/demo.min.js": b"var demo=1;", "LICENSE": b"MIT", "src/demo.js": b"var demo;"}
    integrity = _fake_registry(tmp_path, monkeypatch, files=files)
    root, lock_path = tmp_path / "static" / "vendor", tmp_path / "lock.json"
    (root / "gone").mkdir(parents=True)  # a package no longer in the manifest

    vendoring.vendor_all([_demo_package(integrity)], vendor_root=root, lock_path=lock_path)

    assert sorted(p.name for p in root.rglob("*")) == ["LICENSE", "demo", "demo.min.js"]
    lock = json.loads(lock_path.read_text())
    assert lock["packages"]["demo"]["files"] == {
        "vendor/demo/LICENSE": hashlib.sha256(b"MIT").hexdigest(),
        "vendor/demo/demo.min.js": hashlib.sha256(b"var demo=1;").hexdigest(),
    }


def test_a_tarball_that_does_not_match_its_pin_changes_nothing(tmp_path, monkeypatch):
    integrity = _fake_registry(
        tmp_path, monkeypatch, files={"dist/demo.min.js": b"evil()", "LICENSE": b"MIT"}
    )
    pinned = "sha512-" + "A" * 86 + "=="
    assert integrity != pinned
    root, lock_path = tmp_path / "static" / "vendor", tmp_path / "lock.json"

    with pytest.raises(vendoring.VendoringError, match="integrity mismatch"):
        vendoring.vendor_all([_demo_package(pinned)], vendor_root=root, lock_path=lock_path)

    assert not root.exists()
    assert not lock_path.exists()


def test_npm_reporting_another_integrity_than_the_file_is_refused(tmp_path, monkeypatch):
    files = {"dist/demo.min.js": b"x", "LICENSE": b"MIT"}
    lie = "sha512-" + "B" * 86 + "=="
    integrity = _fake_registry(tmp_path, monkeypatch, files=files, reported=lie)

    with pytest.raises(vendoring.VendoringError, match="integrity mismatch"):
        vendoring.npm_pack(_demo_package(integrity), tmp_path)


def test_a_listed_file_missing_from_the_package_is_refused(tmp_path, monkeypatch):
    integrity = _fake_registry(tmp_path, monkeypatch, files={"LICENSE": b"MIT"})

    with pytest.raises(vendoring.VendoringError, match=r"no file dist/demo\.min\.js"):
        vendoring.vendor_all(
            [_demo_package(integrity)],
            vendor_root=tmp_path / "v",
            lock_path=tmp_path / "lock.json",
        )


@pytest.mark.parametrize(
    ("directory", "name", "major", "licence_files"),
    [
        ("pico", "@picocss/pico", "2", {"LICENSE.md"}),
        ("axe-core", "axe-core", "4", {"LICENSE", "LICENSE-3RD-PARTY.txt"}),
        ("jsqr", "jsqr", "1", {"LICENSE"}),
        ("echarts", "echarts", "5", {"LICENSE", "NOTICE", "LICENSE-d3"}),
    ],
)
def test_each_package_at_its_major_version_with_its_licence(directory, name, major, licence_files):
    entry = LOCK["packages"][directory]
    assert entry["name"] == name
    assert entry["version"].split(".")[0] == major
    files = {Path(path).name for path in entry["files"]}
    assert licence_files <= files
    assert entry["license"] in {"MIT", "Apache-2.0", "MPL-2.0"}


def test_static_finders_serve_the_vendored_files():
    for relative in ("vendor/pico/pico.min.css", "vendor/axe-core/axe.min.js"):
        assert finders.find(relative) is not None


def test_htmx_script_serves_django_htmx_copy_of_htmx_2():
    html = Template("{% load django_htmx %}{% htmx_script %}").render(Context({}))

    [src] = re.findall(r'src="([^"]+)"', html)
    assert src == "/static/django_htmx/htmx-2.min.js"
    bundled = Path(django_htmx.__file__).parent / "static/django_htmx/htmx-2.min.js"
    assert re.search(r'version:"2\.\d+\.\d+"', bundled.read_text(encoding="utf-8"))

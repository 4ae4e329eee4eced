"""Vendored front-end packages: fetch them from the npm registry at pinned versions, check them,
copy the files the portal serves, and record what is on disk (`make vendor`).

Why vendored: clinics run on networks that may be cut off from the internet, and a page must never
depend on a third party at run time (no CDN). Why pinned by integrity: the registry's sha512 of
the tarball is recorded in portal/vendor.json when a version is chosen; a tarball that does not
match it is refused, so the copy cannot silently change under the same version number.

    python -m portal.vendoring            fetch every package and rewrite the lock
    python -m portal.vendoring --check    compare the files on disk with the lock (no network)

Standard library only: it runs before Django is configured and needs nothing but `npm`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

PORTAL_DIR = Path(__file__).resolve().parent
MANIFEST_PATH = PORTAL_DIR / "vendor.json"
LOCK_PATH = PORTAL_DIR / "vendor.lock.json"
VENDOR_ROOT = PORTAL_DIR / "static" / "vendor"
STATIC_ROOT = PORTAL_DIR / "static"
NPM_TIMEOUT_SECONDS = 300


class VendoringError(Exception):
    """A package could not be fetched, did not match its pin, or lacks a listed file."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # "sha512-<base64>", as the npm registry reports it
    license: str
    dir: str  # under portal/static/vendor/
    purpose: str
    files: dict[str, str]  # path inside the package → file name under dir

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"


def load_manifest(path: Path = MANIFEST_PATH) -> list[Package]:
    data = json.loads(path.read_text(encoding="utf-8"))
    packages = [
        Package(
            name=entry["name"],
            version=entry["version"],
            integrity=entry["integrity"],
            license=entry["license"],
            dir=entry["dir"],
            purpose=entry["purpose"],
            files=dict(entry["files"]),
        )
        for entry in data["packages"]
    ]
    dirs = [package.dir for package in packages]
    if len(set(dirs)) != len(dirs):
        raise VendoringError("two packages share a vendor directory")
    return packages


def sha512_integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def npm_pack(package: Package, workdir: Path) -> Path:
    """Download the package's tarball with `npm pack` (no install, no scripts run) and check it
    against both what npm reports and the pin in the manifest."""
    npm = shutil.which("npm")
    if npm is None:
        raise VendoringError("npm is not installed")
    completed = subprocess.run(  # noqa: S603 - fixed argv, the spec comes from our manifest
        [npm, "pack", package.spec, "--json", "--ignore-scripts", "--pack-destination", workdir],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise VendoringError(f"npm pack {package.spec} failed: {completed.stderr.strip()}")
    [report] = json.loads(completed.stdout)
    if report["name"] != package.name or report["version"] != package.version:
        raise VendoringError(
            f"npm pack {package.spec} returned {report['name']}@{report['version']}"
        )
    tarball = workdir / report["filename"]
    actual = sha512_integrity(tarball.read_bytes())
    if report["integrity"] != package.integrity or actual != package.integrity:
        raise VendoringError(
            f"{package.spec}: integrity mismatch (pinned {package.integrity}, "
            f"npm reports {report['integrity']}, file is {actual})"
        )
    return tarball


def extract_listed(package: Package, tarball: Path) -> dict[str, bytes]:
    """The listed files' bytes, read by exact member name (nothing else in the archive is
    touched, so no path in it can write outside the vendor directory)."""
    contents: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for source, target in package.files.items():
            if "/" in target or target.startswith("."):
                raise VendoringError(f"{package.spec}: bad target file name {target!r}")
            try:
                member = archive.getmember(f"package/{source}")
            except KeyError:
                raise VendoringError(f"{package.spec}: no file {source} in the package") from None
            handle = archive.extractfile(member) if member.isfile() else None
            if handle is None:
                raise VendoringError(f"{package.spec}: {source} is not a regular file")
            contents[target] = handle.read()
    return contents


def install(package: Package, contents: dict[str, bytes], vendor_root: Path) -> dict[str, str]:
    """Replace the package's vendor directory with the listed files; their sha256 by path
    relative to the static root (the path `{% static %}` takes)."""
    target_dir = vendor_root / package.dir
    if target_dir.exists():
        shutil.rmtree(target_dir)
    target_dir.mkdir(parents=True)
    hashes = {}
    for name, data in sorted(contents.items()):
        (target_dir / name).write_bytes(data)
        hashes[f"vendor/{package.dir}/{name}"] = sha256_hex(data)
    return hashes


def lock_entry(package: Package, hashes: dict[str, str]) -> dict[str, object]:
    return {
        "name": package.name,
        "version": package.version,
        "integrity": package.integrity,
        "license": package.license,
        "purpose": package.purpose,
        "files": hashes,
    }


def vendor_all(
    packages: list[Package], *, vendor_root: Path = VENDOR_ROOT, lock_path: Path = LOCK_PATH
) -> dict[str, object]:
    lock: dict[str, object] = {
        "_comment": "Written by `make vendor` (portal/vendoring.py); do not edit by hand.",
        "packages": {},
    }
    with tempfile.TemporaryDirectory(prefix="healthnet-vendor-") as tmp:
        fetched = []
        for package in packages:  # fetch and check everything before changing any file
            tarball = npm_pack(package, Path(tmp))
            fetched.append((package, extract_listed(package, tarball)))
    known_dirs = {package.dir for package in packages}
    if vendor_root.exists():
        for stale in vendor_root.iterdir():
            if stale.is_dir() and stale.name not in known_dirs:
                shutil.rmtree(stale)
    for package, contents in fetched:
        hashes = install(package, contents, vendor_root)
        lock["packages"][package.dir] = lock_entry(package, hashes)  # type: ignore[index]
    lock_path.write_text(json.dumps(lock, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return lock


def check(
    *,
    manifest_path: Path = MANIFEST_PATH,
    lock_path: Path = LOCK_PATH,
    static_root: Path = STATIC_ROOT,
) -> list[str]:
    """What differs between the manifest, the lock and the files on disk (empty = all agree)."""
    problems = []
    packages = {package.dir: package for package in load_manifest(manifest_path)}
    lock = json.loads(lock_path.read_text(encoding="utf-8"))["packages"]
    if set(lock) != set(packages):
        problems.append(f"lock lists {sorted(lock)}, manifest {sorted(packages)}: run make vendor")
    recorded: set[str] = set()
    for directory, entry in lock.items():
        package = packages.get(directory)
        if package is not None and (entry["version"], entry["integrity"]) != (
            package.version,
            package.integrity,
        ):
            problems.append(f"{directory}: lock has {entry['version']}, manifest {package.version}")
        for relative, expected in entry["files"].items():
            recorded.add(relative)
            path = static_root / relative
            if not path.is_file():
                problems.append(f"{relative}: missing")
            elif sha256_hex(path.read_bytes()) != expected:
                problems.append(f"{relative}: sha256 differs from the lock")
    vendor_root = static_root / "vendor"
    on_disk = {
        path.relative_to(static_root).as_posix()
        for path in vendor_root.rglob("*")
        if path.is_file()
    }
    problems.extend(f"{extra}: not in the lock" for extra in sorted(on_disk - recorded))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify only, no network")
    args = parser.parse_args(argv)
    if not args.check:
        try:
            lock = vendor_all(load_manifest())
        except VendoringError as error:
            print(f"make vendor: {error}", file=sys.stderr)
            return 1
        for directory, entry in lock["packages"].items():  # type: ignore[attr-defined]
            print(
                f"vendored {entry['name']}@{entry['version']} → portal/static/vendor/{directory}/"
            )
    problems = check()
    for problem in problems:
        print(f"vendor check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

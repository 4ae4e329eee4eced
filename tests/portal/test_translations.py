"""zh-hans is the source language; English lives in locale/en. The compiled catalogue is in the
repository, so it must say what the .po says (run `make messages` after changing either)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES"
PO = LOCALE / "django.po"
MO = LOCALE / "django.mo"


def catalogue(mo: Path) -> dict[object, str]:
    with mo.open("rb") as handle:
        return dict(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs GNU gettext (msgfmt)")
def test_the_committed_mo_is_the_po_compiled(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(  # noqa: S603 - fixed argv
        [shutil.which("msgfmt"), "--check-format", "-o", str(fresh), str(PO)], check=True
    )

    assert catalogue(MO) == catalogue(fresh)


def test_every_message_is_translated_and_none_is_fuzzy():
    text = PO.read_text(encoding="utf-8")
    entries = text.split("\n\n")[1:]  # the first is the header

    assert not [e for e in entries if "#, fuzzy" in e]
    untranslated = []
    for entry in entries:
        for strings in re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', entry + "\n", re.M):
            if not "".join(re.findall(r'"(.*)"', strings)):
                untranslated.append(entry)
    assert untranslated == []


def test_the_portal_speaks_english_from_the_committed_catalogue():
    translations = catalogue(MO)

    assert translations["工作台"] == "Workbench"
    assert translations["跳到主要内容"] == "Skip to main content"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (xgettext)")
def test_every_string_marked_for_translation_is_in_the_catalogue(tmp_path):
    """`make messages` run on a copy of the tracked files adds no message to the catalogue: a
    string marked in code or a template but missing from locale/en would show in Chinese on the
    English portal."""
    root = LOCALE.parents[2]
    tracked = (
        subprocess.run(  # noqa: S603 - fixed argv
            [shutil.which("git"), "ls-files", "-z"], cwd=root, check=True, capture_output=True
        )
        .stdout.decode()
        .split("\0")
    )
    if not any(tracked):
        pytest.skip("not a git checkout")
    copy = tmp_path / "repo"
    for name in filter(None, tracked):
        source = root / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy / name)
    subprocess.run(  # the repository's own manage.py
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "en",
            "--no-obsolete",
            "-i",
            ".venv/*",
            "-i",
            "var/*",
            "-i",
            "bench/*",
            "-i",
            "tests/*",
            "-i",
            "portal/static/*",
        ],
        cwd=copy,
        check=True,
        capture_output=True,
    )

    def msgids(po: Path) -> set[str]:
        text = po.read_text(encoding="utf-8")
        return {
            "".join(re.findall(r'"(.*)"', block))
            for block in re.findall(r'^msgid ((?:".*"\n)+)', text, re.M)
        }

    assert msgids(copy / "locale" / "en" / "LC_MESSAGES" / "django.po") - msgids(PO) == set()

"""zh-hans is the source language; English lives in locale/en. The compiled catalogue is in the
repository, so it must say what the .po says (run `make messages` after changing either)."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
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

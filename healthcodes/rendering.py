"""QR symbols for health codes (docs/design.md §6): alphanumeric mode, version ≤ 10, ECC M on a
screen
and Q on paper.

Why these settings: a version ≤ 10 symbol (57 modules across) stays readable by cheap desk
scanners and phone cameras at arm's length; Q survives the scratches and folds of a printed card,
while M keeps the phone's symbol small. ``boost_error`` is off so the symbol has exactly the level
the design names, whatever spare room a version happens to have. Pure functions, no Django.
"""

from __future__ import annotations

import io
from typing import Final

import segno

MAX_VERSION: Final = 10
QUIET_ZONE: Final = 4  # modules; ISO/IEC 18004 requires 4 around a QR symbol
SCREEN_SCALE: Final = 8  # pixels per module on a phone
PRINT_DPI: Final = 300


def _make_symbol(text: str, print_quality: bool) -> segno.QRCode:
    """Encode ``text``; ValueError if it is not alphanumeric or needs a version above 10."""
    symbol = segno.make_qr(
        text, error="q" if print_quality else "m", mode="alphanumeric", boost_error=False
    )
    if int(symbol.version) > MAX_VERSION:  # an int for QR codes (a str names Micro QR ones)
        raise ValueError(
            f"code needs QR version {symbol.version} at ECC {symbol.error}, above {MAX_VERSION}"
        )
    return symbol


def qr_version(text: str, print_quality: bool = False) -> int:
    """The QR version ``text`` needs at ECC Q (``print_quality``) or M; ValueError above 10."""
    return int(_make_symbol(text, print_quality).version)


def render_svg(text: str, *, print_quality: bool = False) -> str:
    """An SVG document (one path, viewBox in modules) that scales to any size without blur."""
    symbol = _make_symbol(text, print_quality)
    out = io.BytesIO()
    symbol.save(
        out,
        kind="svg",
        border=QUIET_ZONE,
        xmldecl=False,
        omitsize=True,
        light="#fff",  # a white quiet zone even on a dark page: scanners need the contrast
        title="健康码 health code",
    )
    return out.getvalue().decode("utf-8")


def render_png(text: str, *, print_quality: bool = False, scale: int = SCREEN_SCALE) -> bytes:
    """PNG bytes, ``scale`` pixels per module; print quality also records 300 dpi."""
    if scale < 1:
        raise ValueError("scale must be at least 1 pixel per module")
    symbol = _make_symbol(text, print_quality)
    out = io.BytesIO()
    symbol.save(
        out,
        kind="png",
        scale=scale,
        border=QUIET_ZONE,
        dpi=PRINT_DPI if print_quality else None,
    )
    return out.getvalue()

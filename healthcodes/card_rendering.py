"""The printed health card 纸质健康卡 (docs/design.md §6): a static code on an ID-1 (CR80) card,
85.6 × 54 mm, drawn at 300 dpi as PNG, and the same image as a one-page PDF of exactly that size.

For residents without a phone (most of them elders): the desk prints it on a card printer or on
paper to cut out. The QR is at ECC Q (scratches and folds, healthcodes/rendering.py) with its
full quiet zone, modules of a whole number of pixels (no resampling blur); beside it the name in
print, the ID number masked, the expiry, and the reminder that dispensing on a printed code needs
an ID check. Pure functions with Pillow, no Django: the caller gives the font (a CJK font is a
deployment matter, docs/deploy.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from healthcodes.rendering import PRINT_DPI, QUIET_ZONE, qr_version, render_png

CARD_MM: Final = (85.6, 54.0)  # ISO/IEC 7810 ID-1, the size of a bank or ID card (CR80)
# (1011, 638): 85.6 / 25.4 × 300 = 1011.0, 54 / 25.4 × 300 = 637.8
CARD_PX: Final[tuple[int, int]] = (
    round(CARD_MM[0] / 25.4 * PRINT_DPI),
    round(CARD_MM[1] / 25.4 * PRINT_DPI),
)
MARGIN_PX: Final = 36  # 3 mm: what card printers leave unprinted at the edge
MAX_MODULE_PX: Final = 10

# Where Debian, Ubuntu and Alpine put a Simplified-Chinese sans font (fonts-noto-cjk,
# fonts-wqy-zenhei). A collection (.ttc) is searched for its Simplified Chinese face.
DEFAULT_FONT_PATHS: Final = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",
)


class CardFontMissingError(RuntimeError):
    """No font that can write Chinese was found: install fonts-noto-cjk or name one in
    HEALTHCODE_CARD_FONT."""


@dataclass(frozen=True)
class CardText:
    """What the card says besides its code."""

    title: str  # e.g. 乌海市居民健康卡
    name: str  # printed in full: the card is checked against the person
    id_line: str  # the ID number, masked (1503**********123X)
    expiry_line: str  # 有效期至 2027-06-01
    notice_lines: Sequence[str] = ()  # e.g. 取药须核验身份证件


def find_font(candidates: Iterable[str]) -> str:
    """The first existing font file of `candidates`; CardFontMissingError if none."""
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise CardFontMissingError(
        "no CJK font for the printed card: install fonts-noto-cjk or set HEALTHCODE_CARD_FONT"
    )


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """The Simplified Chinese face of a collection (its SC member), else its first face."""
    first = ImageFont.truetype(path, size, index=0)
    if not path.lower().endswith(".ttc"):
        return first
    for index in range(1, 16):
        try:
            face = ImageFont.truetype(path, size, index=index)
        except OSError:
            break
        family = face.getname()[0] or ""
        if family.endswith(" SC") and "Mono" not in family:
            return face
    return first


def _module_px(code: str) -> int:
    """Whole pixels per module so the symbol with its quiet zone fits the card's height."""
    modules = 17 + 4 * qr_version(code, print_quality=True) + 2 * QUIET_ZONE
    return max(1, min(MAX_MODULE_PX, (CARD_PX[1] - 2 * MARGIN_PX) // modules))


def _fit(draw: ImageDraw.ImageDraw, text: str, path: str, size: int, width: int):
    """The largest font ≤ `size` in which `text` fits `width` pixels."""
    while size > 12:
        font = _font(path, size)
        if draw.textlength(text, font=font) <= width:
            return font
        size -= 2
    return _font(path, size)


def render_card_png(code: str, text: CardText, *, font_path: str) -> bytes:
    """The card as PNG, 1011 × 638 px, tagged 300 dpi: QR on the right, text on the left."""
    module = _module_px(code)
    symbol = Image.open(io.BytesIO(render_png(code, print_quality=True, scale=module)))
    card = Image.new("L", CARD_PX, 255)
    qr_x = CARD_PX[0] - MARGIN_PX - symbol.width
    qr_y = (CARD_PX[1] - symbol.height) // 2
    card.paste(symbol.convert("L"), (qr_x, qr_y))
    draw = ImageDraw.Draw(card)
    left, width = MARGIN_PX, qr_x - MARGIN_PX - 12
    y = MARGIN_PX + 8
    for line, size, gap in (
        (text.title, 40, 34),
        (text.name, 72, 24),
        (text.id_line, 34, 14),
        (text.expiry_line, 30, 30),
    ):
        font = _fit(draw, line, font_path, size, width)
        draw.text((left, y), line, font=font, fill=0)
        y += font.size + gap
    for line in text.notice_lines:
        font = _fit(draw, line, font_path, 26, width)
        draw.text((left, y), line, font=font, fill=0)
        y += font.size + 10
    out = io.BytesIO()
    card.save(out, format="PNG", dpi=(PRINT_DPI, PRINT_DPI), optimize=True)
    return out.getvalue()


def card_pdf(png: bytes) -> bytes:
    """The card image as a one-page PDF whose page is the card (85.6 × 54 mm at 300 dpi), for
    printing from any PDF viewer at 100 %. Black and white, losslessly compressed (CCITT G4):
    a JPEG copy would blur the modules."""
    image = Image.open(io.BytesIO(png)).convert("1", dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PDF", resolution=float(PRINT_DPI))
    return out.getvalue()

"""The printed card 纸质健康卡 (docs/design.md §6), issued at the desk: a static code (ECC Q,
HEALTHCODE_STATIC_LIFETIME_DAYS) drawn on a CR80 card by healthcodes.card_rendering, the name
printed and the ID number masked. Issuing it is audited (healthcode_issue_static)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from healthcodes.card_rendering import (
    DEFAULT_FONT_PATHS,
    CardText,
    card_pdf,
    find_font,
    render_card_png,
)
from healthcodes.conf import setting
from healthcodes.services.cards import (
    IssuedCode,
    healthcard_issue,
    healthcode_issue_static,
    healthcode_static_role_require,
)
from healthnet.errors import InvalidInput
from healthnet.models import Resident, User
from healthnet.national_id import resident_national_id_masked

CARD_FORMATS = {"png": "image/png", "pdf": "application/pdf"}


@dataclass(frozen=True)
class PrintedCard:
    content: bytes
    content_type: str
    filename: str
    issued: IssuedCode


def card_font_path() -> str:
    """HEALTHCODE_CARD_FONT if set, else the first CJK font found where Linux distributions put
    them; CardFontMissingError (a deployment error) if none."""
    configured = str(setting("HEALTHCODE_CARD_FONT") or "")
    return find_font([configured] if configured else DEFAULT_FONT_PATHS)


def healthcard_print(
    *, actor: User, resident: Resident, file_format: str = "png", now: dt.datetime | None = None
) -> PrintedCard:
    """A new static code of the resident's current card, drawn on a printable card (PNG at
    300 dpi, or the same as a one-page PDF). Desk staff of an institution the resident concerns;
    a role that may print none: 403 before any lookup; out of scope: the 404 of no resident."""
    healthcode_static_role_require(actor)
    if file_format not in CARD_FORMATS:
        raise InvalidInput(
            "format_unknown", "格式须为 png 或 pdf (format must be png or pdf)", field="format"
        )
    now = now or timezone.now()
    card = healthcard_issue(actor=actor, resident=resident, now=now)
    issued = healthcode_issue_static(actor=actor, card=card, now=now)
    expires_on = timezone.localdate(issued.expires_at)
    text = CardText(
        title=str(setting("HEALTHCODE_CARD_TITLE")),
        name=resident.name,
        id_line=resident_national_id_masked(resident),
        expiry_line=f"有效期至 {expires_on:%Y-%m-%d}",
        notice_lines=("取药时须出示身份证件", "丢失请到社区卫生服务中心挂失"),
    )
    png = render_card_png(issued.text, text, font_path=card_font_path())
    content = png if file_format == "png" else card_pdf(png)
    return PrintedCard(
        content=content,
        content_type=CARD_FORMATS[file_format],
        filename=f"healthcard-{now:%Y%m%d}.{file_format}",
        issued=issued,
    )

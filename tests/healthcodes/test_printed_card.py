"""The printed card 纸质健康卡: a static code on a CR80 card (85.6 × 54 mm) at 300 dpi, ECC Q,
that decodes from the image and verifies offline as a static code; issued at a desk, audited."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import time_machine
import zxingcpp
from PIL import Image

from healthcodes import codec, keys
from healthcodes.card_rendering import CardFontMissingError, find_font
from healthcodes.models import HealthCard
from healthcodes.verifier import verify
from healthnet.models import AuditEvent, UserRole
from healthnet.national_id import decrypt_national_id
from tests.factories import InstitutionFactory, ResidentFactory, UserFactory

T0 = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_key_caches():
    keys.invalidate_key_caches()
    yield
    keys.invalidate_key_caches()


@pytest.fixture
def elder(institution):
    return ResidentFactory(registered_by=institution, name="张桂兰")


def printed_url(resident, fmt="png"):
    return f"/api/v1/healthcodes/cards/{resident.public_id}/printed?format={fmt}"


def test_the_png_card_is_cr80_at_300_dpi_and_its_code_verifies_as_static(clerk_api, elder):
    with time_machine.travel(T0, tick=False):
        response = clerk_api.post(printed_url(elder))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "no-store"
    image = Image.open(io.BytesIO(response.content))
    # 85.6 × 54 mm at 300 dpi, by hand: 85.6 / 25.4 × 300 = 1011.0, 54 / 25.4 × 300 = 637.8
    assert image.size == (1011, 638)
    assert tuple(round(d) for d in image.info["dpi"]) == (300, 300)

    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.ec_level == "Q"
    result = verify(barcode.text, keys=codec.load_key_set(keys.key_set_document(now=T0)), now=T0)
    assert result.ok, result.reason
    assert result.claims.code_type is codec.CodeType.STATIC
    assert result.claims.sub == HealthCard.objects.get(resident=elder).sub
    assert result.claims.exp - result.claims.iat == 365 * 86_400
    audit = AuditEvent.objects.get(action="healthcode_issue_static")
    assert audit.actor.username == "clerk"


def test_the_pdf_page_is_the_card(clerk_api, elder):
    response = clerk_api.post(printed_url(elder, "pdf"))

    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    # 1011 × 638 px at 300 dpi in points (1/72 in): 1011 × 72 / 300 = 242.64, 638 × 72 / 300
    # = 153.12, i.e. 85.6 × 54 mm.
    box = re.search(rb"/MediaBox \[ ?0 0 ([\d.]+) ([\d.]+) ?\]", pdf)
    assert (round(float(box.group(1)), 1), round(float(box.group(2)), 1)) == (242.6, 153.1)
    assert b"/CCITTFaxDecode" in pdf  # black and white, lossless: no JPEG blur on the modules


def test_the_card_holds_no_full_id_number_anywhere(clerk_api, elder):
    full = decrypt_national_id(elder.national_id_encrypted)
    for fmt in ("png", "pdf"):
        content = clerk_api.post(printed_url(elder, fmt)).content
        assert full.encode() not in content
    [barcode] = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(clerk_api.post(printed_url(elder)).content))
    )
    assert full not in barcode.text
    assert full[-6:] not in barcode.text


def test_a_new_card_after_revocation_makes_the_printed_one_fail(clerk_api, elder, institution):
    with time_machine.travel(T0, tick=False):
        png = clerk_api.post(printed_url(elder)).content
        clerk_api.post(
            f"/api/v1/healthcodes/cards/{elder.public_id}/revoke", {"reason": "纸质卡丢失"}
        )
        [barcode] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        scanned = clerk_api.post(
            "/api/v1/healthcodes/scan",
            {"code": barcode.text, "purpose": "registration", "id_checked": True},
        )
    assert scanned.status_code == 422
    assert scanned.json()["code"] == "revoked"


def test_only_the_desk_of_a_related_institution_prints(elder, make_api_client, institution):
    pharmacist = make_api_client(UserFactory(role=UserRole.PHARMACIST, institution=institution))
    assert pharmacist.post(printed_url(elder)).status_code == 403

    elsewhere = make_api_client(UserFactory(role=UserRole.CLERK, institution=InstitutionFactory()))
    refused = elsewhere.post(printed_url(elder))
    assert refused.status_code == 404
    assert refused.json()["code"] == "resident_not_found"

    resident = make_api_client(
        UserFactory(role=UserRole.RESIDENT, institution=None, resident=elder)
    )
    assert resident.post(printed_url(elder)).status_code == 403  # made at a desk, not at home
    assert not AuditEvent.objects.filter(action="healthcode_issue_static").exists()


def test_an_unknown_format_is_refused(clerk_api, elder):
    response = clerk_api.post(printed_url(elder, "gif"))

    assert response.status_code == 422
    assert not AuditEvent.objects.filter(action="healthcode_issue_static").exists()


def test_a_missing_font_is_said_plainly(tmp_path):
    with pytest.raises(CardFontMissingError):
        find_font([str(tmp_path / "none.ttc"), ""])
    font = tmp_path / "x.ttf"
    font.write_bytes(b"")
    assert find_font([str(tmp_path / "none.ttc"), str(font)]) == str(font)

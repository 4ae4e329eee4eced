"""QR rendering: a code goes issue → PNG → a real QR decoder (zxing-cpp) → verify, at version ≤ 10
with ECC M on screen and Q in print, as the decoder itself reports. Plain pytest, no database."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from healthcodes.codec import STATIC_MAX_LIFETIME, issue_code, load_key_set, public_jwk
from healthcodes.rendering import qr_version, render_png, render_svg
from healthcodes.verifier import verify

ISS = "WH"
KID = "w26a"
NOW = 1_790_000_000
DAY = 86_400


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def keys(signing_key):
    jwk = public_jwk(signing_key.public_key(), KID, ISS, NOW - DAY, NOW + DAY, "active")
    return load_key_set({"keys": [jwk]})


def _code(signing_key, code_type: str, sub: str = "q3Jx8vT2mK9pL4wZ") -> str:
    lifetime = 60 if code_type == "dynamic" else STATIC_MAX_LIFETIME
    return issue_code(
        private_key=signing_key,
        kid=KID,
        iss=ISS,
        sub=sub,
        code_type=code_type,
        issued_at=NOW,
        lifetime_seconds=lifetime,
    )


def _longest_code(signing_key) -> str:
    """The largest code issue_code still accepts (it refuses what would not fit version 10-Q)."""
    longest = ""
    for length in range(1, 33):
        try:
            longest = _code(signing_key, "static", sub="S" * length)
        except ValueError:
            break
    return longest


def _decode(png: bytes) -> zxingcpp.Barcode:
    image = Image.open(io.BytesIO(png))
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize(
    ("code_type", "print_quality", "ecc"),
    [("dynamic", False, "M"), ("static", True, "Q"), ("static", False, "M")],
)
def test_code_survives_png_and_a_real_decoder(signing_key, keys, code_type, print_quality, ecc):
    code = _code(signing_key, code_type)

    barcode = _decode(render_png(code, print_quality=print_quality))

    assert barcode.text == code
    assert barcode.ec_level == ecc
    assert int(barcode.extra["Version"]) == qr_version(code, print_quality) <= 10
    assert verify(barcode.text, keys=keys, now=NOW + 5).ok


@pytest.mark.parametrize(("print_quality", "ecc"), [(False, "M"), (True, "Q")])
def test_the_largest_code_still_fits_version_10(signing_key, keys, print_quality, ecc):
    code = _longest_code(signing_key)

    barcode = _decode(render_png(code, print_quality=print_quality, scale=4))

    assert barcode.text == code
    assert barcode.ec_level == ecc
    assert int(barcode.extra["Version"]) <= 10
    assert verify(barcode.text, keys=keys, now=NOW).ok


def test_symbol_is_alphanumeric_mode():
    # version 2-M holds 38 alphanumeric characters but only 26 bytes in byte mode
    assert qr_version("HN1:" + "A" * 34) == 2
    assert qr_version("HN1:" + "A" * 35) == 3


def test_print_png_records_300_dpi_and_scale():
    png = render_png("HN1:ABC", print_quality=True, scale=10)

    image = Image.open(io.BytesIO(png))
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert image.size == ((21 + 2 * 4) * 10,) * 2  # version 1 + 4-module quiet zone


def test_svg_is_sized_in_modules_with_a_quiet_zone(signing_key):
    code = _code(signing_key, "static")

    for print_quality in (False, True):
        svg = render_svg(code, print_quality=print_quality)
        side = 17 + 4 * qr_version(code, print_quality) + 2 * 4
        assert svg.startswith("<svg")
        assert f'viewBox="0 0 {side} {side}"' in svg
        assert re.search(r"<path[^>]+d=\"M", svg)
    assert render_svg(code) != render_svg(code, print_quality=True)


@pytest.mark.parametrize(
    ("text", "print_quality"),
    [
        ("HN1:" + "A" * 218, True),  # 222 characters: version 11 at ECC Q
        ("HN1:" + "A" * 308, False),  # 312 characters: version 11 at ECC M
        ("hn1:abc", False),  # lower case has no alphanumeric encoding
    ],
)
def test_refuses_what_cannot_be_an_alphanumeric_version_10_symbol(text, print_quality):
    with pytest.raises(ValueError):  # noqa: PT011 - segno's and ours
        render_png(text, print_quality=print_quality)
    with pytest.raises(ValueError):  # noqa: PT011
        render_svg(text, print_quality=print_quality)
    with pytest.raises(ValueError):  # noqa: PT011
        qr_version(text, print_quality)


def test_largest_text_fits_exactly():
    assert qr_version("HN1:" + "A" * 217, print_quality=True) == 10
    assert qr_version("HN1:" + "A" * 307) == 10


def test_scale_must_be_positive():
    with pytest.raises(ValueError, match="scale"):
        render_png("HN1:ABC", scale=0)

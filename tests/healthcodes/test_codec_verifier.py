"""Health codes: issue → verify, and every refusal of docs/design.md §6 with its exact reason.

Plain pytest, no database. Hostile codes are built by hand with cbor2, base45 and cryptography
(independent of the code under test) and, unless the defect under test is the signature itself,
carry a real ES256 signature by the published key: each is wrong in exactly one way.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import random
import secrets
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from healthcodes import verify as verify_cli
from healthcodes.codec import (
    CLAIM_LABELS,
    MAX_TEXT_LENGTH,
    PREFIX,
    STATIC_MAX_LIFETIME,
    CodeType,
    KeySetError,
    KeyStatus,
    b45decode_strict,
    issue_code,
    key_set_document,
    load_key_set,
    public_jwk,
    sig_structure,
)
from healthcodes.verifier import (
    MalformedCborError,
    Reason,
    VerifyPolicy,
    decode_flat_map,
    der_signature,
    parse_cose_sign1,
    verify,
)

ISS = "WH"
KID = "w26a"
SUB = "q3Jx8vT2mK9pL4wZ"
NOW = 1_790_000_000  # 2026-09-21T14:13:20Z
DAY = 86_400
CTI = bytes(range(16))
PROJECT_ROOT = Path(__file__).resolve().parents[2]


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _jwk(key: ec.EllipticCurvePrivateKey, **overrides: Any) -> dict[str, str]:
    fields: dict[str, Any] = {
        "kid": KID,
        "iss": ISS,
        "not_before": NOW - 30 * DAY,
        "not_after": NOW + 365 * DAY,
        "status": "active",
    }
    fields.update(overrides)
    return public_jwk(key.public_key(), **fields)


@pytest.fixture(scope="module")
def keys(signing_key):
    return load_key_set({"keys": [_jwk(signing_key)]})


def _issue(key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "private_key": key,
        "kid": KID,
        "iss": ISS,
        "sub": SUB,
        "code_type": "dynamic",
        "issued_at": NOW,
        "lifetime_seconds": 60,
    }
    arguments.update(overrides)
    return issue_code(**arguments)


LABELS = {"iss": 1, "sub": 2, "exp": 4, "iat": 6, "cti": 7, "code_type": -70001}


def _claims(changes: dict[str | int, Any] | None = None, **named: Any) -> dict[int, Any]:
    """Wire claims of a valid dynamic code, changed by claim name or label; None removes one."""
    claims: dict[int, Any] = {1: ISS, 2: SUB, 4: NOW + 60, 6: NOW, 7: CTI, -70001: 1}
    for name, value in {**named, **(changes or {})}.items():
        label = LABELS[name] if isinstance(name, str) else name
        if value is None:
            del claims[label]
        else:
            claims[label] = value
    return claims


def _raw_signature(key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _text(cose: bytes) -> str:
    return PREFIX + base45.b45encode(cose).decode("ascii")


def _forge(
    key: ec.EllipticCurvePrivateKey,
    *,
    protected: dict | bytes | None = None,
    unprotected: Any = None,
    payload: dict | bytes | None = None,
    signature: bytes | None = None,
    tag: int = 18,
) -> str:
    """A code assembled by hand; what is not given is what a valid code has."""
    if protected is None:
        protected = {1: -7, 4: KID.encode()}
    if isinstance(protected, dict):
        protected = cbor2.dumps(protected)
    if payload is None:
        payload = _claims()
    if isinstance(payload, dict):
        payload = cbor2.dumps(payload)
    if signature is None:
        signature = _raw_signature(key, cbor2.dumps(["Signature1", protected, b"", payload]))
    body = [protected, {} if unprotected is None else unprotected, payload, signature]
    return _text(cbor2.dumps(cbor2.CBORTag(tag, body)))


def _reason(text: str, keys, now: float = NOW + 10, **options: Any) -> Reason | None:
    return verify(text, keys=keys, now=now, **options).reason


def _cose_parts(text: str) -> tuple[bytes, bytes, bytes, bytes]:
    """The exact bytes, and the protected, payload and signature, decoded with cbor2."""
    cose = base45.b45decode(text[len(PREFIX) :])
    decoded = cbor2.loads(cose)
    protected, _, payload, signature = decoded.value
    return cose, protected, payload, signature


# --- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize(("code_type", "lifetime"), [("dynamic", 60), ("static", 2 * 365 * DAY)])
def test_issued_code_verifies_with_its_claims(signing_key, keys, code_type, lifetime):
    code = _issue(signing_key, code_type=code_type, lifetime_seconds=lifetime, cti=CTI)

    result = verify(code, keys=keys, now=NOW + 5)

    assert result.ok, result
    assert result.reason is None
    claims = result.claims
    assert (claims.iss, claims.sub, claims.kid) == (ISS, SUB, KID)
    assert (claims.iat, claims.exp) == (NOW, NOW + lifetime)
    assert claims.cti == CTI
    assert claims.code_type is CodeType(code_type)


def test_issue_accepts_an_aware_datetime_and_random_cti(signing_key, keys):
    moment = datetime.fromtimestamp(NOW, tz=timezone(timedelta(hours=8)))
    first = verify(_issue(signing_key, issued_at=moment), keys=keys, now=moment).claims
    second = verify(_issue(signing_key, issued_at=moment), keys=keys, now=moment).claims

    assert first.iat == NOW
    assert len(first.cti) == 16
    assert first.cti != second.cti


def test_code_carries_only_pseudonymous_claims(signing_key):
    resident = {"name": "张三", "id_number": "150302199001011234", "phone": "13800138000"}
    sub = secrets.token_urlsafe(12)
    code = _issue(signing_key, sub=sub, code_type="static", lifetime_seconds=365 * DAY)

    cose, protected, payload, _ = _cose_parts(code)

    assert cbor2.loads(cose).tag == 18
    assert cbor2.loads(protected) == {1: -7, 4: KID.encode()}
    claims = cbor2.loads(payload)
    assert set(claims) == {1, 2, 4, 6, 7, -70001} == CLAIM_LABELS
    assert claims[1] == ISS
    assert claims[2] == sub
    assert claims[-70001] == 2
    assert isinstance(claims[7], bytes)
    assert len(claims[7]) == 16
    text_values = {value for value in claims.values() if isinstance(value, str)}
    assert text_values == {ISS, sub}
    for value in (*resident.values(), "1990-01-01", "19900101"):
        assert value.encode() not in cose


@pytest.mark.parametrize(
    "bad",
    [
        {"issued_at": datetime(2026, 9, 21, 8, 0)},  # naive
        {"lifetime_seconds": 61},  # a dynamic code lives 60 s at most
        {"lifetime_seconds": 0},
        {"code_type": "static", "lifetime_seconds": STATIC_MAX_LIFETIME + 1},
        {"code_type": "paper"},
        {"cti": b"short"},
        {"sub": ""},
        {"sub": "张三"},  # ids are ASCII: no names slip in
        {"sub": "a" * 33},
        {"kid": "k" * 17},
        {"iss": "x y\n"},
        {"issued_at": -1},
        # within each cap, but together too big for a version 10 QR at ECC Q
        {"iss": "I" * 16, "kid": "K" * 16, "sub": "S" * 32},
    ],
)
def test_issue_refuses_bad_arguments(signing_key, bad):
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        _issue(signing_key, **bad)


def test_issue_refuses_a_key_that_is_not_p256():
    with pytest.raises(TypeError):
        _issue(ec.generate_private_key(ec.SECP384R1()))


def test_issue_refuses_a_code_too_big_for_a_printed_card(signing_key):
    static = {"code_type": "static", "lifetime_seconds": STATIC_MAX_LIFETIME}

    largest = _issue(signing_key, sub="S" * 20, **static)  # kid 4 + iss 2 + sub 20 = 26 bytes
    assert len(largest) == 220 <= MAX_TEXT_LENGTH == 221  # version 10 at ECC Q, alphanumeric
    with pytest.raises(ValueError, match="version 10"):
        _issue(signing_key, sub="S" * 21, **static)


# --- building blocks against independent implementations --------------------------------------


@pytest.mark.parametrize(
    ("protected_length", "payload_length"),
    [(0, 0), (12, 23), (23, 24), (24, 255), (255, 256), (3, 70_000)],
)
def test_sig_structure_is_the_rfc_9052_encoding(protected_length, payload_length):
    protected, payload = b"p" * protected_length, b"q" * payload_length

    assert sig_structure(protected, payload) == cbor2.dumps(["Signature1", protected, b"", payload])


def _signature_cases() -> list[bytes]:
    rng = random.Random(9052)
    cases = [bytes(rng.getrandbits(8) for _ in range(64)) for _ in range(200)]
    cases += [
        b"\x00" * 64,
        b"\x80" * 64,
        b"\x00" * 31 + b"\x7f" + b"\x00" * 31 + b"\xff",
        b"\x00\x80" + b"\x11" * 30 + b"\x00\x00\x01" + b"\x22" * 29,
        b"\xff" * 32 + b"\x00" * 32,
    ]
    return cases


def test_der_signature_matches_cryptography():
    for raw in _signature_cases():
        expected = encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        )
        assert der_signature(raw) == expected, raw.hex()


def test_strict_base45_agrees_with_the_base45_package_on_valid_text():
    rng = random.Random(9285)
    for length in range(300):
        data = bytes(rng.getrandbits(8) for _ in range(length))
        assert b45decode_strict(base45.b45encode(data).decode()) == data
    assert b45decode_strict("FGW") == b"\xff\xff"  # the largest triplet
    assert b45decode_strict("U5") == b"\xff"  # the largest pair


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "alphabet"),  # lower case is not in the alphabet
        ("AB\n", "alphabet"),  # the base45 package strips this newline; we do not
        ("A\tB", "alphabet"),
        ("AÄB", "non-ASCII"),
        ("AB!", "alphabet"),
        ("A", "single character"),  # length % 3 == 1
        ("ABCD", "single character"),
        (":::", "above 0xFFFF"),  # 91124
        ("GGW", "above 0xFFFF"),  # 65536, one above the largest triplet
        ("::", "above 0xFF"),  # 2024
        ("V5", "above 0xFF"),  # 256, one above the largest pair
    ],
)
def test_strict_base45_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        b45decode_strict(text)


# --- envelope: length, prefix, Base45, CBOR ------------------------------------------------------


def test_a_3kb_string_is_refused_as_too_long_before_anything_else(keys):
    assert _reason("X" * 3000, keys) is Reason.TOO_LONG  # no prefix, not Base45 either
    assert _reason(PREFIX + "A" * 3000, keys) is Reason.TOO_LONG
    assert _reason(PREFIX + "A" * 30_000_000, keys) is Reason.TOO_LONG


@pytest.mark.parametrize("text", ["", "HC1:NCFOXN", "hn1:ABC", "HN1", " HN1:ABC", "HN2:ABC"])
def test_bad_prefix(keys, text):
    assert _reason(text, keys) is Reason.BAD_PREFIX


@pytest.mark.parametrize("body", ["abc", "AB\n", "AÄB", "ABCD", ":::", "GGW", "V5"])
def test_bad_base45(keys, body):
    assert _reason(PREFIX + body, keys) is Reason.BAD_BASE45


def test_trailing_newline_after_a_valid_code_is_bad_base45(signing_key, keys):
    assert _reason(_issue(signing_key) + "\n", keys) is Reason.BAD_BASE45


def test_forge_helper_builds_a_valid_code(signing_key, keys):
    assert verify(_forge(signing_key), keys=keys, now=NOW + 10).ok


def _sign1_bytes(*items: bytes, head: bytes = b"\xd2\x84") -> bytes:
    return head + b"".join(items)


_PROTECTED = cbor2.dumps(cbor2.dumps({1: -7, 4: KID.encode()}))
_PAYLOAD = cbor2.dumps(cbor2.dumps(_claims()))
_SIGNATURE = cbor2.dumps(b"\x01" * 64)


@pytest.mark.parametrize(
    "cose",
    [
        pytest.param(b"\x84" + _PROTECTED + b"\xa0" + _PAYLOAD + _SIGNATURE, id="untagged"),
        pytest.param(
            _sign1_bytes(_PROTECTED, b"\xa0", _PAYLOAD, _SIGNATURE, head=b"\xd8\x12\x84"),
            id="tag-18-in-long-form",
        ),
        pytest.param(_sign1_bytes(_PROTECTED, b"\xa0", _PAYLOAD, head=b"\xd2\x83"), id="3-items"),
        pytest.param(
            _sign1_bytes(_PROTECTED, b"\xa0", _PAYLOAD, _SIGNATURE, b"\x00", head=b"\xd2\x85"),
            id="5-items",
        ),
        pytest.param(
            _sign1_bytes(_PROTECTED, b"\xa0", _PAYLOAD, _SIGNATURE, b"\x00"), id="trailing-byte"
        ),
        pytest.param(_sign1_bytes(_PROTECTED, b"\xa0", b"\xf6", _SIGNATURE), id="detached-payload"),
        pytest.param(
            _sign1_bytes(_PROTECTED, b"\x80", _PAYLOAD, _SIGNATURE), id="unprotected-is-an-array"
        ),
        pytest.param(
            _sign1_bytes(b"\xa0", b"\xa0", _PAYLOAD, _SIGNATURE), id="protected-not-wrapped"
        ),
        pytest.param(
            _sign1_bytes(_PROTECTED, b"\xa0", _PAYLOAD, cbor2.dumps("sig")), id="signature-is-text"
        ),
        pytest.param(
            _sign1_bytes(b"\x5f\x41\x00\xff", b"\xa0", _PAYLOAD, _SIGNATURE),
            id="indefinite-byte-string",
        ),
        pytest.param(
            b"\xd2\x9f" + _PROTECTED + b"\xa0" + _PAYLOAD + _SIGNATURE + b"\xff",
            id="indefinite-array",
        ),
        pytest.param(b"\xd2", id="truncated"),
    ],
)
def test_bad_envelope_is_bad_cbor(keys, cose):
    assert _reason(_text(cose), keys) is Reason.BAD_CBOR


def test_cose_mac0_with_hs256_keyed_by_the_public_key_is_refused(signing_key, keys):
    """The classic alg confusion: MAC the token with the *public* key as the HMAC secret."""
    public = signing_key.public_key()
    secrets_to_try = [
        public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        ),
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(_jwk(signing_key)).encode(),
    ]
    protected = cbor2.dumps({1: 5, 4: KID.encode()})  # 5 = HMAC 256/256
    payload = cbor2.dumps(_claims())
    for secret in secrets_to_try:
        mac = hmac.new(secret, cbor2.dumps(["MAC0", protected, b"", payload]), hashlib.sha256)
        body = [protected, {}, payload, mac.digest()]
        as_mac0 = _text(cbor2.dumps(cbor2.CBORTag(17, body)))
        as_sign1 = _text(cbor2.dumps(cbor2.CBORTag(18, body)))

        assert _reason(as_mac0, keys) is Reason.BAD_CBOR  # not a COSE_Sign1 at all
        assert _reason(as_sign1, keys) is Reason.BAD_ALG


@pytest.mark.parametrize(
    ("protected", "unprotected"),
    [
        pytest.param({1: 5, 4: KID.encode()}, None, id="hs256"),
        pytest.param({1: "none", 4: KID.encode()}, None, id="alg-none"),
        pytest.param({1: "ES256", 4: KID.encode()}, None, id="alg-as-text"),
        pytest.param({1: -35, 4: KID.encode()}, None, id="es384"),
        pytest.param({1: -8, 4: KID.encode()}, None, id="eddsa"),
        pytest.param({4: KID.encode()}, None, id="alg-missing"),
        pytest.param({4: KID.encode()}, {1: -7}, id="alg-only-unprotected"),
        pytest.param({1: -7, 4: KID.encode()}, {1: 5}, id="second-alg-unprotected"),
        pytest.param(b"", {4: KID.encode()}, id="empty-protected"),
        pytest.param({1: -7, 4: KID.encode(), 3: 0}, None, id="unsupported-parameter"),
    ],
)
def test_bad_alg(signing_key, keys, protected, unprotected):
    code = _forge(signing_key, protected=protected, unprotected=unprotected)

    assert _reason(code, keys) is Reason.BAD_ALG


@pytest.mark.parametrize(
    ("protected", "unprotected"),
    [
        pytest.param({1: -7}, None, id="no-kid"),
        pytest.param({1: -7}, {4: KID.encode()}, id="kid-only-unprotected"),
        pytest.param({1: -7, 4: KID}, None, id="kid-as-text"),
        pytest.param({1: -7, 4: b""}, None, id="empty-kid"),
    ],
)
def test_missing_kid(signing_key, keys, protected, unprotected):
    code = _forge(signing_key, protected=protected, unprotected=unprotected)

    assert _reason(code, keys) is Reason.MISSING_KID


def test_unprotected_kid_is_ignored_next_to_the_protected_one(signing_key, keys):
    code = _forge(signing_key, unprotected={4: b"someone-else"})

    assert verify(code, keys=keys, now=NOW + 10).claims.kid == KID


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(cbor2.dumps([ISS, SUB]), id="array-not-map"),
        pytest.param(cbor2.dumps(_claims())[:-1], id="truncated"),
        pytest.param(cbor2.dumps(_claims()) + b"\x00", id="trailing-byte"),
        pytest.param(b"\xa7" + cbor2.dumps(_claims())[1:] + b"\x01\x62XX", id="duplicate-iss"),
        pytest.param(cbor2.dumps(_claims(exp=cbor2.CBORTag(1, NOW + 60))), id="tagged-exp"),
        pytest.param(cbor2.dumps(_claims(sub=cbor2.CBORTag(35, "(a+)+$"))), id="regex-tag"),
        pytest.param(cbor2.dumps(_claims(iat=float(NOW))), id="float-iat"),
        pytest.param(cbor2.dumps(_claims(sub=[SUB])), id="nested-array"),
        pytest.param(cbor2.dumps(_claims(sub={1: SUB})), id="nested-map"),
        pytest.param(cbor2.dumps({**_claims(), "name": "张三"}), id="text-key"),
        pytest.param(cbor2.dumps(_claims(sub=True)), id="boolean"),
        pytest.param(cbor2.dumps(_claims(sub=cbor2.undefined)), id="undefined"),
        pytest.param(b"\xa1\x01\x62\xff\xfe", id="invalid-utf8"),
    ],
)
def test_bad_payload_cbor(signing_key, keys, payload):
    assert _reason(_forge(signing_key, payload=payload), keys) is Reason.BAD_CBOR


def _random_flat_map(rng: random.Random) -> dict[int, int | bytes | str]:
    def scalar() -> int | bytes | str:
        kind = rng.randrange(3)
        length = rng.choice([0, 1, 23, 24, 255, 256, 1000])
        if kind == 0:
            return rng.choice([0, 23, 24, 255, 256, 2**32, 2**64 - 1, -1, -25, -(2**64)])
        if kind == 1:
            return bytes(rng.getrandbits(8) for _ in range(length))
        return "".join(rng.choice("aZ9 健康码") for _ in range(length))

    keys = rng.sample([0, 1, 23, 24, 255, 65_536, -1, -70_001, 2**40], rng.randrange(10))
    return {key: scalar() for key in keys}


def test_flat_map_reader_agrees_with_cbor2_on_the_profile():
    rng = random.Random(8949)
    for _ in range(300):
        expected = _random_flat_map(rng)
        assert decode_flat_map(cbor2.dumps(expected)) == expected
    sixteen = {label: label for label in range(16)}
    assert decode_flat_map(cbor2.dumps(sixteen)) == sixteen


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xa1\x02\x80", id="array-value"),
        pytest.param(b"\xa1\x02\xa0", id="map-value"),
        pytest.param(b"\xa1\x02\xc1\x00", id="tag-value"),
        pytest.param(b"\xa1\x02\xf4", id="false"),
        pytest.param(b"\xa1\x02\xf6", id="null"),
        pytest.param(b"\xa1\x02\xf9\x00\x00", id="half-float"),
        pytest.param(b"\xa1\x02\xfb" + bytes(8), id="double"),
        pytest.param(b"\xa1\x41\x00\x00", id="bytes-key"),
        pytest.param(b"\xa1\x61a\x00", id="text-key"),
        pytest.param(b"\xa1\x02\x7f\x61a\xff", id="indefinite-text"),
        pytest.param(b"\xbf\x02\x00\xff", id="indefinite-map"),
        pytest.param(b"\xb8\x01\x02\x00", id="count-in-long-form"),
        pytest.param(cbor2.dumps(dict.fromkeys(range(17), 0)), id="17-entries"),
        pytest.param(b"\xa2\x02\x00\x02\x01", id="duplicate-key"),
        pytest.param(b"\xa1\x02\x00\x00", id="trailing"),
        pytest.param(b"\xa2\x02\x00", id="truncated"),
        pytest.param(b"\xa1\x02\x1a\x00\x00", id="truncated-argument"),
        pytest.param(b"\xa1\x02\x62a", id="truncated-text"),
        pytest.param(b"\xa1\x02\x62\xc3\x28", id="invalid-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\x80", id="not-a-map"),
    ],
)
def test_flat_map_reader_refuses_everything_else(data):
    with pytest.raises(MalformedCborError):
        decode_flat_map(data)


@pytest.mark.parametrize(
    ("cose", "message"),
    [
        pytest.param(b"\xd2\x83" + _PROTECTED + b"\xa0" + _PAYLOAD, "array of four", id="3-items"),
        pytest.param(
            b"\xd1\x84" + _PROTECTED + b"\xa0" + _PAYLOAD + _SIGNATURE,
            "array of four",
            id="mac0-tag",
        ),
        pytest.param(_sign1_bytes(b"\x5b" + b"\xff" * 8), "too long", id="bstr-2**64"),
        pytest.param(b"\xa1\x02\x7b\x7f" + b"\xff" * 7, "declared length", id="text-2**63"),
        pytest.param(b"\xa1\x02\x1c", "reserved", id="reserved-info"),
    ],
)
def test_cbor_refusals_say_why(cose, message):
    parse = parse_cose_sign1 if cose.startswith((b"\xd1", b"\xd2")) else decode_flat_map
    with pytest.raises(MalformedCborError, match=message):
        parse(cose)


def _peak_memory(function, *args) -> int:
    tracemalloc.start()
    try:
        function(*args)
    except MalformedCborError:
        pass
    else:
        raise AssertionError("expected MalformedCborError")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


_DEEP = b"\x81" * 10_000 + b"\x00"


@pytest.mark.parametrize(
    ("function", "data"),
    [
        pytest.param(decode_flat_map, _DEEP, id="deep-array-as-payload"),
        pytest.param(decode_flat_map, b"\xa1\x02" + _DEEP, id="deep-array-as-claim"),
        pytest.param(decode_flat_map, b"\xa1" * 10_000, id="deep-maps"),
        pytest.param(decode_flat_map, b"\xa1\x02\xd8\x18" * 5_000, id="deep-tags"),
        pytest.param(parse_cose_sign1, b"\xd2\x84" + _DEEP, id="deep-array-as-protected"),
        pytest.param(parse_cose_sign1, b"\xd2\x84\x5b" + b"\xff" * 8, id="bstr-2**64"),
        pytest.param(parse_cose_sign1, b"\xd2\x84\x40\xba\xff\xff\xff\xff", id="map-2**32"),
        pytest.param(
            parse_cose_sign1, b"\xd2\x84\x40\xa0\x5a\x7f\xff\xff\xff\x00", id="payload-2**31"
        ),
        pytest.param(decode_flat_map, b"\xbb" + b"\xff" * 8, id="map-2**64"),
        pytest.param(decode_flat_map, b"\xa1\x02\x7b" + b"\x7f" + b"\xff" * 7, id="text-2**63"),
        pytest.param(decode_flat_map, b"\xa1\x02\x9b" + b"\xff" * 8, id="array-2**64"),
        pytest.param(decode_flat_map, b"\xa1\x02\x5f" + b"\x41\x00" * 5_000, id="indefinite"),
        pytest.param(decode_flat_map, b"\xa1\x02\x1c", id="reserved-info"),
    ],
)
def test_nested_or_oversized_cbor_fails_at_once_in_bounded_memory(function, data):
    assert _peak_memory(function, data) < 64 * 1024


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\x81" * 100 + b"\x00", id="nested-100-deep"),
        pytest.param(b"\xa1\x02" + b"\x81" * 100 + b"\x00", id="claim-nested-100-deep"),
        pytest.param(b"\xa1\x02\x7b" + b"\x7f" + b"\xff" * 7, id="text-2**63"),
        pytest.param(b"\xbb" + b"\xff" * 8, id="map-2**64"),
    ],
)
def test_nested_or_oversized_cbor_in_a_code_is_bad_cbor(signing_key, keys, payload):
    assert _reason(_forge(signing_key, payload=payload), keys) is Reason.BAD_CBOR


# --- key selection ------------------------------------------------------------------------------


def test_unknown_kid(other_key, keys):
    assert _reason(_issue(other_key, kid="zz99"), keys) is Reason.UNKNOWN_KID


def test_known_kid_of_another_issuer_is_unknown(signing_key, keys):
    assert _reason(_issue(signing_key, iss="XX"), keys) is Reason.UNKNOWN_KID


def test_missing_iss_is_bad_claims(signing_key, keys):
    assert _reason(_forge(signing_key, payload=_claims(iss=None)), keys) is Reason.BAD_CLAIMS


def test_retired_key_is_published_until_its_last_code_expires_then_unknown(signing_key):
    retired_at = NOW - 30 * DAY
    jwk = _jwk(signing_key, not_before=NOW - 400 * DAY, not_after=retired_at, status="retired")
    code = _issue(
        signing_key,
        code_type="static",
        issued_at=retired_at - DAY,
        lifetime_seconds=STATIC_MAX_LIFETIME,
    )
    last_day = retired_at - DAY + STATIC_MAX_LIFETIME

    while_published = load_key_set(key_set_document([jwk], now=last_day))
    after = load_key_set(key_set_document([jwk], now=retired_at + STATIC_MAX_LIFETIME + 1))

    assert verify(code, keys=while_published, now=last_day).ok
    assert len(after) == 0
    assert _reason(code, after, now=retired_at + STATIC_MAX_LIFETIME + 1) is Reason.UNKNOWN_KID


def test_compromised_key_is_refused_even_with_a_good_signature(signing_key):
    compromised = load_key_set({"keys": [_jwk(signing_key, status="compromised")]})

    assert _reason(_issue(signing_key), compromised) is Reason.KEY_COMPROMISED


@pytest.mark.parametrize(
    ("not_before", "not_after", "issued_at", "expected"),
    [
        (NOW, NOW + DAY, NOW - 1, Reason.KEY_NOT_VALID),  # signed before the key's window
        (NOW - DAY, NOW - 100, NOW - 50, Reason.KEY_NOT_VALID),  # signed after it
        (NOW, NOW + DAY, NOW, None),
        (NOW - DAY, NOW, NOW, None),
    ],
)
def test_code_must_be_signed_inside_its_keys_validity(
    signing_key, not_before, not_after, issued_at, expected
):
    keys = load_key_set(
        {"keys": [_jwk(signing_key, not_before=not_before, not_after=not_after, status="retired")]}
    )
    code = _issue(signing_key, issued_at=issued_at)

    assert _reason(code, keys, now=issued_at + 10) is expected


# --- signature ----------------------------------------------------------------------------------


def _with_signature(text: str, transform) -> str:
    _, protected, payload, signature = _cose_parts(text)
    body = [protected, {}, payload, transform(signature)]
    return _text(cbor2.dumps(cbor2.CBORTag(18, body)))


def _as_der(raw: bytes) -> bytes:
    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


@pytest.mark.parametrize(
    "transform",
    [
        pytest.param(_as_der, id="der-encoded"),
        pytest.param(lambda raw: raw[:63], id="63-bytes"),
        pytest.param(lambda raw: raw + b"\x00", id="65-bytes"),
        # the same r and s, s spelled with a leading zero: only the length check refuses it
        pytest.param(lambda raw: raw[:32] + b"\x00" + raw[32:], id="65-bytes-padded-s"),
        pytest.param(lambda raw: b"\x00" + raw, id="65-bytes-leading-zero"),
        pytest.param(lambda raw: raw[32:] + raw[:32], id="s-r-swapped"),
        pytest.param(lambda raw: bytes(64), id="zeros"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: raw[:-1] + bytes((raw[-1] ^ 1,)), id="last-bit-flipped"),
        pytest.param(lambda raw: bytes((raw[0] ^ 0x80,)) + raw[1:], id="first-bit-flipped"),
    ],
)
def test_bad_signature(signing_key, keys, transform):
    code = _with_signature(_issue(signing_key), transform)

    assert _reason(code, keys) is Reason.BAD_SIGNATURE


def test_signature_by_another_key_under_our_kid(other_key, keys):
    assert _reason(_issue(other_key), keys) is Reason.BAD_SIGNATURE


# Payload of the reference code, byte by byte (cbor2's encoding of _claims()):
# 0 map | 1 key iss, 2 head, 3-4 "WH" | 5 key sub, 6 head, 7-22 sub | 23 key exp, 24 head,
# 25-28 exp | 29 key iat, 30 head, 31-34 iat | 35 key cti, 36 head, 37-52 cti |
# 53-57 key -70001 | 58 code type (a one-byte head holding its value)
PAYLOAD_LENGTH = 59
ISS_BYTES = range(3, 5)
TEXT_BYTES = (*ISS_BYTES, *range(7, 23))
VALUE_BYTES = (*TEXT_BYTES, *range(25, 29), *range(31, 35), *range(37, 53))
PRE_SIGNATURE_REFUSALS = {Reason.BAD_CBOR, Reason.BAD_CLAIMS, Reason.UNKNOWN_KID}


def _expected_for_flip(position: int, bit: int) -> set[Reason]:
    if position not in VALUE_BYTES:  # a head or a key: the structure itself changes
        return {*PRE_SIGNATURE_REFUSALS, Reason.BAD_SIGNATURE}
    if position in TEXT_BYTES and bit == 7:
        return {Reason.BAD_CBOR}  # no longer UTF-8
    if position in ISS_BYTES:
        return {Reason.UNKNOWN_KID}  # another issuer: no such key
    return {Reason.BAD_SIGNATURE}


@pytest.mark.parametrize("bit", range(8))
@pytest.mark.parametrize("position", range(PAYLOAD_LENGTH))
def test_flipped_bit_anywhere_in_the_claims_is_refused(signing_key, keys, position, bit):
    code = _forge(signing_key)
    cose, _, payload, _ = _cose_parts(code)
    assert len(payload) == PAYLOAD_LENGTH
    offset = cose.index(payload) + position
    flipped = cose[:offset] + bytes((cose[offset] ^ (1 << bit),)) + cose[offset + 1 :]

    result = verify(_text(flipped), keys=keys, now=NOW + 10)

    assert not result.ok
    assert result.reason in _expected_for_flip(position, bit)


# --- claims and time ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"sub": None}, id="no-sub"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"cti": None}, id="no-cti"),
        pytest.param({"code_type": None}, id="no-code-type"),
        pytest.param({-70002: "张三"}, id="extra-private-claim-with-a-name"),
        pytest.param({3: "clinic"}, id="extra-aud"),
        pytest.param({"sub": ""}, id="empty-sub"),
        pytest.param({"sub": "s" * 33}, id="long-sub"),
        pytest.param({"sub": b"bytes"}, id="sub-bytes"),
        pytest.param({"cti": CTI[:15]}, id="cti-15-bytes"),
        pytest.param({"cti": "0123456789abcdef"}, id="cti-text"),
        pytest.param({"code_type": 3}, id="code-type-3"),
        pytest.param({"code_type": "dynamic"}, id="code-type-text"),
        pytest.param({"exp": NOW}, id="exp-equals-iat"),
        pytest.param({"exp": NOW - 1}, id="exp-before-iat"),
        pytest.param({"iat": -5, "exp": 55}, id="negative-iat"),
        pytest.param({"exp": "tomorrow"}, id="exp-text"),
        pytest.param({"iss": 7}, id="iss-number"),
    ],
)
def test_bad_claims(signing_key, keys, changes):
    code = _forge(signing_key, payload=_claims(changes))

    assert _reason(code, keys) is Reason.BAD_CLAIMS


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOW - 31, Reason.NOT_YET_VALID),
        (NOW - 30, None),
        (NOW - 29, None),
        (NOW + 60 + 29, None),
        (NOW + 60 + 30, None),
        (NOW + 60 + 31, Reason.EXPIRED),
    ],
)
def test_skew_edges_of_a_dynamic_code(signing_key, keys, now, expected):
    assert _reason(_issue(signing_key), keys, now=now) is expected


def test_skew_is_configurable(signing_key, keys):
    code = _issue(signing_key)

    assert _reason(code, keys, now=NOW + 61, max_skew=0) is Reason.EXPIRED
    assert _reason(code, keys, now=NOW - 1, max_skew=0) is Reason.NOT_YET_VALID


def test_now_may_be_an_aware_datetime_but_not_a_naive_one(signing_key, keys):
    code = _issue(signing_key)
    moment = datetime.fromtimestamp(NOW + 61 + 30, tz=UTC)

    assert _reason(code, keys, now=moment) is Reason.EXPIRED
    with pytest.raises(ValueError, match="naive"):
        verify(code, keys=keys, now=moment.replace(tzinfo=None))


@pytest.mark.parametrize(
    ("code_type", "lifetime", "policy", "expected"),
    [
        (1, 60, VerifyPolicy(), None),
        (1, 61, VerifyPolicy(), Reason.LIFETIME_TOO_LONG),
        (1, 3600, VerifyPolicy(), Reason.LIFETIME_TOO_LONG),
        (2, STATIC_MAX_LIFETIME, VerifyPolicy(), None),
        (2, STATIC_MAX_LIFETIME + 1, VerifyPolicy(), Reason.LIFETIME_TOO_LONG),
        (2, 31 * DAY, VerifyPolicy(static_max_lifetime=30 * DAY), Reason.LIFETIME_TOO_LONG),
        (2, 30 * DAY, VerifyPolicy(static_max_lifetime=30 * DAY), None),
    ],
)
def test_lifetime_limit_per_code_type(signing_key, keys, code_type, lifetime, policy, expected):
    payload = _claims(exp=NOW + lifetime, code_type=code_type)

    assert _reason(_forge(signing_key, payload=payload), keys, policy=policy) is expected


def test_expired_is_reported_before_lifetime(signing_key, keys):
    payload = _claims(exp=NOW + 3600)

    assert _reason(_forge(signing_key, payload=payload), keys, now=NOW + 7200) is Reason.EXPIRED


# --- key set ------------------------------------------------------------------------------------


def test_key_set_round_trips_through_json(signing_key):
    jwk = _jwk(signing_key)
    keys = load_key_set(json.loads(json.dumps({"keys": [jwk]})))

    entry = keys[ISS, KID]
    assert list(keys) == [(ISS, KID)]
    assert entry.public_key.public_numbers() == signing_key.public_key().public_numbers()
    assert (entry.not_before, entry.not_after) == (NOW - 30 * DAY, NOW + 365 * DAY)
    assert entry.status is KeyStatus.ACTIVE
    assert jwk["not_before"] == "2026-08-22T14:13:20Z"
    assert set(jwk) == {
        "kid",
        "kty",
        "crv",
        "alg",
        "use",
        "x",
        "y",
        "iss",
        "not_before",
        "not_after",
        "status",
    }


def _mutated(jwk: dict, **changes: Any) -> dict:
    result = dict(jwk)
    for field, value in changes.items():
        if value is None:
            result.pop(field)
        else:
            result[field] = value
    return result


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"x": None}, id="no-x"),
        pytest.param({"crv": "P-384"}, id="p384"),
        pytest.param({"kty": "RSA"}, id="rsa"),
        pytest.param({"alg": "HS256"}, id="hs256"),
        pytest.param({"use": "enc"}, id="use-enc"),
        pytest.param({"d": "AAAA"}, id="private-part"),
        pytest.param({"x": "A" * 42}, id="short-x"),
        pytest.param({"x": "A" * 43 + "="}, id="padded-x"),
        pytest.param({"x": "+" * 43}, id="base64-not-url"),
        pytest.param({"not_before": "2026-01-01T00:00:00"}, id="naive-time"),
        pytest.param({"not_before": "yesterday"}, id="not-iso"),
        pytest.param({"not_before": 1_700_000_000}, id="epoch-not-iso"),
        pytest.param({"not_before": "2030-01-01T00:00:00Z"}, id="not-before-after-not-after"),
        pytest.param({"status": "revoked"}, id="unknown-status"),
        pytest.param({"status": None}, id="no-status"),
        pytest.param({"kid": ""}, id="empty-kid"),
        pytest.param({"kid": "k" * 17}, id="long-kid"),
        pytest.param({"iss": None}, id="no-iss"),
    ],
)
def test_malformed_key_entry_refuses_the_whole_set(signing_key, change):
    good = _jwk(signing_key)

    with pytest.raises(KeySetError):
        load_key_set({"keys": [good, _mutated(_jwk(signing_key, kid="w26b"), **change)]})


def test_point_not_on_the_curve_is_refused(signing_key):
    jwk = _jwk(signing_key)

    with pytest.raises(KeySetError, match="point"):
        load_key_set({"keys": [_mutated(jwk, y=jwk["x"])]})


def test_non_canonical_base64url_is_refused(signing_key):
    """The last of 43 characters carries 2 spare bits; setting one spells the same x again."""
    jwk = _jwk(signing_key)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(jwk["x"][-1])
    assert index % 4 == 0
    other_spelling = jwk["x"][:-1] + alphabet[index + 1]

    with pytest.raises(KeySetError, match="canonical"):
        load_key_set({"keys": [_mutated(jwk, x=other_spelling)]})


@pytest.mark.parametrize(
    "document",
    [
        pytest.param([], id="list"),
        pytest.param({}, id="no-keys"),
        pytest.param({"keys": {}}, id="keys-not-list"),
        pytest.param({"keys": ["w26a"]}, id="entry-not-object"),
    ],
)
def test_malformed_key_set_document(document):
    with pytest.raises(KeySetError):
        load_key_set(document)


def test_duplicate_key_is_refused(signing_key, other_key):
    with pytest.raises(KeySetError, match="duplicate"):
        load_key_set({"keys": [_jwk(signing_key), _jwk(other_key)]})


# --- command line -------------------------------------------------------------------------------


@pytest.fixture
def keys_file(tmp_path, signing_key) -> Path:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [_jwk(signing_key)]}), encoding="utf-8")
    return path


def _at(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def test_cli_valid_code(signing_key, keys_file, capsys):
    code = _issue(signing_key, cti=CTI)

    status = verify_cli.main([code, "--keys", str(keys_file), "--now", _at(NOW + 5)])

    output = json.loads(capsys.readouterr().out)
    assert status == 0
    assert output["ok"] is True
    assert output["claims"]["sub"] == SUB
    assert output["claims"]["code_type"] == "dynamic"
    assert output["claims"]["cti"] == CTI.hex()
    assert output["claims"]["exp_utc"] == "2026-09-21T14:14:20Z"


def test_cli_refused_code(signing_key, keys_file, capsys):
    status = verify_cli.main(
        [_issue(signing_key), "--keys", str(keys_file), "--now", _at(NOW + 600)]
    )

    output = json.loads(capsys.readouterr().out)
    assert status == 1
    assert output == {"ok": False, "reason": "expired", "detail": "expired 540 s ago"}


def test_cli_reads_the_code_from_stdin(signing_key, keys_file, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(_issue(signing_key) + "\n"))

    assert verify_cli.main(["-", "--keys", str(keys_file), "--now", _at(NOW)]) == 0


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["--now", _at(NOW)], id="no-keys"),
        pytest.param(["--keys", "/nonexistent/keys.json"], id="missing-file"),
        pytest.param(["--keys", "KEYS", "--now", "2026-09-21 08:00"], id="naive-now"),
        pytest.param(["--keys", "KEYS", "--now", "noon"], id="bad-now"),
        pytest.param(["--keys", "BROKEN"], id="malformed-key-set"),
    ],
)
def test_cli_usage_errors_exit_2(signing_key, keys_file, tmp_path, capsys, arguments):
    broken = tmp_path / "broken.json"
    broken.write_text('{"keys": [{"kid": "x"}]}', encoding="utf-8")
    substitutions = {"KEYS": str(keys_file), "BROKEN": str(broken)}
    argv = [_issue(signing_key), *(substitutions.get(a, a) for a in arguments)]

    try:
        status = verify_cli.main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        status = exit_.code

    assert status == 2
    assert capsys.readouterr().out == ""


def test_cli_runs_as_a_module_from_the_project_root(signing_key, keys_file):
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "healthcodes.verify",
            _issue(signing_key),
            "--keys",
            str(keys_file),
            "--now",
            _at(NOW),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["ok"] is True

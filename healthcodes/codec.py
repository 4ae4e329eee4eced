"""Building, signing and publishing HealthNet QR health codes (docs/design.md §6).

Wire format, after the EU Digital COVID Certificate, without its zlib step:

    text    = PREFIX + Base45(COSE_Sign1)
    COSE_Sign1 = tag 18 [protected: bstr .cbor {1: -7, 4: kid}, unprotected: {}, payload: bstr .cbor
                         claims, signature: bstr of 64 bytes (raw r || s)]
    claims  = {1 iss: tstr, 2 sub: tstr, 4 exp: uint, 6 iat: uint, 7 cti: bstr(16),
               -70001 code type: 1 dynamic / 2 static}

Why these choices:

* No compression. The whole token is ~150 bytes of signature, ids and random numbers, which zlib
  cannot shrink; compressing would only add a decompression step (and its "zip bomb" surface) to
  the hostile side of the verifier.
* The code type lives in a private-use CWT claim (RFC 8392 §9.1: integer labels below -65536 are
  for private use), so it can never collide with a registered claim.
* Times are whole seconds since the epoch (CWT NumericDate, restricted to integers).
* The key set publishes ``not_before``/``not_after`` as ISO 8601 UTC strings (``...Z``), because
  people read that file when they rotate keys; they are turned into epoch seconds on loading.

This module is pure Python (no Django) so the offline verifier and the CLI can use it anywhere.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, NamedTuple

import base45
import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

PREFIX: Final = "HN1:"

# COSE (RFC 9052/9053) and CWT (RFC 8392) labels used by the profile.
COSE_SIGN1_TAG: Final = 18
HEADER_ALG: Final = 1
HEADER_KID: Final = 4
ALG_ES256: Final = -7
CLAIM_ISS: Final = 1
CLAIM_SUB: Final = 2
CLAIM_EXP: Final = 4
CLAIM_IAT: Final = 6
CLAIM_CTI: Final = 7
CLAIM_CODE_TYPE: Final = -70001
CLAIM_LABELS: Final = frozenset(
    {CLAIM_ISS, CLAIM_SUB, CLAIM_EXP, CLAIM_IAT, CLAIM_CTI, CLAIM_CODE_TYPE}
)

SIGNATURE_LENGTH: Final = 64
CTI_LENGTH: Final = 16
# iss, sub and kid are printable ASCII ids, never free text.
MAX_ID_LENGTHS: Final = {"kid": 16, "iss": 16, "sub": 32}
# A printed card is a version 10 QR at ECC Q, which holds 221 alphanumeric characters. The fixed
# part of a code (headers, times, 16-byte cti, code type, 64-byte signature, prefix) takes 181, so
# kid + iss + sub share 26 bytes: e.g. iss "WH", kid "w26a", sub = secrets.token_urlsafe(12).
MAX_TEXT_LENGTH: Final = 221

DYNAMIC_MAX_LIFETIME: Final = 60
# Five calendar years may contain two leap days.
STATIC_MAX_LIFETIME: Final = (5 * 365 + 2) * 86_400

ES256: Final = ec.ECDSA(hashes.SHA256())


class CodeType(StrEnum):
    """Dynamic codes live on a phone for 60 s; static ones are printed cards."""

    DYNAMIC = "dynamic"
    STATIC = "static"


CODE_TYPE_TO_WIRE: Final = {CodeType.DYNAMIC: 1, CodeType.STATIC: 2}
WIRE_TO_CODE_TYPE: Final = {wire: code_type for code_type, wire in CODE_TYPE_TO_WIRE.items()}


class Claims(NamedTuple):
    """What a verified code says. A NamedTuple because the verifier builds one per scan."""

    iss: str
    sub: str
    iat: int
    exp: int
    cti: bytes
    code_type: CodeType
    kid: str


# --- Base45 -----------------------------------------------------------------------------------

BASE45_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# Each character to its digit 0..44; anything else to 0xFF, which the 0xC0 mask below catches
# (every digit is < 64, so its two high bits are clear).
_B45_DIGITS: Final = bytes(
    BASE45_ALPHABET.find(chr(byte)) if chr(byte) in BASE45_ALPHABET else 0xFF for byte in range(256)
)
_B45_MAX_CHARS: Final = 3 * 4096
_B45_HIGH_BITS: Final = int.from_bytes(b"\xc0" * _B45_MAX_CHARS, "big")
_B45_LOW_BYTES: Final = int.from_bytes(b"\x00\x00\xff" * (_B45_MAX_CHARS // 3), "big")


def b45encode(data: bytes) -> str:
    """Base45 text of ``data`` (RFC 9285), through the ``base45`` package."""
    return base45.b45encode(data).decode("ascii")


def b45decode_strict(text: str) -> bytes:
    """Decode RFC 9285 Base45, refusing anything that is not canonical Base45.

    The ``base45`` package strips trailing newlines and costs ~22 µs for a code, a third of an
    ES256 verification. This decoder refuses every character outside the 45-character alphabet
    (newlines included), a length ``% 3 == 1``, and any group above its range (0xFFFF for three
    characters, 0xFF for two), and treats all groups at once: the digits are read as one big
    integer with a (c0, c1, c2) group in each 24-bit lane, so the arithmetic runs in C (~2 µs).
    """
    if not text.isascii():
        raise ValueError("non-ASCII character in Base45")
    length = len(text)
    if length > _B45_MAX_CHARS:
        raise ValueError("Base45 text too long")
    groups, rest = divmod(length, 3)
    if rest == 1:
        raise ValueError("Base45 length leaves a single character")
    digits = int.from_bytes(text.encode("ascii").translate(_B45_DIGITS), "big")
    if digits & (_B45_HIGH_BITS >> 8 * (_B45_MAX_CHARS - length)):
        raise ValueError("character outside the Base45 alphabet")
    tail = digits & 0xFFFF if rest else 0
    digits >>= 8 * rest
    low = _B45_LOW_BYTES >> 24 * (_B45_MAX_CHARS // 3 - groups)
    values = (digits >> 16 & low) + 45 * (digits >> 8 & low) + 2025 * (digits & low)
    if values & (low << 16):
        raise ValueError("Base45 group above 0xFFFF")
    decoded = bytearray(values.to_bytes(3 * groups, "big"))
    del decoded[0::3]  # the lanes' high bytes, all zero after the check above
    if rest:
        last = (tail >> 8) + 45 * (tail & 0xFF)
        if last > 0xFF:
            raise ValueError("Base45 pair above 0xFF")
        decoded.append(last)
    return bytes(decoded)


# --- COSE_Sign1 -------------------------------------------------------------------------------


def _bstr_head(length: int) -> bytes:
    """CBOR head of a byte string of ``length`` (shortest form, RFC 8949 §3)."""
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    return b"\x5a" + length.to_bytes(4, "big")


_SHORT_BSTR_HEADS: Final = tuple(_bstr_head(length) for length in range(0x100))


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The bytes ES256 signs: CBOR ``["Signature1", protected, h'', payload]`` (RFC 9052 §4.4).

    Built by hand rather than with cbor2 because the verifier calls it on every scan; the tests
    check it against cbor2's encoding.
    """
    protected_head = (
        _SHORT_BSTR_HEADS[len(protected)] if len(protected) < 0x100 else _bstr_head(len(protected))
    )
    payload_head = (
        _SHORT_BSTR_HEADS[len(payload)] if len(payload) < 0x100 else _bstr_head(len(payload))
    )
    return b"\x84\x6aSignature1%b%b\x40%b%b" % (protected_head, protected, payload_head, payload)


def protected_header(kid: str) -> bytes:
    """The protected header every code signed with ``kid`` carries: ``{1: -7, 4: kid}``."""
    return cbor2.dumps({HEADER_ALG: ALG_ES256, HEADER_KID: kid.encode()})


def epoch_seconds(moment: datetime | int) -> int:
    """Whole seconds since the epoch; naive datetimes are refused (STYLE: aware datetimes only)."""
    if isinstance(moment, datetime):
        if moment.utcoffset() is None:
            raise ValueError("naive datetime: give a timezone-aware one")
        return int(moment.timestamp() // 1)
    if isinstance(moment, bool) or not isinstance(moment, int):
        raise TypeError("expected a datetime or integer epoch seconds")
    return moment


def _check_text_id(name: str, value: object) -> str:
    """`value` if it is an identifier the format allows (ValueError otherwise)."""
    limit = MAX_ID_LENGTHS[name]
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= limit
        or not value.isascii()
        or not value.isprintable()
    ):
        raise ValueError(f"{name} must be 1 to {limit} printable ASCII characters")
    return value


def _check_lifetime(code_type: CodeType, lifetime_seconds: int) -> None:
    """Refuse to sign what the verifier's default policy would refuse as too long-lived."""
    if isinstance(lifetime_seconds, bool) or not isinstance(lifetime_seconds, int):
        raise TypeError("lifetime_seconds must be an integer")
    max_lifetime = DYNAMIC_MAX_LIFETIME if code_type is CodeType.DYNAMIC else STATIC_MAX_LIFETIME
    if not 0 < lifetime_seconds <= max_lifetime:
        raise ValueError(f"lifetime of a {code_type} code must be 1..{max_lifetime} s")


def _es256_raw_signature(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """COSE wants r || s as two 32-byte big-endian integers, not the DER that OpenSSL returns."""
    r, s = decode_dss_signature(private_key.sign(message, ES256))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def issue_code(
    *,
    private_key: ec.EllipticCurvePrivateKey,
    kid: str,
    iss: str,
    sub: str,
    code_type: CodeType | str,
    issued_at: datetime | int,
    lifetime_seconds: int,
    cti: bytes | None = None,
) -> str:
    """Sign a code for the card pseudonym ``sub`` and return its QR text.

    ``sub`` is the caller's random card pseudonym; nothing else about the resident goes in.
    ``cti`` defaults to 16 random bytes (the replay check keys on it).
    """
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        private_key.curve, ec.SECP256R1
    ):
        raise TypeError("private_key must be a P-256 private key")
    for name, value in (("kid", kid), ("iss", iss), ("sub", sub)):
        _check_text_id(name, value)
    code_type = CodeType(code_type)
    iat = epoch_seconds(issued_at)
    if iat < 0:
        raise ValueError("issued_at before the epoch")
    _check_lifetime(code_type, lifetime_seconds)
    if cti is None:
        cti = secrets.token_bytes(CTI_LENGTH)
    elif not isinstance(cti, bytes) or len(cti) != CTI_LENGTH:
        raise ValueError(f"cti must be {CTI_LENGTH} bytes")

    protected = protected_header(kid)
    payload = cbor2.dumps(
        {
            CLAIM_ISS: iss,
            CLAIM_SUB: sub,
            CLAIM_EXP: iat + lifetime_seconds,
            CLAIM_IAT: iat,
            CLAIM_CTI: cti,
            CLAIM_CODE_TYPE: CODE_TYPE_TO_WIRE[code_type],
        }
    )
    signature = _es256_raw_signature(private_key, sig_structure(protected, payload))
    cose = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    text = PREFIX + b45encode(cose)
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(
            f"code of {len(text)} characters would not fit a version 10 QR at ECC Q "
            f"({MAX_TEXT_LENGTH}): shorten iss, kid or sub"
        )
    return text


# --- Published key set ------------------------------------------------------------------------


class KeyStatus(StrEnum):
    """The life of a signing key: the one list of statuses, shared by the offline verifier and
    the key table (healthcodes.models takes its choices from here, so this module stays free of
    Django).

    ``next`` is published a week before it signs anything, so every offline verifier has it in
    time; ``active`` signs new codes; ``retired`` signs nothing and only verifies the codes it
    signed, until they have all expired; a ``compromised`` key verifies nothing (its codes must
    be reissued)."""

    NEXT = "next"
    ACTIVE = "active"
    RETIRED = "retired"
    COMPROMISED = "compromised"


class PublicKeyEntry(NamedTuple):
    """One key of the set, with its public key object loaded once (not per scan)."""

    iss: str
    kid: str
    public_key: ec.EllipticCurvePublicKey
    not_before: int
    not_after: int
    status: KeyStatus


class KeySetError(ValueError):
    """The key set document is malformed; the message says which entry and why."""


class KeySet(Mapping[tuple[str, str], PublicKeyEntry]):
    """Public keys by ``(iss, kid)``.

    Besides the Mapping view, two lookups serve the verifier's hot path: :meth:`lookup` takes
    the kid as the raw bytes of a code's protected header, and :meth:`kid_for_protected`
    recognises the exact protected header the issuer writes for a published key, which saves
    parsing it on every scan (any other header bytes go through the strict parser).
    """

    __slots__ = ("_by_id", "_by_wire", "_kid_by_protected")

    def __init__(self, entries: Iterable[PublicKeyEntry] = ()) -> None:
        self._by_id: dict[tuple[str, str], PublicKeyEntry] = {}
        self._by_wire: dict[tuple[str, bytes], PublicKeyEntry] = {}
        self._kid_by_protected: dict[bytes, bytes] = {}
        for entry in entries:
            if (entry.iss, entry.kid) in self._by_id:
                raise KeySetError(f"duplicate key (iss={entry.iss!r}, kid={entry.kid!r})")
            self._by_id[entry.iss, entry.kid] = entry
            self._by_wire[entry.iss, entry.kid.encode()] = entry
            self._kid_by_protected[protected_header(entry.kid)] = entry.kid.encode()

    def lookup(self, iss: str, kid: bytes) -> PublicKeyEntry | None:
        return self._by_wire.get((iss, kid))

    def kid_for_protected(self, protected: bytes) -> bytes | None:
        """The kid if ``protected`` is byte for byte ``protected_header(kid)`` of a key here."""
        return self._kid_by_protected.get(protected)

    def __getitem__(self, key: tuple[str, str]) -> PublicKeyEntry:
        return self._by_id[key]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _iso_utc(moment: datetime | int) -> str:
    when = datetime.fromtimestamp(epoch_seconds(moment), tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def public_jwk(
    public_key: ec.EllipticCurvePublicKey,
    kid: str,
    iss: str,
    not_before: datetime | int,
    not_after: datetime | int,
    status: KeyStatus | str = KeyStatus.ACTIVE,
) -> dict[str, str]:
    """One published key: an EC JWK (RFC 7517/7518) plus HealthNet's issuer, validity, status."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise TypeError("public_key must be a P-256 public key")
    _check_text_id("kid", kid)
    _check_text_id("iss", iss)
    if epoch_seconds(not_before) >= epoch_seconds(not_after):
        raise ValueError("not_before must be before not_after")
    numbers = public_key.public_numbers()
    return {
        "kid": kid,
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
        "iss": iss,
        "not_before": _iso_utc(not_before),
        "not_after": _iso_utc(not_after),
        "status": KeyStatus(status).value,
    }


def key_set_document(
    jwks: Iterable[Mapping[str, Any]],
    *,
    now: datetime | int,
    max_code_lifetime: int = STATIC_MAX_LIFETIME,
) -> dict[str, list[dict[str, Any]]]:
    """The published JSON key set: every key that may still have a live code.

    A key stays published until ``not_after + max_code_lifetime`` (the last code it may have
    signed has expired); after that it is left out, so its codes fail with ``unknown_kid``.
    """
    cutoff = epoch_seconds(now) - max_code_lifetime
    kept = [dict(jwk) for jwk in jwks if _parse_time(jwk, "not_after", "") >= cutoff]
    return {"keys": kept}


def _parse_time(jwk: Mapping[str, Any], field: str, where: str) -> int:
    value = jwk.get(field)
    if not isinstance(value, str):
        raise KeySetError(f"{where}{field} must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise KeySetError(f"{where}{field} is not ISO 8601: {value!r}") from None
    if when.utcoffset() is None:
        raise KeySetError(f"{where}{field} has no timezone: {value!r}")
    return int(when.timestamp() // 1)


def _parse_coordinate(jwk: Mapping[str, Any], field: str, where: str) -> int:
    value = jwk.get(field)
    if not isinstance(value, str) or not value.isascii() or len(value) != 43:
        raise KeySetError(f"{where}{field} must be 43 base64url characters (32 bytes)")
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/") + "=", validate=True)
    except binascii.Error:
        raise KeySetError(f"{where}{field} is not base64url") from None
    if _b64url(raw) != value:  # refuses non-zero padding bits: one key, one spelling
        raise KeySetError(f"{where}{field} is not canonical base64url")
    return int.from_bytes(raw, "big")


def _parse_jwk(jwk: Any, index: int) -> PublicKeyEntry:
    where = f"keys[{index}]."
    if not isinstance(jwk, Mapping):
        raise KeySetError(f"keys[{index}] must be an object")
    if "d" in jwk:
        raise KeySetError(f"{where}d: private key material in a public key set")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise KeySetError(f"{where}kty/crv must be EC/P-256")
    if jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
        raise KeySetError(f"{where}alg/use, when given, must be ES256/sig")
    try:
        kid = _check_text_id("kid", jwk.get("kid"))
        iss = _check_text_id("iss", jwk.get("iss"))
        status = KeyStatus(str(jwk.get("status")))
    except ValueError as error:
        raise KeySetError(f"{where}{error}") from None
    not_before = _parse_time(jwk, "not_before", where)
    not_after = _parse_time(jwk, "not_after", where)
    if not_before >= not_after:
        raise KeySetError(f"{where}not_before must be before not_after")
    x = _parse_coordinate(jwk, "x", where)
    y = _parse_coordinate(jwk, "y", where)
    try:
        public_key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError:
        raise KeySetError(f"{where}x/y is not a point on P-256") from None
    return PublicKeyEntry(iss, kid, public_key, not_before, not_after, status)


def load_key_set(document: Mapping[str, Any]) -> KeySet:
    """Parse a published key set, refusing it whole if any entry is malformed.

    All-or-nothing on purpose: a half-loaded set would turn a typo into ``unknown_kid`` refusals
    at every clinic instead of one loud error where the set is loaded.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetError('key set must be an object with a "keys" list')
    return KeySet(_parse_jwk(jwk, index) for index, jwk in enumerate(document["keys"]))

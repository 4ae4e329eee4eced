"""Offline verification of HealthNet QR health codes (docs/design.md §6).

:func:`verify` needs only the published key set and a clock. It runs the checks of docs/design.md
§6 up to
and including lifetime, in that order, and answers with the claims or one :class:`Reason`.
Revocation, replay and purpose policy need the database, so the scan endpoint layers them on the
returned :class:`Claims` (``sub`` for revocation, ``cti`` + ``code_type`` for replay).

Everything before the signature is hostile, so the CBOR is not handed to cbor2: cbor2 accepts
trailing bytes and duplicate map keys (last wins) and runs its semantic-tag decoders (regex
compile, MIME parsing, big decimals) on whatever it is given. The profile needs none of that:
the envelope is a fixed 4-element array and the headers and claims are flat maps of integers and
strings. The small reader below accepts exactly that and nothing else. It never recurses, checks
every declared length against the bytes left before it slices, and caps map sizes, so a nested
or oversized item fails at its first byte, in constant memory.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Final, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from healthcodes.codec import (
    ALG_ES256,
    CLAIM_CODE_TYPE,
    CLAIM_CTI,
    CLAIM_EXP,
    CLAIM_IAT,
    CLAIM_ISS,
    CLAIM_LABELS,
    CLAIM_SUB,
    CTI_LENGTH,
    DYNAMIC_MAX_LIFETIME,
    ES256,
    HEADER_ALG,
    HEADER_KID,
    MAX_ID_LENGTHS,
    PREFIX,
    SIGNATURE_LENGTH,
    STATIC_MAX_LIFETIME,
    WIRE_TO_CODE_TYPE,
    Claims,
    CodeType,
    KeySet,
    KeyStatus,
    b45decode_strict,
    sig_structure,
)

# No version 10 QR symbol holds more than 395 alphanumeric characters (at ECC L), so a longer
# text never came from one of our codes; 512 leaves headroom and bounds all the work below.
MAX_CODE_LENGTH: Final = 512
DEFAULT_MAX_SKEW: Final = 30
MAX_MAP_ENTRIES: Final = 16
_MAX_SUB_LENGTH: Final = MAX_ID_LENGTHS["sub"]


class Reason(StrEnum):
    """Why a code was refused, in the order the checks run. Stable: clients switch on them."""

    TOO_LONG = "too_long"
    BAD_PREFIX = "bad_prefix"
    BAD_BASE45 = "bad_base45"
    BAD_CBOR = "bad_cbor"
    BAD_ALG = "bad_alg"
    MISSING_KID = "missing_kid"
    UNKNOWN_KID = "unknown_kid"
    KEY_COMPROMISED = "key_compromised"
    BAD_SIGNATURE = "bad_signature"
    BAD_CLAIMS = "bad_claims"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    LIFETIME_TOO_LONG = "lifetime_too_long"
    KEY_NOT_VALID = "key_not_valid"


class VerifyPolicy(NamedTuple):
    """Limits a deployment may tune; the defaults are docs/design.md §6."""

    dynamic_max_lifetime: int = DYNAMIC_MAX_LIFETIME
    static_max_lifetime: int = STATIC_MAX_LIFETIME
    max_length: int = MAX_CODE_LENGTH


DEFAULT_POLICY: Final = VerifyPolicy()


class VerifyResult(NamedTuple):
    """Either ``claims`` (``reason`` is None) or a ``reason`` with a human ``detail``.

    ``detail`` is for logs and the CLI, not for the public: it may name the failing field.
    """

    claims: Claims | None
    reason: Reason | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


class _RefusedError(Exception):
    """Internal: raised by any check, caught once in :func:`verify`."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


class MalformedCborError(ValueError):
    """The bytes are not in the narrow CBOR profile of a health code."""


# --- Strict CBOR reader -----------------------------------------------------------------------

Scalar = int | bytes | str
_ARGUMENT_WIDTHS: Final = (1, 2, 4, 8)  # additional information 24..27


def _read_item(data: bytes, pos: int) -> tuple[Scalar, int]:
    """The integer, byte string or text string at ``pos`` and the position after it.

    Arrays, maps, tags, floats and simple values are refused at their first byte, as are
    indefinite lengths and the reserved additional information 28..30 (RFC 8949 §3). Truncation
    surfaces as IndexError (caught by the caller) or fails a length check before any slice.
    """
    initial = data[pos]
    pos += 1
    argument = initial & 0x1F
    if argument >= 24:
        if argument > 27:
            raise MalformedCborError("indefinite length or reserved additional information")
        width = _ARGUMENT_WIDTHS[argument - 24]
        if pos + width > len(data):
            raise MalformedCborError("truncated")
        argument = int.from_bytes(data[pos : pos + width], "big")
        pos += width
    major = initial >> 5
    if major == 0:
        return argument, pos
    if major == 1:
        return -1 - argument, pos
    if major > 3:  # 0 and 1 returned above
        raise MalformedCborError(f"major type {major} not allowed (only integers and strings)")
    end = pos + argument
    if end > len(data):
        raise MalformedCborError("declared length runs past the end")
    if major == 2:
        return data[pos:end], end
    return data[pos:end].decode("utf-8"), end


def read_flat_map(data: bytes, pos: int = 0) -> tuple[dict[int, Scalar], int]:
    """A definite map of at most 16 integer keys to scalars, starting at ``pos``.

    Returns the map and the position after it. Duplicate keys are refused: with "last wins" an
    attacker could show one reader one ``iss`` and another reader another.

    This runs for every header and claim of every scan, so the common heads are read inline:
    small non-negative keys and values, short byte and text strings, and 32-bit integers (every
    NumericDate until 2106). Everything else goes through :func:`_read_item`.
    """
    try:
        initial = data[pos]
        if initial >> 5 != 5:
            raise MalformedCborError("expected a map")
        count = initial & 0x1F
        if count > MAX_MAP_ENTRIES:  # also refuses longer heads and indefinite maps
            raise MalformedCborError("map too large or of indefinite length")
        pos += 1
        result: dict[int, Scalar] = {}
        for _ in range(count):
            key: Scalar = data[pos]
            if key < 24:  # type: ignore[operator]
                pos += 1
            else:
                key, pos = _read_item(data, pos)
                if type(key) is not int:
                    raise MalformedCborError("map key must be an integer")
            head = data[pos]
            value: Scalar
            if head < 24:
                value = head
                pos += 1
            elif 0x40 <= head & 0xDF < 0x58:  # & 0xDF maps short text heads onto byte ones
                end = pos + 1 + (head & 0x1F)
                if end > len(data):
                    raise MalformedCborError("declared length runs past the end")
                value = data[pos + 1 : end] if head < 0x60 else data[pos + 1 : end].decode("utf-8")
                pos = end
            elif head == 0x1A and pos + 5 <= len(data):
                value = int.from_bytes(data[pos + 1 : pos + 5], "big")
                pos += 5
            else:
                value, pos = _read_item(data, pos)
            if key in result:
                raise MalformedCborError("duplicate map key")
            result[key] = value  # type: ignore[index]
    except IndexError:
        raise MalformedCborError("truncated") from None
    except UnicodeDecodeError:
        raise MalformedCborError("text string is not UTF-8") from None
    return result, pos


def _read_bstr(data: bytes, pos: int) -> tuple[bytes, int]:
    """A byte string at ``pos``; longer than 65,535 bytes cannot be in a health code."""
    if pos >= len(data):
        raise MalformedCborError("truncated")
    initial = data[pos]
    if initial >> 5 != 2:
        raise MalformedCborError("expected a byte string")
    length = initial & 0x1F
    if length < 24:
        pos += 1
    elif length == 24 and pos + 2 <= len(data):
        length = data[pos + 1]
        pos += 2
    elif length == 25 and pos + 3 <= len(data):
        length = int.from_bytes(data[pos + 1 : pos + 3], "big")
        pos += 3
    else:
        raise MalformedCborError("byte string head truncated, too long or indefinite")
    end = pos + length
    if end > len(data):
        raise MalformedCborError("declared length runs past the end")
    return data[pos:end], end


def decode_flat_map(data: bytes) -> dict[int, Scalar]:
    """A whole byte string that must be exactly one flat map (protected header, claims)."""
    result, end = read_flat_map(data)
    if end != len(data):
        raise MalformedCborError("trailing bytes after the map")
    return result


class CoseSign1(NamedTuple):
    """The four parts of a COSE_Sign1; the headers and payload still as the bytes signed."""

    protected: bytes
    unprotected: dict[int, Scalar]
    payload: bytes
    signature: bytes


_EMPTY_MAP: Final = 0xA0


def parse_cose_sign1(data: bytes) -> CoseSign1:
    """Split tag 18 ``[protected bstr, unprotected map, payload bstr, signature bstr]``.

    Untagged messages, other tags (COSE_Mac0 is 17), detached payloads and trailing bytes are
    all refused.
    """
    if data[:2] != b"\xd2\x84":
        raise MalformedCborError("not a tagged COSE_Sign1 array of four")
    protected, pos = _read_bstr(data, 2)
    if pos < len(data) and data[pos] == _EMPTY_MAP:
        unprotected: dict[int, Scalar] = {}
        pos += 1
    else:
        unprotected, pos = read_flat_map(data, pos)
    payload, pos = _read_bstr(data, pos)
    signature, pos = _read_bstr(data, pos)
    if pos != len(data):
        raise MalformedCborError("trailing bytes after COSE_Sign1")
    return CoseSign1(protected, unprotected, payload, signature)


# --- The checks, in docs/design.md §6 order
# ----------------------------------------------------------


def _decode_envelope(text: str, max_length: int) -> CoseSign1:
    if len(text) > max_length:
        raise _RefusedError(Reason.TOO_LONG, f"{len(text)} characters, the cap is {max_length}")
    if not text.startswith(PREFIX):
        raise _RefusedError(Reason.BAD_PREFIX, f"must start with {PREFIX}")
    try:
        cose = b45decode_strict(text[len(PREFIX) :])
    except ValueError as error:
        raise _RefusedError(Reason.BAD_BASE45, str(error)) from None
    try:
        return parse_cose_sign1(cose)
    except MalformedCborError as error:
        raise _RefusedError(Reason.BAD_CBOR, str(error)) from None


def _read_protected_kid(message: CoseSign1, keys: KeySet) -> bytes:
    """Only the protected header is trusted; ``alg`` must be ES256 there and nowhere else."""
    if HEADER_ALG in message.unprotected:
        raise _RefusedError(Reason.BAD_ALG, "alg must not appear in the unprotected header")
    kid = keys.kid_for_protected(message.protected)
    if kid is not None:  # exactly {1: -7, 4: kid} as the issuer writes it
        return kid
    try:  # a zero-length protected header stands for an empty map (RFC 9052 §3)
        header = decode_flat_map(message.protected) if message.protected else {}
    except MalformedCborError as error:
        raise _RefusedError(Reason.BAD_CBOR, f"protected header: {error}") from None
    alg = header.get(HEADER_ALG)
    if type(alg) is not int or alg != ALG_ES256:
        raise _RefusedError(Reason.BAD_ALG, f"protected alg must be ES256 (-7), got {alg!r}")
    if not set(header) <= {HEADER_ALG, HEADER_KID}:
        raise _RefusedError(Reason.BAD_ALG, "unsupported protected header parameter")
    kid = header.get(HEADER_KID)  # type: ignore[assignment]
    if type(kid) is not bytes or not kid:
        raise _RefusedError(Reason.MISSING_KID, "no byte-string kid in the protected header")
    return kid


def _read_payload(payload: bytes) -> tuple[dict[int, Scalar], str]:
    """Decode the (not yet authenticated) claims, reading ``iss`` only to choose the key."""
    try:
        claims = decode_flat_map(payload)
    except MalformedCborError as error:
        raise _RefusedError(Reason.BAD_CBOR, f"payload: {error}") from None
    iss = claims.get(CLAIM_ISS)
    if type(iss) is not str:
        raise _RefusedError(Reason.BAD_CLAIMS, "iss missing or not a string")
    return claims, iss


def der_signature(raw: bytes) -> bytes:
    """DER ``SEQUENCE {r INTEGER, s INTEGER}`` of a 64-byte COSE r || s, which OpenSSL wants.

    Equal to ``encode_dss_signature`` (the tests check it) at under half its cost: each integer
    is its big-endian bytes without leading zeros, plus a zero byte if the top bit is set.
    """
    r = raw[:32].lstrip(b"\x00")
    s = raw[32:].lstrip(b"\x00")
    if not r or r[0] & 0x80:
        r = b"\x00" + r
    if not s or s[0] & 0x80:
        s = b"\x00" + s
    return b"\x30%c\x02%c%b\x02%c%b" % (len(r) + len(s) + 4, len(r), r, len(s), s)


def _check_signature(public_key: ec.EllipticCurvePublicKey, message: CoseSign1) -> None:
    signature = message.signature
    if len(signature) != SIGNATURE_LENGTH:
        detail = f"signature is {len(signature)} bytes, not a 64-byte r||s"
        raise _RefusedError(Reason.BAD_SIGNATURE, detail)
    signed = sig_structure(message.protected, message.payload)
    try:
        public_key.verify(der_signature(signature), signed, ES256)
    except InvalidSignature:
        raise _RefusedError(Reason.BAD_SIGNATURE, "signature does not verify") from None


def _typed_claims(claims: dict[int, Scalar]) -> tuple[str, int, int, bytes, CodeType]:
    """sub, iat, exp, cti and code type, each present and of its exact type; nothing else."""
    sub = claims.get(CLAIM_SUB)
    iat = claims.get(CLAIM_IAT)
    exp = claims.get(CLAIM_EXP)
    cti = claims.get(CLAIM_CTI)
    code_type = WIRE_TO_CODE_TYPE.get(claims.get(CLAIM_CODE_TYPE))  # type: ignore[arg-type]
    if (
        not CLAIM_LABELS.issuperset(claims)  # with the five checks below: exactly these
        or type(sub) is not str
        or not 0 < len(sub) <= _MAX_SUB_LENGTH
        or type(iat) is not int
        or type(exp) is not int
        or not 0 <= iat < exp
        or type(cti) is not bytes
        or len(cti) != CTI_LENGTH
        or code_type is None
    ):
        raise _RefusedError(Reason.BAD_CLAIMS, _describe_bad_claims(claims))
    return sub, iat, exp, cti, code_type


def _describe_bad_claims(claims: dict[int, Scalar]) -> str:
    """Off the hot path: say which claim is wrong, for the log and the CLI."""
    extra = set(claims) - CLAIM_LABELS
    if extra:
        return f"unexpected claims {sorted(extra)}"
    missing = CLAIM_LABELS - set(claims)
    if missing:
        return f"missing claims {sorted(missing)}"
    return "a claim has the wrong type or range (sub, iat < exp, 16-byte cti, code type 1|2)"


def _now_seconds(now: datetime | float) -> float:
    if isinstance(now, datetime):
        if now.utcoffset() is None:
            raise ValueError("naive datetime: give a timezone-aware one")
        return now.timestamp()
    return now


def verify(
    text: str,
    *,
    keys: KeySet,
    now: datetime | float,
    max_skew: int = DEFAULT_MAX_SKEW,
    policy: VerifyPolicy = DEFAULT_POLICY,
) -> VerifyResult:
    """Verify a scanned code's text offline. Never raises for a bad code, only for bad arguments."""
    now_s = _now_seconds(now)
    try:
        message = _decode_envelope(text, policy.max_length)
        kid = _read_protected_kid(message, keys)
        claims, iss = _read_payload(message.payload)
        key = keys.lookup(iss, kid)
        if key is None:
            raise _RefusedError(Reason.UNKNOWN_KID, "no published key for this (iss, kid)")
        # A compromised key's signature vouches for nothing, so don't spend a verification on it.
        if key.status is KeyStatus.COMPROMISED:
            raise _RefusedError(Reason.KEY_COMPROMISED, f"key {key.kid} is compromised")
        _check_signature(key.public_key, message)
        sub, iat, exp, cti, code_type = _typed_claims(claims)
        if iat > now_s + max_skew:
            detail = f"issued {iat - now_s:.0f} s ahead of this clock"
            raise _RefusedError(Reason.NOT_YET_VALID, detail)
        if now_s > exp + max_skew:
            raise _RefusedError(Reason.EXPIRED, f"expired {now_s - exp:.0f} s ago")
        if code_type is CodeType.DYNAMIC:
            max_lifetime = policy.dynamic_max_lifetime
        else:
            max_lifetime = policy.static_max_lifetime
        if exp - iat > max_lifetime:
            raise _RefusedError(Reason.LIFETIME_TOO_LONG, f"{exp - iat} s > {max_lifetime} s")
        if not key.not_before <= iat <= key.not_after:
            raise _RefusedError(Reason.KEY_NOT_VALID, "issued outside its key's validity")
    except _RefusedError as refusal:
        return VerifyResult(None, refusal.reason, refusal.detail)
    return VerifyResult(Claims(iss, sub, iat, exp, cti, code_type, key.kid))

"""Field encryption for personal identifiers (docs/design.md §9).

One secret (settings.FIELD_ENCRYPTION_KEY, 32 random bytes, base64) is stretched with HKDF into two
independent keys: an AES-256-GCM key that encrypts the value at rest, and an HMAC-SHA256 key that
makes the lookup hash. The hash is keyed so that a stolen table cannot be reversed by hashing all
~10^10 plausible ID numbers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CIPHERTEXT_VERSION = "v1"


@lru_cache(maxsize=4)
def _derived_keys(secret: str) -> tuple[AESGCM, bytes]:
    try:
        master = base64.b64decode(secret, validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be base64") from exc
    if len(master) != 32:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must decode to 32 bytes")

    def derive(purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)

    return AESGCM(derive(b"healthnet field encryption")), derive(b"healthnet lookup hash")


def _keys() -> tuple[AESGCM, bytes]:
    return _derived_keys(settings.FIELD_ENCRYPTION_KEY)


def encrypt_text(plaintext: str, *, context: bytes) -> str:
    """Encrypt; `context` (e.g. b"resident.national_id") is bound as associated data so a value
    copied into another column does not decrypt."""
    aead, _ = _keys()
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, plaintext.encode(), context)
    return f"{CIPHERTEXT_VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt_text(stored: str, *, context: bytes) -> str:
    version, _, payload = stored.partition(":")
    if version != CIPHERTEXT_VERSION:
        raise ValueError(f"unknown ciphertext version {version!r}")
    raw = base64.b64decode(payload)
    aead, _ = _keys()
    return aead.decrypt(raw[:12], raw[12:], context).decode()


def lookup_hash(value: str, *, context: bytes) -> str:
    _, hash_key = _keys()
    return hmac.new(hash_key, context + b"\x00" + value.encode(), hashlib.sha256).hexdigest()

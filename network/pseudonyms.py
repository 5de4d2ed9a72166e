"""符号 (情報提供用個人識別符号): per-agency pseudonyms, unlinkable without the hub's key.

The resident code identifies a person once, at issuance; only a keyed hash of it (the person
key) is kept, so the hub stores neither the resident code nor anything from which another
agency's 符号 could be computed without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def person_key(secret: bytes, resident_code: str) -> str:
    """The hub's internal key for a person: a keyed hash of the resident code (住民票コード)."""
    digest = hmac.new(secret, b"person:" + resident_code.encode(), hashlib.sha256).digest()
    return digest[:20].hex()


def pseudonym_for(secret: bytes, person: str, agency_code: str) -> str:
    """The 符号 of ``person`` for one agency: 26 base32 characters, different for every agency."""
    message = f"pseudonym:{agency_code}:{person}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest[:16]).decode().rstrip("=")

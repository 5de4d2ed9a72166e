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


class IssuedPseudonymCache:
    """符号 the hub has issued, remembered in memory (発行済み符号の控え).

    An issued 符号 is never changed nor withdrawn, so what was once read from the database
    stays true and the hub need not read it again for every inquiry. Only what was found is
    remembered: a 符号 not issued yet may be issued at any time. Beyond ``capacity`` 符号 the
    oldest remembered is forgotten (and read again when needed).
    """

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._owners: dict[str, tuple[str, str]] = {}
        """符号 → (agency code, person key)."""
        self._pseudonyms: dict[tuple[str, str], str] = {}
        """(agency code, person key) → 符号."""

    def __len__(self) -> int:
        return len(self._owners)

    def owner(self, pseudonym: str) -> tuple[str, str] | None:
        """The agency code and person key of an issued 符号, if remembered."""
        return self._owners.get(pseudonym)

    def pseudonym(self, agency_code: str, person: str) -> str | None:
        """The 符号 issued to an agency for a person, if remembered."""
        return self._pseudonyms.get((agency_code, person))

    def remember(self, pseudonym: str, agency_code: str, person: str) -> None:
        """Remember a 符号 read from (or committed to) the database."""
        if pseudonym in self._owners:
            return
        if len(self._owners) >= self.capacity:
            oldest = next(iter(self._owners))
            self._pseudonyms.pop(self._owners.pop(oldest), None)
        self._owners[pseudonym] = (agency_code, person)
        self._pseudonyms[(agency_code, person)] = pseudonym

"""The hub's registry of agencies (機関): who is connected, where, and with which credential."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from error_codes import IpnsimError
from ipnsim.http import bearer_token
from network.protocol.models import AgencyCode, AgencyKind, AgencySummary


class RegistryError(ValueError):
    """The registry file is unreadable or malformed."""


class AgencyEntry(BaseModel):
    """One agency as the registry file describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: AgencyCode
    name_ja: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    kind: AgencyKind
    base_url: HttpUrl
    credential: str = Field(min_length=16, repr=False)

    def summary(self) -> AgencySummary:
        return AgencySummary(
            code=self.code, name_ja=self.name_ja, name_en=self.name_en, kind=self.kind
        )

    def url(self, path: str) -> str:
        return str(self.base_url).rstrip("/") + path


class _RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: list[AgencyEntry]


def _digest(credential: str) -> bytes:
    return hashlib.sha256(credential.encode()).digest()


@dataclass(frozen=True)
class Registry:
    """Every connected agency, by code."""

    agencies: dict[str, AgencyEntry]
    by_credential: dict[bytes, AgencyEntry] = field(init=False, repr=False)
    """Every agency by the SHA-256 of its credential: one look-up per request, however many
    agencies are connected (every local government: 1,789)."""

    def __post_init__(self) -> None:
        by_credential = {_digest(entry.credential): entry for entry in self.agencies.values()}
        object.__setattr__(self, "by_credential", by_credential)

    @classmethod
    def load(cls, path: Path) -> Registry:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            parsed = _RegistryFile.model_validate(raw)
        except OSError as exc:
            raise RegistryError(f"{path}: cannot be read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise RegistryError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from exc
        except ValidationError as exc:
            raise RegistryError(f"{path}: {exc}") from exc
        agencies: dict[str, AgencyEntry] = {}
        for entry in parsed.agencies:
            if entry.code in agencies:
                raise RegistryError(f"{path}: agency {entry.code} is listed twice")
            agencies[entry.code] = entry
        credentials = [entry.credential for entry in agencies.values()]
        if len(set(credentials)) != len(credentials):
            raise RegistryError(f"{path}: two agencies share one credential")
        return cls(agencies)

    def get(self, code: str) -> AgencyEntry:
        """The agency with ``code``; ``AGY001`` if none is registered."""
        try:
            return self.agencies[code]
        except KeyError:
            raise IpnsimError("AGY001", agency_code=code) from None

    def authenticate(self, authorization: str | None) -> AgencyEntry:
        """The agency whose credential the ``Authorization: Bearer`` header carries (``AUT001``)."""
        token = bearer_token(authorization)
        if token is not None:
            # Looked up by digest, then compared in constant time.
            entry = self.by_credential.get(_digest(token))
            if entry is not None and hmac.compare_digest(entry.credential.encode(), token.encode()):
                return entry
        raise IpnsimError("AUT001")

"""The hub's registry of agencies (機関): who is connected, where, and with which credential."""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Registry:
    """Every connected agency, by code."""

    agencies: dict[str, AgencyEntry]

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
            for entry in self.agencies.values():
                if hmac.compare_digest(entry.credential.encode(), token.encode()):
                    return entry
        raise IpnsimError("AUT001")

"""Settings of the hub, read from the environment (``IPNSIM_HUB_*``); a bad value stops start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ipnsim.sandboxes import MAX_SANDBOXES
from network.protocol.record_log import key_file_beside


class HubSettings(BaseSettings):
    """How one hub process runs."""

    model_config = SettingsConfigDict(env_prefix="IPNSIM_HUB_", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./hub.sqlite3",
        description="SQLAlchemy async URL of the hub's database.",
    )
    registry_file: Path = Field(
        description="JSON file listing the agencies connected to the network, with credentials.",
    )
    secret: SecretStr = Field(
        min_length=16,
        description="Key from which 符号 are derived; keep it with the database.",
    )
    admin_token: SecretStr = Field(
        min_length=16,
        description="Bearer token for the operator's read-only views of the hub's records.",
    )
    provider_timeout: float = Field(
        default=5.0, gt=0, le=120, description="Seconds the hub waits for a provider's answer."
    )
    permissions_file: Path = Field(
        default=Path(__file__).parent / "data" / "permissions.csv",
        description="CSV permission table (requester kind × affair × procedure × info type × "
        "provider kind).",
    )
    personas_file: Path | None = Field(
        default=None,
        description="JSON persona catalogue of the network's population, written by whoever "
        "seeds it; served at GET /v1/personas (empty without one).",
    )
    faults_file: Path | None = Field(
        default=None,
        description="JSON list of faults (ProviderFault) in force from start-up; checked at "
        "start (testing only).",
    )
    addendum_retry_seconds: float = Field(
        default=5.0, gt=0, description="How often undelivered addenda are sent to providers again."
    )
    max_inquiries_in_flight: int = Field(
        default=256,
        ge=1,
        description="Inquiries the hub handles at once; one more is refused at once with AVL007 "
        "(HTTP 503, Retry-After) and not routed.",
    )
    max_sandboxes: int = Field(
        default=MAX_SANDBOXES,
        ge=1,
        le=1000,
        description="Sandboxes (X-Ipnsim-Sandbox) kept at most; one more is refused with SBX002.",
    )
    log_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key that signs the record log's tree heads, created at first start "
        "(PEM, mode 600). Default: beside the SQLite database, else beside the registry file.",
    )

    allow_demo_secrets: bool = Field(
        default=False,
        description="Accept placeholder secrets (containing 'change-me'), such as the demo "
        "values of docker-compose.yml; for local demos only.",
    )

    @model_validator(mode="after")
    def _no_placeholder_secret(self) -> Self:
        """Refuse to start with a placeholder secret left in place (fail fast)."""
        if not self.allow_demo_secrets:
            for name in ("secret", "admin_token"):
                if is_placeholder(getattr(self, name).get_secret_value()):
                    raise ValueError(
                        f"IPNSIM_HUB_{name.upper()} is a placeholder ('change-me'): set a real "
                        "secret, or IPNSIM_HUB_ALLOW_DEMO_SECRETS=true for a local demo"
                    )
        return self

    def signing_key_file(self) -> Path:
        """Where the record log's signing key is kept."""
        if self.log_key_file is not None:
            return self.log_key_file
        return key_file_beside(self.database_url) or (self.registry_file.parent / "hub-log-key.pem")


PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me")
"""What a secret left at its documented default contains."""


def is_placeholder(secret: str) -> bool:
    """Whether ``secret`` is a placeholder value (例: ``demo-hub-secret-change-me``)."""
    lowered = secret.lower()
    return any(mark in lowered for mark in PLACEHOLDER_MARKS)

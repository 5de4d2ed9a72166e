"""Settings of one intermediate server, read from the environment (``IPNSIM_AGENCY_*``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Self

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from intermediate_server.tax_release import TaxRelease, parse_month_day
from ipnsim.sandboxes import MAX_SANDBOXES
from network.protocol.models import AgencyCode
from network.protocol.record_log import key_file_beside


class IntermediateServerSettings(BaseSettings):
    """How one agency's intermediate server runs."""

    model_config = SettingsConfigDict(env_prefix="IPNSIM_AGENCY_", extra="ignore")

    code: AgencyCode = Field(description="The agency's 16-digit code (機関コード).")
    name_ja: str = Field(min_length=1, description="The agency's name, as records show it.")
    credential: SecretStr = Field(
        min_length=16, description="The credential the hub registered for this agency."
    )
    hub_url: HttpUrl = Field(description="Base URL of the hub.")
    database_url: str = Field(
        default="sqlite+aiosqlite:///./agency.sqlite3",
        description="SQLAlchemy async URL of this server's own database.",
    )
    hub_timeout: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="Seconds to wait for the hub; longer than the hub's own provider timeout.",
    )
    manual_response_seconds: float = Field(
        default=3 * 24 * 3600.0,
        gt=0,
        description="How long an inquiry of a replica flagged 自動応答不可 waits for staff before "
        "it expires (MAN003); three days by default.",
    )
    manual_sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often held inquiries are checked for expiry and final answers the hub "
        "has not acknowledged are sent again (at most half the waiting time).",
    )
    idempotency_abandoned_seconds: float | None = Field(
        default=None,
        gt=0,
        description="After how long an inquiry still in flight under an Idempotency-Key counts "
        "as abandoned (its server stopped mid-inquiry), so that a repeat may send it again; "
        "must exceed the hub timeout; four times the hub timeout by default.",
    )

    allow_demo_secrets: bool = Field(
        default=False,
        description="Accept a placeholder credential (containing 'change-me'), such as the demo "
        "values of docker-compose.yml; for local demos only.",
    )

    @model_validator(mode="after")
    def _no_placeholder_credential(self) -> Self:
        """Refuse to start with a placeholder credential left in place (fail fast)."""
        credential = self.credential.get_secret_value().lower()
        if not self.allow_demo_secrets and any(
            mark in credential for mark in ("change-me", "changeme", "change_me")
        ):
            raise ValueError(
                "IPNSIM_AGENCY_CREDENTIAL is a placeholder ('change-me'): set the credential "
                "the hub registered, or IPNSIM_AGENCY_ALLOW_DEMO_SECRETS=true for a local demo"
            )
        return self

    @model_validator(mode="after")
    def _abandon_only_after_the_hub_gave_up(self) -> Self:
        if self.idempotency_abandoned_seconds is None:
            self.idempotency_abandoned_seconds = 4 * self.hub_timeout
        if self.idempotency_abandoned_seconds <= self.hub_timeout:
            raise ValueError(
                "idempotency_abandoned_seconds must exceed hub_timeout, or a slow inquiry "
                "could be sent twice"
            )
        return self

    @property
    def idempotency_abandoned_after(self) -> dt.timedelta:
        """How long an idempotency key may stay in flight before a repeat takes it over."""
        return dt.timedelta(seconds=self.idempotency_abandoned_seconds or 4 * self.hub_timeout)

    batch_dir: Path | None = Field(
        default=None,
        description="Directory of the 一括照会 files (request files, results, failed rows). "
        "Default: beside a SQLite database file, '<database name>-batch'; with another "
        "database, 'batch-<agency code>' in the working directory.",
    )
    local_tax_release: str = Field(
        default="06-01",
        pattern=r"^\d{2}-\d{2}$",
        description="The day (MM-DD, Japan time) from which local-tax information of fiscal "
        "year N is provided, in year N (the June release, 6月公開); an inquiry for the fiscal "
        "year before it is answered RPL010.",
    )
    local_tax_release_dates: dict[int, dt.date] = Field(
        default_factory=dict,
        description="Release dates of particular fiscal years, overriding local_tax_release, "
        'as JSON: {"2026": "2026-06-10"}.',
    )

    def tax_release(self) -> TaxRelease:
        """The release rule of this provider's local-tax information."""
        return TaxRelease(parse_month_day(self.local_tax_release), self.local_tax_release_dates)

    @model_validator(mode="after")
    def _release_day_exists(self) -> Self:
        parse_month_day(self.local_tax_release)
        return self

    batch_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Blocks of a batch job inquired at once (each block is up to 250 rows, "
        "sent to the hub as one bulk inquiry).",
    )
    registration_lag: str = Field(
        default="none",
        pattern=r"^(none|delay:[0-9]+(\.[0-9]+)?|nightly:([01]?[0-9]|2[0-3]))$",
        description="登録遅延: how long a replica registration or update takes to become live, "
        "by the simulated clock: 'none', 'delay:SECONDS' or 'nightly:HOUR' (Japan time). "
        "PUT /v1/registration-lag overrides it.",
    )
    max_sandboxes: int = Field(
        default=MAX_SANDBOXES,
        ge=1,
        le=1000,
        description="Sandboxes (X-Ipnsim-Sandbox) kept at most; one more is refused with SBX002.",
    )

    def batch_directory(self) -> Path:
        """Where the batch job files live (see ``batch_dir``)."""
        if self.batch_dir is not None:
            return self.batch_dir
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            database = Path(str(url.database))
            return database.with_name(database.stem + "-batch")
        return Path(f"batch-{self.code}")

    log_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key that signs this server's record log's tree heads, created at "
        "first start (PEM, mode 600). Default: beside the SQLite database, else "
        "<code>-log-key.pem in the working directory.",
    )

    def signing_key_file(self) -> Path:
        """Where the record log's signing key is kept."""
        if self.log_key_file is not None:
            return self.log_key_file
        return key_file_beside(self.database_url) or Path(f"{self.code}-log-key.pem")

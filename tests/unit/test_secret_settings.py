"""The services fail fast on a missing secret or one left at a placeholder (…change-me)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from intermediate_server.settings import IntermediateServerSettings
from network.settings import HubSettings, is_placeholder

REAL = "x7Qk2mVb9LpR4sTw"


@pytest.mark.parametrize(
    ("secret", "placeholder"),
    [
        ("demo-hub-secret-change-me", True),
        ("CHANGEME-0123456789", True),
        ("please_change_me_now", True),
        (REAL, False),
    ],
)
def test_placeholders_are_recognised(secret: str, placeholder: bool) -> None:
    assert is_placeholder(secret) is placeholder


def hub(tmp_path: Path, **values: object) -> HubSettings:
    registry = tmp_path / "registry.json"
    registry.write_text('{"agencies": []}', encoding="utf-8")
    return HubSettings(registry_file=registry, **values)  # type: ignore[arg-type]


def test_hub_refuses_a_placeholder_secret_unless_told_it_is_a_demo(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="IPNSIM_HUB_SECRET is a placeholder"):
        hub(tmp_path, secret="demo-hub-secret-change-me", admin_token=REAL)
    with pytest.raises(ValidationError, match="IPNSIM_HUB_ADMIN_TOKEN is a placeholder"):
        hub(tmp_path, secret=REAL, admin_token="demo-admin-token-change-me")
    demo = hub(
        tmp_path,
        secret="demo-hub-secret-change-me",
        admin_token="demo-admin-token-change-me",
        allow_demo_secrets=True,
    )
    assert demo.secret.get_secret_value() == "demo-hub-secret-change-me"
    assert hub(tmp_path, secret=REAL, admin_token=REAL).allow_demo_secrets is False


def test_hub_refuses_a_missing_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("IPNSIM_HUB_"):
            monkeypatch.delenv(key)
    with pytest.raises(ValidationError, match="secret"):
        hub(tmp_path, admin_token=REAL)


def agency(**values: object) -> IntermediateServerSettings:
    return IntermediateServerSettings(
        code="2006201400000000",
        name_ja="山形市",
        hub_url="http://127.0.0.1:1",
        **values,  # type: ignore[arg-type]
    )


def test_agency_refuses_a_placeholder_credential_unless_told_it_is_a_demo() -> None:
    with pytest.raises(ValidationError, match="IPNSIM_AGENCY_CREDENTIAL is a placeholder"):
        agency(credential="demo-credential-yamagata-change-me")
    allowed = agency(credential="demo-credential-yamagata-change-me", allow_demo_secrets=True)
    assert allowed.allow_demo_secrets
    assert agency(credential=REAL).credential.get_secret_value() == REAL


def test_serve_stops_at_once_with_a_clear_message(tmp_path: Path) -> None:
    registry = tmp_path / "registry.json"
    registry.write_text('{"agencies": []}', encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("IPNSIM_")}
    env |= {
        "IPNSIM_HUB_REGISTRY_FILE": str(registry),
        "IPNSIM_HUB_SECRET": "demo-hub-secret-change-me",
        "IPNSIM_HUB_ADMIN_TOKEN": REAL,
        "IPNSIM_HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ipnsim", "serve", "hub", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "IPNSIM_HUB_SECRET is a placeholder" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "hub.sqlite3").exists(), "nothing may start with a placeholder secret"

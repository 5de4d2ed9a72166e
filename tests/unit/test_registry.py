"""The hub's registry of agencies: loading, authentication and look-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from error_codes import IpnsimError
from ipnsim.http import bearer_token
from network.protocol.models import AgencyKind
from network.registry import AgencyEntry, Registry, RegistryError

YAMAGATA = {
    "code": "2006201400000000",
    "name_ja": "山形市",
    "name_en": "Yamagata City",
    "kind": "municipality",
    "base_url": "http://127.0.0.1:8101",
    "credential": "yamagata-credential-0001",
}
DIGITAL = {
    "code": "1419900000002200",
    "name_ja": "デジタル庁",
    "name_en": "Digital Agency",
    "kind": "digital_agency",
    "base_url": "http://127.0.0.1:8105/",
    "credential": "digital-credential-0002",
}


def write(tmp_path: Path, agencies: list[dict[str, str]]) -> Path:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"agencies": agencies}, ensure_ascii=False, indent=2), "utf-8")
    return path


def test_loads_a_valid_file(tmp_path: Path) -> None:
    registry = Registry.load(write(tmp_path, [YAMAGATA, DIGITAL]))
    assert set(registry.agencies) == {"2006201400000000", "1419900000002200"}
    digital = registry.get("1419900000002200")
    assert digital.kind is AgencyKind.DIGITAL_AGENCY
    assert digital.name_ja == "デジタル庁"
    assert digital.url("/hub/provisions") == "http://127.0.0.1:8105/hub/provisions"
    summary = digital.summary()
    assert summary.code == "1419900000002200"
    assert "credential" not in summary.model_dump()


def test_credential_is_not_in_repr(tmp_path: Path) -> None:
    entry = Registry.load(write(tmp_path, [YAMAGATA])).get("2006201400000000")
    assert "yamagata-credential" not in repr(entry)


def test_duplicate_codes_are_refused(tmp_path: Path) -> None:
    twin = YAMAGATA | {"credential": "another-credential-9999", "name_en": "Twin"}
    with pytest.raises(RegistryError, match="listed twice"):
        Registry.load(write(tmp_path, [YAMAGATA, twin]))


def test_shared_credentials_are_refused(tmp_path: Path) -> None:
    shared = DIGITAL | {"credential": YAMAGATA["credential"]}
    with pytest.raises(RegistryError, match="share one credential"):
        Registry.load(write(tmp_path, [YAMAGATA, shared]))


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text('{\n  "agencies": [\n    {"code": "2006201400000000",,}\n  ]\n}\n', "utf-8")
    with pytest.raises(RegistryError) as caught:
        Registry.load(path)
    assert f"{path}:3:" in str(caught.value)
    assert "not JSON" in str(caught.value)


def test_short_credential_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="credential"):
        Registry.load(write(tmp_path, [YAMAGATA | {"credential": "short"}]))


@pytest.mark.parametrize(
    "change",
    [
        {"code": "200620140000000"},
        {"kind": "city"},
        {"base_url": "not a url"},
        {"name_ja": ""},
        {"unexpected": "field"},
    ],
)
def test_malformed_entries_are_refused(tmp_path: Path, change: dict[str, str]) -> None:
    with pytest.raises(RegistryError):
        Registry.load(write(tmp_path, [YAMAGATA | change]))


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot be read"):
        Registry.load(tmp_path / "nope.json")


def make_registry() -> Registry:
    entries = [AgencyEntry.model_validate(agency) for agency in (YAMAGATA, DIGITAL)]
    return Registry({entry.code: entry for entry in entries})


def test_authenticate_with_the_right_bearer() -> None:
    registry = make_registry()
    assert registry.authenticate("Bearer yamagata-credential-0001").code == YAMAGATA["code"]
    assert registry.authenticate("bearer  digital-credential-0002 ").code == DIGITAL["code"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-credential-000000",
        "Basic yamagata-credential-0001",
        "yamagata-credential-0001",
        "Bearer yamagata-credential-000",
        "Bearer yamagata-credential-00011",
    ],
)
def test_authenticate_refuses(header: str | None) -> None:
    with pytest.raises(IpnsimError) as caught:
        make_registry().authenticate(header)
    assert caught.value.code == "AUT001"
    assert caught.value.http_status == 401


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("BEARER abc") == "abc"
    assert bearer_token("Token abc") is None
    assert bearer_token(None) is None


def test_get_unknown_is_agy001() -> None:
    with pytest.raises(IpnsimError) as caught:
        make_registry().get("2040130700000000")
    assert caught.value.code == "AGY001"
    assert "２０４０１３０７" in caught.value.message_ja


def test_entry_validation() -> None:
    with pytest.raises(ValidationError):
        AgencyEntry.model_validate(YAMAGATA | {"credential": "x" * 15})
    assert AgencyEntry.model_validate(YAMAGATA | {"credential": "x" * 16}).credential == "x" * 16


def test_a_base_url_with_a_path_keeps_it() -> None:
    """An agency served by an agency host: its base URL ends in /agencies/<code>."""
    entry = AgencyEntry.model_validate(
        YAMAGATA | {"base_url": "http://127.0.0.1:8110/agencies/2006201400000000"}
    )
    assert entry.url("/hub/provisions") == (
        "http://127.0.0.1:8110/agencies/2006201400000000/hub/provisions"
    )


def test_authenticate_among_every_local_government() -> None:
    entries = [
        AgencyEntry.model_validate(
            YAMAGATA
            | {"code": f"20{number:06d}00000000", "credential": f"credential-of-{number:08d}"}
        )
        for number in range(1, 1_801)
    ]
    registry = Registry({entry.code: entry for entry in entries})
    assert registry.authenticate("Bearer credential-of-00001234").code == "2000123400000000"
    with pytest.raises(IpnsimError):
        registry.authenticate("Bearer credential-of-00009999")

"""Faults on demand at the hub: online hours, seeded rates and latency, validation, the admin API."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from error_codes import IpnsimError
from ipnsim.http import make_client
from ipnsim.launcher import Launcher
from ipnsim.storage import create_engine, migrate, sessionmaker
from network.app import create_app
from network.db import MIGRATIONS
from network.faults import (
    JST,
    FaultFileError,
    FaultInjectingRouter,
    FaultTable,
    Plan,
    forcing,
    load_faults_file,
    within_online_hours,
)
from network.permissions import PermissionTable
from network.protocol.layouts import catalogue
from network.protocol.models import (
    FORCE_OUTCOME_HEADER,
    Addendum,
    AddendumKind,
    FaultSettings,
    InquiryCondition,
    ProviderFault,
    ProvisionRequest,
    forced_outcome,
    online_window,
)
from network.registry import Registry
from network.service import HubService
from network.settings import HubSettings
from tests.unit.test_hub_service import (
    AGENCIES,
    NHI_TAX,
    ODAWARA,
    SECRET,
    UNKNOWN,
    YAMAGATA,
    hub_row,
    inquiry,
    issue,
)

ADMIN_TOKEN = "operator-token-for-unit-tests"


def registry() -> Registry:
    return Registry(dict(AGENCIES))


def at_jst(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 6, 15, hour, minute, tzinfo=JST)


def table_at(moment: dt.datetime | None = None) -> FaultTable:
    return FaultTable(registry(), clock=lambda: moment or at_jst(12, 0))


def provision(provider: str = ODAWARA) -> ProvisionRequest:
    return ProvisionRequest(
        inquiry_id=uuid.uuid4(),
        requester_code=YAMAGATA,
        requester_name="山形市",
        provider_code=provider,
        provider_pseudonym="A" * 26,
        condition=InquiryCondition(),
        requested_at=dt.datetime(2026, 6, 15, 1, tzinfo=dt.UTC),
        **NHI_TAX,
    )


# --- online hours ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (at_jst(8, 29), False),
        (at_jst(8, 30), True),
        (at_jst(12, 0), True),
        (at_jst(19, 59), True),
        (at_jst(20, 0), False),
        (at_jst(23, 0), False),
    ],
)
def test_online_hours_are_a_daily_window(moment: dt.datetime, inside: bool) -> None:
    assert within_online_hours("08:30-20:00", moment) is inside


def test_online_hours_are_read_in_jst_whatever_the_clock_zone() -> None:
    # 23:30 UTC is 08:30 the next morning in Japan.
    assert within_online_hours("08:30-20:00", dt.datetime(2026, 6, 14, 23, 30, tzinfo=dt.UTC))
    assert not within_online_hours("08:30-20:00", dt.datetime(2026, 6, 15, 11, 0, tzinfo=dt.UTC))


def test_online_hours_may_cross_midnight() -> None:
    assert within_online_hours("22:00-06:00", at_jst(23, 0))
    assert within_online_hours("22:00-06:00", at_jst(5, 59))
    assert not within_online_hours("22:00-06:00", at_jst(6, 0))
    assert not within_online_hours("22:00-06:00", at_jst(12, 0))
    assert online_window("18:00-24:00") == (18 * 60, 24 * 60)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("8:30-20:00", "HH:MM-HH:MM"),
        ("08:30~20:00", "HH:MM-HH:MM"),
        ("25:00-26:00", "does not exist"),
        ("08:60-20:00", "does not exist"),
        ("24:30-08:00", "does not exist"),
        ("08:00-08:00", "empty or the whole day"),
        ("00:00-24:00", "empty or the whole day"),
    ],
)
def test_bad_online_hours_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        online_window(text)


# --- the wire model ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({}, "sets no failure"),
        ({"seed": 3}, "sets no failure"),
        ({"latency_ms": 10, "latency_range_ms": [1, 2]}, "not both"),
        ({"latency_range_ms": [50, 10]}, "min <= max"),
        ({"latency_ms": 120_001}, "less than or equal to 120000"),
        ({"latency_ms": -1}, "greater than or equal to 0"),
        ({"error_rate": 0.5}, "go together"),
        ({"error_code": "AVL001"}, "go together"),
        ({"error_rate": 1.5, "error_code": "AVL001"}, "less than or equal to 1"),
        ({"force_code": "XYZ999"}, "not a catalogued error code"),
        ({"force_code": "IDN001"}, "requester's server"),
        ({"force_code": "VAL001"}, "only those codes can be forced"),
        ({"online_hours": "8-20"}, "HH:MM-HH:MM"),
        ({"down": True, "surprise": 1}, "Extra inputs"),
    ],
)
def test_bad_fault_settings_are_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        FaultSettings.model_validate(fields)


def test_fault_codes_are_read_in_any_case() -> None:
    settings = FaultSettings(force_code="prm001", error_rate=0.1, error_code=" rpl001 ")

    assert (settings.force_code, settings.error_code) == ("PRM001", "RPL001")


def test_the_forced_outcome_header_names_a_forceable_code() -> None:
    assert forced_outcome(None) is None
    assert forced_outcome("  ") is None
    assert forced_outcome("avl006") == "AVL006"
    for bad, problem in [("NOPE01", "not a catalogued"), ("AVL003", "requester's server")]:
        with pytest.raises(IpnsimError) as caught:
            forced_outcome(bad)
        assert caught.value.code == "VAL001"
        assert caught.value.details[0].field == FORCE_OUTCOME_HEADER
        assert problem in caught.value.details[0].problem
        assert FORCE_OUTCOME_HEADER in caught.value.message_en


# --- the fault table ---------------------------------------------------------------------------


def test_a_fault_for_an_unknown_agency_is_agy001() -> None:
    table = table_at()
    with pytest.raises(IpnsimError) as caught:
        table.set(UNKNOWN, FaultSettings(down=True))
    assert caught.value.code == "AGY001"
    with pytest.raises(IpnsimError):
        table.clear(UNKNOWN)


def test_faults_are_set_listed_replaced_and_cleared() -> None:
    table = table_at()
    table.set(ODAWARA, FaultSettings(down=True))
    table.set(YAMAGATA, FaultSettings(latency_ms=5))
    table.set(ODAWARA, FaultSettings(timeout=True))

    assert [(f.agency_code, f.down, f.timeout) for f in table.faults()] == [
        (YAMAGATA, False, False),
        (ODAWARA, False, True),
    ]
    assert table.clear(ODAWARA) is True
    assert table.clear(ODAWARA) is False
    assert [f.agency_code for f in table.faults()] == [YAMAGATA]
    assert table.clear_all() == 1
    assert table.faults() == []
    assert table.plan(ODAWARA, 2.0) == Plan()


def test_each_kind_of_fault_plans_its_outcome() -> None:
    cases: list[tuple[FaultSettings, Plan]] = [
        (FaultSettings(down=True), Plan(error_code="AVL001")),
        (FaultSettings(force_code="PRM001"), Plan(error_code="PRM001")),
        (FaultSettings(latency_ms=300), Plan(delay=0.3)),
        (FaultSettings(timeout=True), Plan(delay=2.0, error_code="AVL002")),
        (FaultSettings(latency_ms=2500), Plan(delay=2.0, error_code="AVL002")),
        (FaultSettings(online_hours="13:00-14:00"), Plan(error_code="AVL006")),
        (FaultSettings(online_hours="11:00-14:00", latency_ms=1), Plan(delay=0.001)),
        (FaultSettings(online_hours="13:00-14:00", down=True), Plan(error_code="AVL006")),
        (FaultSettings(error_rate=1, error_code="AVL005"), Plan(error_code="AVL005")),
        (FaultSettings(error_rate=0, error_code="AVL005"), Plan()),
    ]
    for settings, expected in cases:
        table = table_at(at_jst(12, 0))
        table.set(ODAWARA, settings)
        assert table.plan(ODAWARA, 2.0) == expected, settings
        assert table.plan(YAMAGATA, 2.0) == Plan(), "a fault touches only its provider"


def draws(settings: FaultSettings, count: int) -> list[Plan]:
    table = table_at()
    table.set(ODAWARA, settings)
    return [table.plan(ODAWARA, 60.0) for _ in range(count)]


def test_the_error_rate_is_seeded_and_repeats() -> None:
    settings = FaultSettings(error_rate=0.3, error_code="AVL001", seed=7)

    first = draws(settings, 1000)
    failed = sum(plan.error_code == "AVL001" for plan in first)

    assert first == draws(settings, 1000)
    assert 250 < failed < 350
    other = draws(FaultSettings(error_rate=0.3, error_code="AVL001", seed=8), 1000)
    assert other != first


def test_random_latency_is_seeded_and_within_its_range() -> None:
    settings = FaultSettings(latency_range_ms=(100, 400), seed=1)

    delays = [plan.delay for plan in draws(settings, 200)]

    assert delays == [plan.delay for plan in draws(settings, 200)]
    assert all(0.1 <= delay <= 0.4 for delay in delays)
    assert len(set(delays)) > 50


def test_setting_a_fault_again_restarts_its_sequence() -> None:
    table = table_at()
    settings = FaultSettings(error_rate=0.5, error_code="AVL001", seed=3)
    table.set(ODAWARA, settings)
    first = [table.plan(ODAWARA, 60.0) for _ in range(20)]
    table.set(ODAWARA, settings)

    assert [table.plan(ODAWARA, 60.0) for _ in range(20)] == first


def test_a_forced_outcome_wins_inside_its_block_only() -> None:
    table = table_at()
    table.set(ODAWARA, FaultSettings(down=True))

    with forcing("RPL001"):
        assert table.plan(ODAWARA, 2.0) == Plan(error_code="RPL001")
        assert table.plan(YAMAGATA, 2.0) == Plan(error_code="RPL001")
    assert table.plan(ODAWARA, 2.0) == Plan(error_code="AVL001")
    with forcing(None):
        assert table.plan(YAMAGATA, 2.0) == Plan()


def test_a_provider_down_or_offline_refuses_addenda_too() -> None:
    table = table_at(at_jst(21, 0))
    table.set(ODAWARA, FaultSettings(down=True))
    table.set(YAMAGATA, FaultSettings(online_hours="08:30-20:00"))

    assert table.unavailable(ODAWARA) == "AVL001"
    assert table.unavailable(YAMAGATA) == "AVL006"
    table.set(ODAWARA, FaultSettings(latency_ms=10))
    assert table.unavailable(ODAWARA) is None


def test_the_avl006_message_names_the_provider_and_its_hours() -> None:
    table = table_at(at_jst(21, 0))
    table.set(ODAWARA, FaultSettings(online_hours="08:30-20:00"))

    error = table.error("AVL006", AGENCIES[ODAWARA], 2.0)

    assert error.http_status == 503
    assert error.entry.retryable
    assert error.message_ja == (
        "情報提供者「２０１４２０６９００００００００」の中間サーバーは保守中又はオンライン時間外です。"
        "オンライン時間は「０８：３０－２０：００」です。"
    )
    assert "08:30-20:00 JST" in error.message_en


# --- the faults file ---------------------------------------------------------------------------


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "faults.json"
    path.write_text(content, encoding="utf-8")
    return path


def test_the_faults_file_puts_faults_in_force(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        json.dumps(
            [
                {"agency_code": ODAWARA, "down": True},
                {"agency_code": YAMAGATA, "latency_range_ms": [10, 20], "seed": 4},
            ]
        ),
    )
    table = table_at()

    loaded = load_faults_file(path, table)

    assert table.faults() == sorted(loaded, key=lambda fault: fault.agency_code)
    assert table.plan(ODAWARA, 2.0) == Plan(error_code="AVL001")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[{", "not JSON"),
        ('{"agency_code": "2014206900000000"}', "not a list of faults"),
        (f'[{{"agency_code": "{ODAWARA}", "latency_ms": -5}}]', "0.latency_ms"),
        (f'[{{"agency_code": "{ODAWARA}", "force_code": "IDN002"}}]', "requester's server"),
        (f'[{{"agency_code": "{ODAWARA}"}}]', "sets no failure"),
        (f'[{{"agency_code": "{UNKNOWN}", "down": true}}]', "not in the hub's registry"),
        (
            f'[{{"agency_code": "{ODAWARA}", "down": true}}, '
            f'{{"agency_code": "{ODAWARA}", "timeout": true}}]',
            "agency with two faults",
        ),
    ],
)
def test_a_bad_faults_file_is_refused_naming_file_and_reason(
    tmp_path: Path, content: str, reason: str
) -> None:
    path = write(tmp_path, content)
    table = table_at()

    with pytest.raises(FaultFileError) as caught:
        load_faults_file(path, table)

    assert str(caught.value).startswith(str(path))
    assert reason in str(caught.value)
    assert table.faults() == []


def test_a_missing_faults_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FaultFileError, match="cannot be read"):
        load_faults_file(tmp_path / "absent.json", table_at())


# --- the router ----------------------------------------------------------------------------------


def with_router(table: FaultTable, timeout: float = 0.5) -> Callable[[Any], Any]:
    def go(work: Callable[[FaultInjectingRouter], Awaitable[None]]) -> None:
        async def main() -> None:
            client = make_client(timeout)
            try:
                await work(FaultInjectingRouter(client, timeout, table))
            finally:
                await client.aclose()

        asyncio.run(main())

    return go


async def code_of(call: Awaitable[object]) -> IpnsimError:
    with pytest.raises(IpnsimError) as caught:
        await call
    return caught.value


def test_the_router_waits_the_latency_then_asks_the_provider() -> None:
    table = table_at()
    table.set(ODAWARA, FaultSettings(latency_ms=200))

    async def work(router: FaultInjectingRouter) -> None:
        started = time.monotonic()
        # The registry's providers listen nowhere: asked for real, they are unreachable.
        error = await code_of(router.provide(AGENCIES[ODAWARA], provision()))
        assert error.code == "AVL001"
        assert time.monotonic() - started >= 0.2

    with_router(table)(work)


def test_the_router_times_out_at_the_hubs_timeout() -> None:
    table = table_at()
    table.set(ODAWARA, FaultSettings(timeout=True))

    async def work(router: FaultInjectingRouter) -> None:
        started = time.monotonic()
        error = await code_of(router.provide(AGENCIES[ODAWARA], provision()))
        assert error.code == "AVL002"
        assert "0.5 seconds" in error.message_en
        assert 0.5 <= time.monotonic() - started < 2

    with_router(table)(work)


def test_the_router_fills_the_forced_codes_message() -> None:
    table = table_at()
    table.set(ODAWARA, FaultSettings(force_code="PRM001"))

    async def work(router: FaultInjectingRouter) -> None:
        error = await code_of(router.provide(AGENCIES[ODAWARA], provision()))
        assert error.code == "PRM001"
        assert NHI_TAX["info_type_code"] in error.message_en
        addendum = Addendum(
            addendum_id=uuid.uuid4(),
            inquiry_id=uuid.uuid4(),
            kind=AddendumKind.MISTAKEN_PERSON,
            reason="test",
            declared_by_agency=YAMAGATA,
            declared_by_user="u",
            declared_at=dt.datetime.now(dt.UTC),
        )
        table.set(ODAWARA, FaultSettings(down=True))
        assert (await code_of(router.deliver_addendum(AGENCIES[ODAWARA], addendum))).code == (
            "AVL001"
        )

    with_router(table)(work)


# --- the hub records faulted inquiries -------------------------------------------------------


def with_hub(tmp_path: Path, table: FaultTable, scenario: Callable[[HubService], Any]) -> None:
    async def go() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
        client = make_client(0.5)
        try:
            await migrate(engine, MIGRATIONS)
            permissions = PermissionTable.load(
                HubSettings.model_fields["permissions_file"].default, catalogue()
            )
            service = HubService(
                sessionmaker(engine),
                table.registry,
                permissions,
                catalogue(),
                FaultInjectingRouter(client, 0.5, table),
                SECRET,
            )
            await scenario(service)
        finally:
            await client.aclose()
            await engine.dispose()

    asyncio.run(go())


@pytest.mark.parametrize(
    ("code", "statuses", "reached"),
    [
        ("AVL001", ("99", "99"), False),
        ("AVL002", ("99", "99"), True),
        ("RPL001", ("09", "02"), False),
        ("REC004", ("99", "99"), False),
        ("AVL006", ("99", "99"), False),
    ],
)
def test_a_forced_code_is_answered_and_recorded_at_the_hub(
    tmp_path: Path, code: str, statuses: tuple[str, str], reached: bool
) -> None:
    table = table_at()

    async def scenario(service: HubService) -> None:
        await issue(service, ODAWARA)
        request = inquiry(await issue(service, YAMAGATA))
        with forcing(code):
            result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == code
        assert (result.status_detail.value, result.status_info_type.value) == statuses
        row = await hub_row(service, request.inquiry_id)
        assert row.error_code == code
        assert (row.status_detail, row.status_info_type) == statuses
        assert row.provider_reached is reached

    with_hub(tmp_path, table, scenario)


def test_a_fault_in_the_table_is_recorded_with_its_code(tmp_path: Path) -> None:
    table = table_at(at_jst(21, 0))
    table.set(ODAWARA, FaultSettings(online_hours="08:30-20:00"))

    async def scenario(service: HubService) -> None:
        await issue(service, ODAWARA)
        request = inquiry(await issue(service, YAMAGATA))
        result = await service.inquire(AGENCIES[YAMAGATA], request)
        assert result.error is not None
        assert result.error.code == "AVL006"
        row = await hub_row(service, request.inquiry_id)
        assert row.error_code == "AVL006"
        assert row.person_key is not None

    with_hub(tmp_path, table, scenario)


# --- the admin API -----------------------------------------------------------------------------


def hub_app(tmp_path: Path, faults_file: Path | None = None) -> Any:
    registry_file = tmp_path / "registry.json"
    registry_file.write_text(
        json.dumps({"agencies": [entry.model_dump(mode="json") for entry in AGENCIES.values()]}),
        encoding="utf-8",
    )
    return create_app(
        HubSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}",
            registry_file=registry_file,
            secret="hub-secret-for-unit-tests-0001",
            admin_token=ADMIN_TOKEN,
            faults_file=faults_file,
        )
    )


def call_hub(
    tmp_path: Path, *requests: tuple[str, str, Any], token: str = ADMIN_TOKEN
) -> list[Any]:
    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=hub_app(tmp_path))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://hub",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            return [
                await client.request(method, path, json=body) for method, path, body in requests
            ]

    return asyncio.run(go())


def test_the_admin_api_sets_lists_and_clears_faults(tmp_path: Path) -> None:
    put, listed, cleared, after, put_again, all_cleared, empty = call_hub(
        tmp_path,
        ("PUT", f"/v1/faults/{ODAWARA}", {"latency_range_ms": [10, 20], "seed": 2}),
        ("GET", "/v1/faults", None),
        ("DELETE", f"/v1/faults/{ODAWARA}", None),
        ("GET", "/v1/faults", None),
        ("PUT", f"/v1/faults/{YAMAGATA}", {"down": True}),
        ("DELETE", "/v1/faults", None),
        ("GET", "/v1/faults", None),
    )

    assert put.status_code == 200
    assert ProviderFault.model_validate_json(put.content) == ProviderFault(
        agency_code=ODAWARA, latency_range_ms=(10, 20), seed=2
    )
    assert [ProviderFault.model_validate(item) for item in listed.json()] == [
        ProviderFault.model_validate_json(put.content)
    ]
    assert cleared.status_code == 204
    assert after.json() == []
    assert put_again.status_code == 200
    assert all_cleared.status_code == 204
    assert empty.json() == []


def test_the_admin_api_refuses_bad_faults(tmp_path: Path) -> None:
    unknown, bad_value, bad_code, bad_path = call_hub(
        tmp_path,
        ("PUT", f"/v1/faults/{UNKNOWN}", {"down": True}),
        ("PUT", f"/v1/faults/{ODAWARA}", {"error_rate": 2, "error_code": "AVL001"}),
        ("PUT", f"/v1/faults/{ODAWARA}", {"force_code": "IDN001"}),
        ("PUT", "/v1/faults/odawara", {"down": True}),
    )

    assert (unknown.status_code, unknown.json()["code"]) == (404, "AGY001")
    assert (bad_value.status_code, bad_value.json()["code"]) == (422, "VAL001")
    assert bad_value.json()["details"][0]["field"] == "error_rate"
    assert bad_code.json()["code"] == "VAL001"
    assert "requester's server" in bad_code.json()["details"][0]["problem"]
    assert bad_path.json()["code"] == "VAL001"


def test_the_admin_api_is_for_the_operator_only(tmp_path: Path) -> None:
    listed, put, cleared = call_hub(
        tmp_path,
        ("GET", "/v1/faults", None),
        ("PUT", f"/v1/faults/{ODAWARA}", {"down": True}),
        ("DELETE", "/v1/faults", None),
        token=AGENCIES[YAMAGATA].credential,
    )

    assert [r.status_code for r in (listed, put, cleared)] == [401, 401, 401]
    assert {r.json()["code"] for r in (listed, put, cleared)} == {"AUT001"}


def test_the_hub_refuses_to_start_with_a_bad_faults_file(tmp_path: Path) -> None:
    path = write(tmp_path, f'[{{"agency_code": "{UNKNOWN}", "down": true}}]')

    with pytest.raises(FaultFileError, match="not in the hub's registry"):
        hub_app(tmp_path, faults_file=path)


# --- start-up: the launcher passes the faults file to the hub only ------------------------------


def test_the_launcher_gives_the_faults_file_to_the_hub(tmp_path: Path) -> None:
    path = write(tmp_path, "[]")
    with_faults = Launcher(data_dir=tmp_path / "a", faults_file=path)
    without = Launcher(data_dir=tmp_path / "b")
    for launcher in (with_faults, without):
        launcher.prepare()

    assert with_faults.network is not None and without.network is not None
    hub_env = with_faults._environment(with_faults.network.hub)
    assert hub_env["IPNSIM_HUB_FAULTS_FILE"] == str(path.resolve())
    assert "IPNSIM_HUB_FAULTS_FILE" not in without._environment(without.network.hub)
    for service in with_faults.network.agencies:
        assert "IPNSIM_HUB_FAULTS_FILE" not in with_faults._environment(service)

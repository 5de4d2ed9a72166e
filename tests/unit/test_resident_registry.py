"""The mock resident registry (住基ネット照会): matching, outcomes, the service and ``ipnsim lookup``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError
from typer.testing import CliRunner

from agencies.population import Person, Population, generate_population
from agencies.resident_registry import (
    LookupQuery,
    ResidentRegistry,
    ResidentRegistrySettings,
    address_matches,
    create_app,
    normalise_address,
    normalise_name,
    population_of,
)
from error_codes import CATALOGUE, IpnsimError
from ipnsim.launcher import NETWORK_FILE, NetworkFile, ServiceInfo
from ipnsim.registry_commands import lookup_command
from ipnsim.serve import Role, build_app

BIRTH = dt.date(1980, 3, 14)


def person(
    key: str,
    *,
    family: str = "近藤",
    given: str = "舞",
    family_kana: str = "コンドウ",
    given_kana: str = "マイ",
    birth_date: dt.date = BIRTH,
    sex: str = "female",
    address: str = "山形県山形市長畑17丁目17番16号",
    slug: str = "yamagata",
    my_number: str = "929624331094",
    resident_code: str = "76797580548",
) -> Person:
    return Person(
        person_key=key,
        family_name=family,
        given_name=given,
        family_name_kana=family_kana,
        given_name_kana=given_kana,
        birth_date=birth_date,
        sex=sex,
        my_number=my_number,
        resident_code=resident_code,
        address=address,
        municipality_slug=slug,
    )


def population_of_people(people: list[Person]) -> Population:
    return Population(people=tuple(people), registrations=(), replicas=(), personas={})


KONDO = person("P0001")
# Namesakes (同姓同名): same name, birth date and sex, living in two municipalities.
SATO_YAMAGATA = person(
    "P0002",
    family="佐藤",
    given="花子",
    family_kana="サトウ",
    given_kana="ハナコ",
    birth_date=dt.date(1990, 7, 1),
    address="山形県山形市旅篭町2丁目3番25号",
    my_number="111111111118",
    resident_code="22222222222",
)
SATO_ODAWARA = person(
    "P0003",
    family="佐藤",
    given="花子",
    family_kana="サトウ",
    given_kana="ハナコ",
    birth_date=dt.date(1990, 7, 1),
    address="神奈川県小田原市荻窪300番地",
    slug="odawara",
    my_number="333333333336",
    resident_code="44444444444",
)
# Same name and birth date as KONDO, but male: sex tells them apart.
KONDO_MALE = person(
    "P0004",
    given="舞",
    sex="male",
    address="北海道標津郡中標津町東1条北2丁目3番4号",
    slug="nakashibetsu",
    my_number="555555555554",
    resident_code="66666666666",
)
PEOPLE = [KONDO, SATO_YAMAGATA, SATO_ODAWARA, KONDO_MALE]
NUMBERS = [number for p in PEOPLE for number in (p.my_number, p.resident_code)]


@pytest.fixture(scope="module")
def registry() -> ResidentRegistry:
    return ResidentRegistry(population_of_people(PEOPLE))


def query(**fields: Any) -> LookupQuery:
    return LookupQuery.model_validate(
        {"birth_date": BIRTH, "sex": "female"} | {k: v for k, v in fields.items() if v is not None}
    )


def sato(**fields: Any) -> LookupQuery:
    return query(name="佐藤 花子", birth_date=dt.date(1990, 7, 1), **fields)


# --- normalisation ------------------------------------------------------------------------------


def test_names_compare_without_spaces_width_or_script() -> None:
    assert normalise_name("近藤 舞") == normalise_name("近藤\u3000\u3000舞") == "近藤舞"
    assert normalise_name("こんどう まい") == "コンドウマイ"
    assert normalise_name("ｺﾝﾄﾞｳ ﾏｲ") == "コンドウマイ"
    assert normalise_name("ｶﾞｯｺｳ") == "ガッコウ"
    assert normalise_name("スミス・ジョン") == "スミスジョン"


def test_addresses_compare_block_numbers_in_any_writing() -> None:
    written = normalise_address("山形県山形市長畑17丁目17番16号")
    assert written == "山形県山形市長畑17-17-16"
    assert normalise_address("山形県 山形市長畑１７－１７－１６") == written
    assert normalise_address("山形県山形市長畑17ー17ー16") == written
    assert normalise_address("神奈川県小田原市荻窪300番地") == "神奈川県小田原市荻窪300"


def test_address_matches_its_beginning_with_or_without_prefecture() -> None:
    registered = KONDO.address
    assert address_matches(registered, "山形県")
    assert address_matches(registered, "山形県山形市")
    assert address_matches(registered, "山形市長畑17丁目")
    assert address_matches(registered, "山形市長畑17-17-16")
    assert address_matches(KONDO_MALE.address, "中標津町東1条")
    assert address_matches(KONDO_MALE.address, "標津郡中標津町")
    assert not address_matches(registered, "神奈川県")
    assert not address_matches(registered, "長畑17丁目")
    # A number must be whole: 長畑1 is not the beginning of 長畑17丁目.
    assert not address_matches(registered, "山形市長畑1")
    assert not address_matches(registered, "山形市長畑17丁目17番1")


# --- outcomes -----------------------------------------------------------------------------------


def test_found_by_kanji_name(registry: ResidentRegistry) -> None:
    found = registry.lookup(query(name="近藤 舞"))
    assert found.status == "found"
    assert (found.my_number, found.resident_code) == (KONDO.my_number, KONDO.resident_code)
    assert (found.family_name, found.given_name) == ("近藤", "舞")
    assert (found.family_name_kana, found.given_name_kana) == ("コンドウ", "マイ")
    assert (found.birth_date, found.sex, found.address) == (BIRTH, "female", KONDO.address)


@pytest.mark.parametrize(
    "kana", ["コンドウ マイ", "こんどう まい", "ｺﾝﾄﾞｳ ﾏｲ", "コンドウ　マイ", "こんどうまい"]
)
def test_found_by_kana_in_katakana_hiragana_or_half_width(
    registry: ResidentRegistry, kana: str
) -> None:
    assert registry.lookup(query(name_kana=kana)).my_number == KONDO.my_number


@pytest.mark.parametrize("name", ["近藤舞", "近藤 舞", "近藤\u3000舞", " 近藤  舞 ", "近藤　 舞"])
def test_spaces_are_ignored(registry: ResidentRegistry, name: str) -> None:
    assert registry.lookup(query(name=name)).my_number == KONDO.my_number


def test_name_and_kana_must_both_match(registry: ResidentRegistry) -> None:
    assert registry.lookup(query(name="近藤 舞", name_kana="コンドウ マイ")).my_number == (
        KONDO.my_number
    )
    with pytest.raises(IpnsimError) as raised:
        registry.lookup(query(name="近藤 舞", name_kana="コンドウ アイ"))
    assert raised.value.code == "IDN007"


def test_sex_tells_namesakes_apart(registry: ResidentRegistry) -> None:
    assert registry.lookup(query(name="近藤舞", sex="male")).my_number == KONDO_MALE.my_number


def test_address_narrows_and_can_exclude(registry: ResidentRegistry) -> None:
    assert registry.lookup(query(name="近藤舞", address="山形市")).my_number == KONDO.my_number
    with pytest.raises(IpnsimError) as raised:
        registry.lookup(query(name="近藤舞", address="福岡県"))
    assert raised.value.code == "IDN007"


def test_nobody_matching_is_idn007_with_its_messages(registry: ResidentRegistry) -> None:
    with pytest.raises(IpnsimError) as raised:
        registry.lookup(query(name="近藤 舞", birth_date=dt.date(1980, 3, 15)))
    error = raised.value
    assert error.code == "IDN007"
    assert error.http_status == 404
    assert error.message_ja == "指定された条件に該当する住民は存在しません。"
    assert error.message_en == CATALOGUE["IDN007"].message_en


def test_namesakes_are_idn008_naming_how_many(registry: ResidentRegistry) -> None:
    with pytest.raises(IpnsimError) as raised:
        registry.lookup(sato())
    error = raised.value
    assert error.code == "IDN008"
    assert error.http_status == 409
    assert "「２」件" in error.message_ja
    assert "住所" in error.message_ja
    assert error.message_en.startswith("2 residents match")
    assert "address" in error.message_en
    body = error.body().model_dump_json()
    assert not any(number in body for number in NUMBERS)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("神奈川県小田原市", SATO_ODAWARA),
        ("小田原市荻窪300番地", SATO_ODAWARA),
        ("山形県山形市旅篭町２－３－２５", SATO_YAMAGATA),
        ("山形市", SATO_YAMAGATA),
    ],
)
def test_the_address_resolves_namesakes(
    registry: ResidentRegistry, address: str, expected: Person
) -> None:
    found = registry.lookup(sato(address=address))
    assert (found.my_number, found.resident_code) == (expected.my_number, expected.resident_code)


def test_neither_name_nor_kana_is_val001(registry: ResidentRegistry) -> None:
    for missing in (query(), query(name="  ", name_kana="\u3000")):
        with pytest.raises(IpnsimError) as raised:
            registry.lookup(missing)
        assert raised.value.code == "VAL001"
        assert {detail.field for detail in raised.value.details} == {"name", "name_kana"}


def test_query_refuses_bad_dates_sexes_and_kana() -> None:
    for bad in (
        {"name": "近藤舞", "birth_date": "1980-02-30", "sex": "female"},
        {"name": "近藤舞", "birth_date": "14/03/1980", "sex": "female"},
        {"name": "近藤舞", "birth_date": 19800314, "sex": "female"},
        {"name": "近藤舞", "birth_date": "1980-03-14", "sex": "f"},
        {"name_kana": "近藤", "birth_date": "1980-03-14", "sex": "female"},
    ):
        with pytest.raises(ValidationError):
            LookupQuery.model_validate(bad)


def test_logs_name_the_outcome_but_never_a_number(
    registry: ResidentRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ipnsim.resident_registry")
    registry.lookup(query(name="近藤舞"))
    for unanswerable in (sato(), query(name="誰か")):
        with pytest.raises(IpnsimError):
            registry.lookup(unanswerable)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert "found" in messages[0]
    assert "ambiguous, 2 candidates" in messages[1]
    assert "not found" in messages[2]
    assert not any(number in caplog.text for number in NUMBERS)


def test_every_generated_person_is_found_or_reported_as_a_namesake() -> None:
    population = generate_population()
    registry = ResidentRegistry(population)
    assert len(registry) == len(population.people)
    for resident in population.people:
        by_name = LookupQuery.model_validate(
            {"name": resident.name, "birth_date": resident.birth_date, "sex": resident.sex}
        )
        by_kana = by_name.model_copy(update={"name": None, "name_kana": resident.name_kana})
        for lookup, name in ((by_name, "name"), (by_kana, "name_kana")):
            namesakes = [
                other
                for other in population.people
                if (other.birth_date, other.sex, getattr(other, name))
                == (resident.birth_date, resident.sex, getattr(resident, name))
            ]
            if len(namesakes) == 1:
                assert registry.lookup(lookup).my_number == resident.my_number
            else:
                with pytest.raises(IpnsimError, match="IDN008"):
                    registry.lookup(lookup)
        with_address = by_name.model_copy(update={"address": resident.address})
        assert registry.lookup(with_address).my_number == resident.my_number


def test_a_registry_of_100000_people_builds_and_answers_quickly() -> None:
    families = [("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ")]
    givens = [("花子", "ハナコ"), ("太郎", "タロウ"), ("美咲", "ミサキ"), ("翔", "ショウ")]
    first_day = dt.date(1940, 1, 1)
    people = [
        Person(
            person_key=f"P{index:06d}",
            family_name=families[index % 4][0],
            given_name=givens[index // 4 % 4][0],
            family_name_kana=families[index % 4][1],
            given_name_kana=givens[index // 4 % 4][1],
            birth_date=first_day + dt.timedelta(days=index // 16),
            sex="male" if index % 2 else "female",
            my_number=f"{index:012d}",
            resident_code=f"{index:011d}",
            address=f"山形県山形市旅篭町{index % 50 + 1}丁目{index % 7 + 1}番{index}号",
            municipality_slug="yamagata",
        )
        for index in range(100_000)
    ]
    started = time.perf_counter()
    registry = ResidentRegistry(population_of_people(people))
    built = time.perf_counter() - started
    assert len(registry) == 100_000
    assert built < 30, f"building took {built:.1f} s"

    started = time.perf_counter()
    for index in range(0, 100_000, 100):
        target = people[index]
        found = registry.lookup(
            LookupQuery(
                name_kana=target.name_kana,
                birth_date=target.birth_date,
                sex="male" if target.sex == "male" else "female",
            )
        )
        assert found.my_number == target.my_number
    answered = time.perf_counter() - started
    assert answered < 5, f"1,000 lookups took {answered:.1f} s"


# --- the service --------------------------------------------------------------------------------


def call(
    app: FastAPI, method: str, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, json=body)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(ResidentRegistrySettings(), population=population_of_people(PEOPLE))


def test_health_and_title(app: FastAPI) -> None:
    response = call(app, "GET", "/health")
    assert response.status_code == 200
    assert response.json()["service"] == "resident_registry"
    assert "住民基本台帳ネットワークシステム (mock)" in app.title


def test_http_found(app: FastAPI) -> None:
    response = call(
        app,
        "POST",
        "/v1/lookup",
        {"name_kana": "こんどう まい", "birth_date": "1980-03-14", "sex": "female"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "found",
        "my_number": KONDO.my_number,
        "resident_code": KONDO.resident_code,
        "family_name": "近藤",
        "given_name": "舞",
        "family_name_kana": "コンドウ",
        "given_name_kana": "マイ",
        "birth_date": "1980-03-14",
        "sex": "female",
        "address": KONDO.address,
    }


def test_http_not_found_is_404_idn007(app: FastAPI) -> None:
    response = call(
        app, "POST", "/v1/lookup", {"name": "誰か", "birth_date": "1980-03-14", "sex": "female"}
    )
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "IDN007"
    assert body["message_ja"] == CATALOGUE["IDN007"].message_ja
    assert body["explanation"] == "/v1/errors/IDN007"


def test_http_ambiguous_is_409_idn008_without_any_number(app: FastAPI) -> None:
    sato_body = {"name": "佐藤花子", "birth_date": "1990-07-01", "sex": "female"}
    response = call(app, "POST", "/v1/lookup", sato_body)
    assert response.status_code == 409
    assert response.json()["code"] == "IDN008"
    assert "「２」件" in response.json()["message_ja"]
    assert not any(number in response.text for number in NUMBERS)

    resolved = call(app, "POST", "/v1/lookup", sato_body | {"address": "小田原市"})
    assert resolved.status_code == 200
    assert resolved.json()["my_number"] == SATO_ODAWARA.my_number


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"birth_date": "1980-03-14", "sex": "female"}, "name"),
        ({"name": "近藤舞", "birth_date": "1980-02-30", "sex": "female"}, "birth_date"),
        ({"name": "近藤舞", "birth_date": "yesterday", "sex": "female"}, "birth_date"),
        ({"name": "近藤舞", "sex": "female"}, "birth_date"),
        ({"name": "近藤舞", "birth_date": "1980-03-14", "sex": "other"}, "sex"),
        ({"name_kana": "Kondo", "birth_date": "1980-03-14", "sex": "female"}, "name_kana"),
        ({"name": "近藤舞", "birth_date": "1980-03-14", "sex": "female", "x": 1}, "x"),
    ],
)
def test_http_bad_input_is_val001_naming_the_field(
    app: FastAPI, body: dict[str, Any], field: str
) -> None:
    response = call(app, "POST", "/v1/lookup", body)
    assert response.status_code == 422
    assert response.json()["code"] == "VAL001"
    assert response.json()["details"][0]["field"] == field


def test_http_unknown_path_and_method_have_codes(app: FastAPI) -> None:
    assert call(app, "GET", "/v1/lookup").json()["code"] == "VAL005"
    assert call(app, "GET", "/v1/nothing").json()["code"] == "VAL004"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPNSIM_REGISTRY_SEED", "7")
    monkeypatch.setenv("IPNSIM_REGISTRY_FISCAL_YEAR", "2025")
    settings = ResidentRegistrySettings()
    assert (settings.seed, settings.population, settings.fiscal_year) == (7, 40, 2025)
    monkeypatch.setenv("IPNSIM_REGISTRY_POPULATION", "0")
    with pytest.raises(ValidationError):
        ResidentRegistrySettings()


def test_the_default_app_holds_the_generated_population() -> None:
    population = generate_population(0, 2026)
    assert population_of(ResidentRegistrySettings()).people == population.people
    app = create_app(ResidentRegistrySettings())
    first = population.people[0]
    response = call(
        app,
        "POST",
        "/v1/lookup",
        {
            "name": first.name,
            "birth_date": first.birth_date.isoformat(),
            "sex": first.sex,
            "address": first.address,
        },
    )
    assert response.status_code == 200
    assert response.json()["my_number"] == first.my_number


def test_serve_builds_the_registry_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPNSIM_REGISTRY_POPULATION", raising=False)
    assert Role("registry") is Role.REGISTRY
    app = build_app(Role.REGISTRY)
    assert "住民基本台帳ネットワークシステム" in app.title
    assert call(app, "GET", "/health").json()["service"] == "resident_registry"


# --- ipnsim lookup ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    """The registry of PEOPLE served by uvicorn in a background thread."""
    port = free_port()
    app = create_app(ResidentRegistrySettings(), population=population_of_people(PEOPLE))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the registry did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    assert not thread.is_alive()


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """ipnsim (test)."""

    app.command("lookup")(lookup_command)
    return app


def lookup(*args: str, data_dir: Path | None = None) -> Any:
    env = {"COLUMNS": "200"}
    if data_dir is not None:
        env["IPNSIM_DATA_DIR"] = str(data_dir)
    return CliRunner().invoke(cli(), ["lookup", *args], env=env)


KONDO_ARGS = ("--name", "近藤 舞", "--birth-date", "1980-03-14", "--sex", "female")


def test_cli_found_prints_a_table(registry_url: str) -> None:
    result = lookup(*KONDO_ARGS, "--url", registry_url)
    assert result.exit_code == 0, result.output
    assert KONDO.my_number in result.stdout
    assert KONDO.resident_code in result.stdout
    assert "個人番号" in result.stdout
    assert KONDO.address in result.stdout


def test_cli_found_as_json(registry_url: str) -> None:
    result = lookup(
        "--kana", "ｺﾝﾄﾞｳ ﾏｲ", "--birth-date", "1980-03-14", "--sex", "female", "--url", registry_url
    )
    assert result.exit_code == 0, result.output
    result = lookup(*KONDO_ARGS, "--json", "--url", registry_url)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "found"
    assert answer["my_number"] == KONDO.my_number


def test_cli_not_found_exits_1_with_idn007_on_stderr(registry_url: str) -> None:
    result = lookup(
        "--name", "誰か", "--birth-date", "1980-03-14", "--sex", "female", "--url", registry_url
    )
    assert result.exit_code == 1
    assert "IDN007" in result.stderr
    assert CATALOGUE["IDN007"].message_ja in result.stderr
    assert CATALOGUE["IDN007"].message_en in result.stderr
    assert result.stdout == ""


def test_cli_namesakes_exit_1_with_idn008_and_no_number(registry_url: str) -> None:
    args = ("--name", "佐藤 花子", "--birth-date", "1990-07-01", "--sex", "female")
    result = lookup(*args, "--url", registry_url)
    assert result.exit_code == 1
    assert "IDN008" in result.stderr
    assert not any(number in result.output for number in NUMBERS)
    resolved = lookup(*args, "--address", "神奈川県小田原市", "--url", registry_url)
    assert resolved.exit_code == 0, resolved.output
    assert SATO_ODAWARA.my_number in resolved.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("--name", "近藤舞", "--birth-date", "1980-02-30", "--sex", "female"),
        ("--name", "近藤舞", "--birth-date", "14/03/1980", "--sex", "female"),
        ("--name", "近藤舞", "--birth-date", "1980-03-14", "--sex", "other"),
        ("--birth-date", "1980-03-14", "--sex", "female"),
        ("--kana", "Kondo", "--birth-date", "1980-03-14", "--sex", "female"),
    ],
)
def test_cli_bad_input_exits_2(registry_url: str, args: tuple[str, ...]) -> None:
    result = lookup(*args, "--url", registry_url)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_cli_unreachable_exits_3_with_a_hint() -> None:
    result = lookup(*KONDO_ARGS, "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 3, result.output
    assert "ipnsim up" in result.stderr


def network_file(data_dir: Path, services: list[ServiceInfo]) -> None:
    network = NetworkFile(
        host="127.0.0.1", hub_secret="s", admin_token="t", seed=0, services=services
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / NETWORK_FILE).write_text(network.model_dump_json(), encoding="utf-8")


def test_cli_finds_the_registry_in_network_json(registry_url: str, tmp_path: Path) -> None:
    port = int(registry_url.rsplit(":", 1)[1])
    registry = ServiceInfo(
        name="resident-registry", role="registry", url=registry_url, port=port, log_file="x.log"
    )
    network_file(tmp_path, [registry])
    result = lookup(*KONDO_ARGS, data_dir=tmp_path)
    assert result.exit_code == 0, result.output
    assert KONDO.my_number in result.stdout


def test_cli_without_a_registry_in_network_json_says_so(tmp_path: Path) -> None:
    hub = ServiceInfo(name="hub", role="hub", url="http://127.0.0.1:1", port=1, log_file="h.log")
    network_file(tmp_path, [hub])
    result = lookup(*KONDO_ARGS, data_dir=tmp_path)
    assert result.exit_code == 2
    assert "resident-registry" in result.stderr
    assert "--url" in result.stderr


def test_cli_without_a_network_says_how_to_start_one(tmp_path: Path) -> None:
    result = lookup(*KONDO_ARGS, data_dir=tmp_path / "none")
    assert result.exit_code == 2
    assert "ipnsim up" in result.stderr

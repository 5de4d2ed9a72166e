"""The hub's persona file: loaded whole or refused with the file and the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agencies.population import persona_population
from error_codes import IpnsimError
from network.personas import PersonaFileError, find_persona, load_personas
from network.protocol.models import PersonaCatalogue


@pytest.fixture(scope="module")
def served() -> PersonaCatalogue:
    return persona_population(seed=0).persona_catalogue()


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "personas.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def test_a_written_catalogue_loads_back_unchanged(tmp_path: Path, served: PersonaCatalogue) -> None:
    path = write(tmp_path, served.model_dump(mode="json"))

    assert load_personas(path) == served
    assert find_persona(served, "moved_in").name == "moved_in"


def test_without_a_file_the_catalogue_is_empty() -> None:
    empty = load_personas(None)

    assert (empty.personas, empty.affair_tour) == ([], [])


def test_an_unknown_persona_is_val006(served: PersonaCatalogue) -> None:
    with pytest.raises(IpnsimError) as raised:
        find_persona(served, "nobody")

    assert raised.value.code == "VAL006"


def test_a_missing_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"

    with pytest.raises(PersonaFileError, match=r"absent\.json: cannot be read"):
        load_personas(path)


def test_broken_json_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "personas.json"
    path.write_text('{\n  "seed": 0,\n  oops\n}\n', encoding="utf-8")

    with pytest.raises(PersonaFileError, match=r"personas\.json:3: not JSON"):
        load_personas(path)


def test_a_persona_listed_twice_is_refused(tmp_path: Path, served: PersonaCatalogue) -> None:
    data = served.model_dump(mode="json")
    data["personas"].append(data["personas"][0])

    with pytest.raises(PersonaFileError, match="persona listed twice: moved_in"):
        load_personas(write(tmp_path, data))


def test_a_tour_naming_an_unknown_persona_is_refused(
    tmp_path: Path, served: PersonaCatalogue
) -> None:
    data = served.model_dump(mode="json")
    data["affair_tour"][0]["persona"] = "ghost"

    with pytest.raises(PersonaFileError, match="unknown personas: ghost"):
        load_personas(write(tmp_path, data))


def test_a_malformed_inquiry_is_refused(tmp_path: Path, served: PersonaCatalogue) -> None:
    data = served.model_dump(mode="json")
    data["personas"][0]["inquiry"]["atena_number"] = "12"

    with pytest.raises(PersonaFileError, match="not a persona catalogue"):
        load_personas(write(tmp_path, data))

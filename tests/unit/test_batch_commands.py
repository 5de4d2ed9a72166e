"""``ipnsim batch make`` and ``ipnsim validate batch``: request files made and checked offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ipnsim.cli import app
from network.protocol.batch_file import FIXED_WIDTH, MAX_ROWS

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == code, result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr
    return result


def atena_csv(tmp_path: Path, count: int, header: bool = True) -> Path:
    lines = (["atena_number,name"] if header else []) + [
        f"{number},person{number}" for number in range(1, count + 1)
    ]
    path = tmp_path / "atena.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="cp932")
    return path


def make(tmp_path: Path, *options: str, count: int = 3) -> list[dict[str, Any]]:
    result = invoke(
        "batch",
        "make",
        str(atena_csv(tmp_path, count)),
        "--procedure",
        "JT01010000000214",
        "--agency",
        "yamagata",
        "--provider",
        "odawara",
        "-o",
        str(tmp_path / "out"),
        "--json",
        *options,
    )
    made: list[dict[str, Any]] = json.loads(result.stdout)
    return made


def test_make_writes_a_fixed_width_cp932_file_that_validates(tmp_path: Path) -> None:
    (made,) = make(tmp_path, "--fiscal-year", "2026", "--department", "税務課")
    path = Path(made["path"])
    assert made["rows"] == 3
    assert path.name.startswith("P640R110_") and path.name.endswith("_0001.DAT")
    data = path.read_bytes()
    lines = data.split(b"\r\n")
    assert [len(line) for line in lines] == [FIXED_WIDTH] * 3 + [0]
    assert lines[0][2:32] == b" " * 15 + b"000000000000001"
    assert "税務課".encode("cp932") in lines[0]

    checked = invoke("validate", "batch", str(path), "--agency", "yamagata")
    assert "3 rows (fixed, cp932): ok" in checked.stdout


def test_make_csv_utf8_and_split_at_ten_thousand_rows(tmp_path: Path) -> None:
    made = make(tmp_path, "--variant", "csv", "--encoding", "utf-8", count=MAX_ROWS + 1)
    assert [item["rows"] for item in made] == [MAX_ROWS, 1]
    assert [Path(item["path"]).name[-9:] for item in made] == ["_0001.csv", "_0002.csv"]
    first = Path(made[0]["path"]).read_text(encoding="utf-8").splitlines()[0]
    assert first.split(",")[2] == "000000000000001"
    invoke("validate", "batch", *(item["path"] for item in made))


def test_make_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    result = invoke(
        "batch",
        "make",
        str(atena_csv(tmp_path, 1)),
        "--procedure",
        "JT99999999999999",
        "--agency",
        "yamagata",
        "--provider",
        "odawara",
        code=2,
    )
    assert "unknown procedure" in result.stderr
    result = invoke(
        "batch",
        "make",
        str(atena_csv(tmp_path, 1)),
        "--procedure",
        "JT01010000000214",
        "--agency",
        "nowhere",
        "--provider",
        "odawara",
        code=2,
    )
    assert "'nowhere'" in result.stderr


def test_validate_names_every_problem_by_file_line_and_field(tmp_path: Path) -> None:
    (made,) = make(tmp_path, "--variant", "csv", "--encoding", "utf-8")
    path = Path(made["path"])
    rows = path.read_bytes().split(b"\r\n")
    rows[1] = rows[1].replace(b"JT01010000000214", b"JT0101000000021X")
    rows[2] = rows[2].replace(b",2006201400000000,", b",2014206900000000,")
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\r\n".join(rows) + b"\n")

    result = invoke("validate", "batch", str(broken), "--agency", "yamagata", code=1)
    assert "broken.csv line 2 field 10 事務手続きコード: must be JT + 14 digits" in result.stdout
    assert "broken.csv line 3 field 7 情報照会者機関コード:" in result.stdout
    assert "broken.csv line 4: the row ends with LF alone; rows end with CRLF" in result.stdout
    assert "broken.csv line 4: the row is empty (BAT003)" in result.stdout
    assert "4 rows (csv, cp932): 4 problems" in result.stdout  # plain ASCII: taken as CP932

    as_json = json.loads(
        invoke("validate", "batch", str(broken), "--agency", "yamagata", "--json", code=1).stdout
    )
    assert as_json["count"] == 4
    assert [(p["line"], p["field"], p["code"]) for p in as_json["problems"]] == [
        (2, 10, "BAT004"),
        (3, 7, "BAT004"),
        (4, None, "BAT003"),
        (4, None, "BAT003"),
    ]


@pytest.mark.parametrize("encoding", ["latin-1", "UTF8"])
def test_validate_refuses_an_unknown_encoding(tmp_path: Path, encoding: str) -> None:
    (made,) = make(tmp_path)
    result = invoke("validate", "batch", made["path"], "--encoding", encoding, code=2)
    assert "--encoding must be one of utf-8, cp932" in result.stderr

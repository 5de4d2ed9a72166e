"""``ipnsim openapi`` writes every service's OpenAPI document without a running network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

KEY_PATHS = {
    "hub.json": {
        ("/v1/inquiries", "post"),
        ("/v1/inquiries/fan-out", "post"),
        ("/v1/pseudonyms", "post"),
        ("/v1/personas", "get"),
        ("/v1/faults/{agency_code}", "put"),
        ("/v1/records/{inquiry_id}", "get"),
    },
    "intermediate-server.json": {
        ("/v1/people", "post"),
        ("/v1/replicas", "post"),
        ("/v1/inquiries", "post"),
        ("/v1/inquiries/fan-out", "post"),
        ("/v1/inquiries/{inquiry_id}/mistaken", "post"),
        ("/v1/manual-responses/{inquiry_id}/answer", "post"),
        ("/v1/records", "get"),
        ("/v1/people/{atena_number}/disclosure", "get"),
    },
    "resident-registry.json": {("/v1/lookup", "post"), ("/health", "get")},
}


def test_openapi_writes_a_valid_document_per_service(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "openapi"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "ipnsim", "openapi", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(root), "COLUMNS": "200"},
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted(KEY_PATHS)
    for name, wanted in KEY_PATHS.items():
        document = json.loads((out / name).read_text(encoding="utf-8"))
        assert document["openapi"].startswith("3.")
        assert document["info"]["title"]
        present = {
            (path, method) for path, methods in document["paths"].items() for method in methods
        }
        assert wanted <= present, (name, wanted - present)
        assert name in result.stdout
    assert not list(tmp_path.glob("*.sqlite3")), "no database is created"


def test_every_error_answer_is_documented_as_an_error_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each operation declares its failures with the ErrorBody every service really sends:
    VAL001 as 422 (not FastAPI's HTTPValidationError), the route's own error statuses, and a
    ``default`` for any other; so a client generated from the document can read them."""
    from ipnsim.openapi_commands import openapi_documents

    monkeypatch.chdir(tmp_path)  # the apps' default signing keys are written there
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for stem, document in openapi_documents().items():
        assert "HTTPValidationError" not in json.dumps(document), stem
        assert "code" in document["components"]["schemas"]["ErrorBody"]["properties"]
        for path, item in document["paths"].items():
            for method, operation in item.items():
                responses = operation["responses"]
                assert responses["default"]["content"]["application/json"]["schema"] == error_body
                for status, response in responses.items():
                    if status[0] in "45":
                        schema = response["content"]["application/json"]["schema"]
                        assert schema == error_body, (stem, method, path, status)
    lookup = openapi_documents()["resident-registry"]["paths"]["/v1/lookup"]["post"]
    assert lookup["responses"]["409"]["content"]["application/json"]["schema"] == error_body

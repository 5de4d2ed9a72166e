"""``ipnsim openapi`` writes every service's OpenAPI document without a running network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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

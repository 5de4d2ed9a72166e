"""The request journal's verdicts: accepted, answered with a code, refused with its near misses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from intermediate_server.db import MIGRATIONS
from intermediate_server.journal import Exchange, RequestJournal, verdict_of
from ipnsim.storage import create_engine, migrate, sessionmaker


def exchange(status: int, body: object | None, path: str = "/v1/inquiries") -> Exchange:
    raw = json.dumps(body).encode() if body is not None else None
    return Exchange(method="POST", path=path, status=status, body=raw, duration_ms=1.5)


def test_a_normal_answer_is_accepted() -> None:
    verdict = verdict_of(exchange(200, {"inquiry_id": "x", "error": None, "items": []}))
    assert verdict == {
        "verdict": "accepted",
        "error_code": None,
        "message_en": None,
        "details": [],
    }
    assert verdict_of(exchange(201, None, "/v1/people"))["verdict"] == "accepted"


def test_an_inquiry_that_ended_with_a_code_is_answered() -> None:
    body = {"error": {"code": "PRM001", "message_en": "not permitted", "details": []}}
    verdict = verdict_of(exchange(200, body))
    assert (verdict["verdict"], verdict["error_code"]) == ("answered", "PRM001")


def test_a_refusal_keeps_its_code_and_every_field_that_failed() -> None:
    body = {
        "code": "VAL001",
        "message_en": "Field 'atena_number' is invalid",
        "details": [
            {"field": "atena_number", "problem": "String should match pattern"},
            {"field": "provider_code", "problem": "Field required"},
        ],
    }
    verdict = verdict_of(exchange(422, body))
    assert verdict["verdict"] == "refused"
    assert verdict["error_code"] == "VAL001"
    assert [detail["field"] for detail in verdict["details"]] == ["atena_number", "provider_code"]


def test_a_refusal_without_a_readable_body_is_still_refused() -> None:
    broken = Exchange(method="GET", path="/v1/x", status=500, body=b"<html>", duration_ms=1)
    assert verdict_of(broken)["verdict"] == "refused"
    assert verdict_of(broken)["error_code"] is None


def test_entries_are_written_in_blocks_and_read_newest_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'agency.sqlite3'}")
        try:
            await migrate(engine, MIGRATIONS)
            journal = RequestJournal(sessionmaker(engine))
            journal.note(exchange(200, {"error": None}))
            journal.note(exchange(422, {"code": "VAL001", "details": []}))
            assert await journal.flush() == 2
            assert await journal.flush() == 0
            journal.note(exchange(201, None, "/v1/people"))
            newest = await journal.entries(10, refused_only=False)
            assert [entry.path for entry in newest] == [
                "/v1/people",
                "/v1/inquiries",
                "/v1/inquiries",
            ]
            refused = await journal.entries(10, refused_only=True)
            assert [entry.error_code for entry in refused] == ["VAL001"]
            older = await journal.entries(10, refused_only=False, before=newest[0].entry_id)
            assert len(older) == 2
        finally:
            await engine.dispose()

    asyncio.run(scenario())

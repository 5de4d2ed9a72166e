"""The person's portal (やりとり履歴) over real processes: a mock My Number card logs in by
signing the hub's challenge, and its token shows its holder's records only — never another
person's, whatever inquiry id is tried."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agencies.catalogue import ODAWARA, YAMAGATA
from agencies.personas import LOCAL_TAX_INFO
from tests.e2e.conftest import RunningNetwork, ipnsim_cli

pytestmark = pytest.mark.e2e


def cli(net: RunningNetwork, *args: str) -> subprocess.CompletedProcess[str]:
    return ipnsim_cli(net.data_dir, *args)


def inquire(net: RunningNetwork, persona: str, non_disclosure: bool = False) -> uuid.UUID:
    body: dict[str, Any] = {
        "atena_number": net.atena(YAMAGATA, persona),
        "affair_code": "JM01000000121000",
        "procedure_code": "JT01010000000214",
        "info_type_code": LOCAL_TAX_INFO,
        "provider_code": net.code(ODAWARA),
        "condition": {"kind": "fiscal_year", "fiscal_year": 2026},
        "non_disclosure": non_disclosure,
    }
    answer = httpx.post(net.url(YAMAGATA) + "/v1/inquiries", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["error"] is None, answer.text
    return uuid.UUID(answer.json()["inquiry_id"])


def issue(net: RunningNetwork, persona: str, out: Path) -> dict[str, Any]:
    done = cli(net, "card", "issue", "--persona", persona, "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    card: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert out.stat().st_mode & 0o077 == 0
    person = net.population.persona_person(persona)
    assert person.my_number not in out.read_text() and person.resident_code not in out.read_text()
    return card


def challenge(hub: str, card_id: str) -> httpx.Response:
    return httpx.post(hub + "/v1/portal/challenge", json={"card_id": card_id}, timeout=10)


def card_key(card: dict[str, Any]) -> Ed25519PrivateKey:
    """The private key of a mock card file."""
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(card["private_key"]))


def answer_challenge(hub: str, card_id: str, text: str, key: Ed25519PrivateKey) -> httpx.Response:
    """Log in as ``card_id`` with ``text`` (a challenge) signed by ``key``."""
    return httpx.post(
        hub + "/v1/portal/session",
        json={
            "card_id": card_id,
            "challenge": text,
            "signature": base64.b64encode(key.sign(text.encode())).decode(),
        },
        timeout=10,
    )


def log_in(hub: str, card: dict[str, Any], key: Ed25519PrivateKey | None = None) -> httpx.Response:
    asked = challenge(hub, card["card_id"])
    assert asked.status_code == 200, asked.text
    return answer_challenge(hub, card["card_id"], asked.json()["challenge"], key or card_key(card))


def token(hub: str, card: dict[str, Any]) -> str:
    session = log_in(hub, card)
    assert session.status_code == 200, session.text
    value: str = session.json()["access_token"]
    return value


def portal(hub: str, path: str, bearer: str | None, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return httpx.get(hub + path, headers=headers, params=params, timeout=30)


def every_record(hub: str, bearer: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = portal(hub, "/v1/portal/records", bearer, page=page, page_size=100)
        assert answer.status_code == 200, answer.text
        found.extend(answer.json()["records"])
        if len(found) >= answer.json()["total"]:
            return found
        page += 1


def code_of(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["code"]


def test_a_person_sees_only_their_own_records(net: RunningNetwork, tmp_path: Path) -> None:
    hub = net.network.hub.url
    mine = [inquire(net, "moved_in"), inquire(net, "moved_in")]
    hidden = inquire(net, "moved_in", non_disclosure=True)
    theirs = inquire(net, "namesake")
    declared = httpx.post(
        net.url(YAMAGATA) + f"/v1/inquiries/{theirs}/mistaken",
        json={"reason": "同姓の別人を照会した", "declared_by_user": "clerk01"},
        timeout=30,
    )
    assert declared.status_code == 200, declared.text
    card_a = issue(net, "moved_in", tmp_path / "a.card")
    card_b = issue(net, "namesake", tmp_path / "b.card")
    token_a, token_b = token(hub, card_a), token(hub, card_b)

    seen_a = {uuid.UUID(record["inquiry_id"]) for record in every_record(hub, token_a)}
    seen_b_records = every_record(hub, token_b)
    seen_b = {uuid.UUID(record["inquiry_id"]) for record in seen_b_records}
    assert set(mine) <= seen_a
    assert hidden not in seen_a  # 不開示
    assert theirs not in seen_a and seen_a.isdisjoint(seen_b)
    assert theirs in seen_b
    [record] = [r for r in seen_b_records if r["inquiry_id"] == str(theirs)]
    assert [a["reason"] for a in record["addenda"]] == ["同姓の別人を照会した"]
    assert record["requester_code"] == net.code(YAMAGATA)
    assert record["provider_code"] == net.code(ODAWARA)
    assert record["item_codes"]

    # One record by id: one's own only; another person's, a hidden one or a made-up id all
    # answer the same REC001.
    own = portal(hub, f"/v1/portal/records/{mine[0]}", token_a)
    assert own.status_code == 200 and own.json()["inquiry_id"] == str(mine[0])
    for guess in (theirs, hidden, uuid.uuid4()):
        assert code_of(portal(hub, f"/v1/portal/records/{guess}", token_a)) == (404, "REC001")
    assert code_of(portal(hub, f"/v1/portal/records/{mine[0]}", token_b)) == (404, "REC001")

    # Paged, newest first.
    first = portal(hub, "/v1/portal/records", token_a, page=1, page_size=1).json()
    second = portal(hub, "/v1/portal/records", token_a, page=2, page_size=1).json()
    assert first["total"] == second["total"] == len(seen_a) >= 2
    assert first["records"][0]["requested_at"] >= second["records"][0]["requested_at"]
    assert first["records"][0]["inquiry_id"] != second["records"][0]["inquiry_id"]

    # CSV export of a page.
    exported = portal(hub, "/v1/portal/records", token_b, format="csv", page_size=500)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {uuid.UUID(row["inquiry_id"]) for row in rows} == seen_b
    [row] = [row for row in rows if row["inquiry_id"] == str(theirs)]
    assert "同姓の別人を照会した" in row["addenda"]

    # The CLI: JSON and CSV.
    done = cli(net, "portal", "records", "--card", str(tmp_path / "a.card"), "--json")
    assert done.returncode == 0, done.stderr
    assert {r["inquiry_id"] for r in json.loads(done.stdout)["records"]} <= {str(i) for i in seen_a}
    done = cli(net, "portal", "records", "--card", str(tmp_path / "b.card"), "--csv")
    assert done.returncode == 0, done.stderr
    assert str(theirs) in done.stdout and str(mine[0]) not in done.stdout
    done = cli(net, "portal", "records", "--card", str(tmp_path / "b.card"))
    assert done.returncode == 0 and "やりとり履歴" in done.stdout


def test_log_in_refuses_unknown_cards_and_bad_signatures(
    net: RunningNetwork, tmp_path: Path
) -> None:
    hub = net.network.hub.url
    card = issue(net, "moved_in", tmp_path / "a.card")
    assert code_of(challenge(hub, str(uuid.uuid4()))) == (401, "AUT003")
    # Signed by another key than the card's.
    assert code_of(log_in(hub, card, Ed25519PrivateKey.generate())) == (401, "AUT003")
    # A challenge issued for another card.
    other = issue(net, "namesake", tmp_path / "b.card")
    text = challenge(hub, other["card_id"]).json()["challenge"]
    swapped = answer_challenge(hub, card["card_id"], text, card_key(card))
    assert code_of(swapped) == (401, "AUT003")
    # The CLI with a card the hub never issued.
    forged = dict(card, card_id=str(uuid.uuid4()))
    (tmp_path / "forged.card").write_text(json.dumps(forged), encoding="utf-8")
    done = cli(net, "portal", "records", "--card", str(tmp_path / "forged.card"))
    assert done.returncode == 1 and "AUT003" in done.stderr and "Traceback" not in done.stderr


def test_a_challenge_opens_one_session_only(net: RunningNetwork, tmp_path: Path) -> None:
    """A signed challenge seen by someone else cannot log them in: once it has opened a
    session it is refused (AUT003), also when two log-ins with it arrive at once."""
    hub = net.network.hub.url
    card = issue(net, "moved_in", tmp_path / "a.card")
    key = card_key(card)
    text = challenge(hub, card["card_id"]).json()["challenge"]
    first = answer_challenge(hub, card["card_id"], text, key)
    assert first.status_code == 200, first.text
    assert code_of(answer_challenge(hub, card["card_id"], text, key)) == (401, "AUT003")
    assert portal(hub, "/v1/portal/records", first.json()["access_token"]).status_code == 200

    async def both_at_once(text: str) -> list[int]:
        body = {
            "card_id": card["card_id"],
            "challenge": text,
            "signature": base64.b64encode(key.sign(text.encode())).decode(),
        }
        async with httpx.AsyncClient(base_url=hub, timeout=10) as client:
            answers = await asyncio.gather(
                *(client.post("/v1/portal/session", json=body) for _ in range(4))
            )
        return sorted(answer.status_code for answer in answers)

    fresh = challenge(hub, card["card_id"]).json()["challenge"]
    assert asyncio.run(both_at_once(fresh)) == [200, 401, 401, 401]
    # A new challenge logs in as before, and so does the command line, twice.
    assert log_in(hub, card).status_code == 200
    for _ in range(2):
        done = cli(net, "portal", "records", "--card", str(tmp_path / "a.card"), "--json")
        assert done.returncode == 0, done.stderr


def test_tokens_missing_forged_or_expired_are_refused(net: RunningNetwork, tmp_path: Path) -> None:
    hub = net.network.hub.url
    card = issue(net, "moved_in", tmp_path / "a.card")
    good = token(hub, card)
    assert code_of(portal(hub, "/v1/portal/records", None)) == (401, "AUT004")
    assert code_of(portal(hub, "/v1/portal/records", "not-a-token")) == (401, "AUT004")
    body, _, tag = good.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["card"] = str(uuid.uuid4())
    altered = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert code_of(portal(hub, "/v1/portal/records", f"{altered}.{tag}")) == (401, "AUT004")
    # The operator's token is no portal token.
    operator = net.network.admin_token
    assert code_of(portal(hub, "/v1/portal/records", operator)) == (401, "AUT004")

    # Expiry runs on the simulated clock: an hour later the token and a challenge are stale.
    asked = challenge(hub, card["card_id"]).json()["challenge"]
    moved = cli(net, "clock", "set", "2099-01-01T00:00:00+09:00", "--json")
    try:
        assert moved.returncode == 0, moved.stderr
        clocks = json.loads(moved.stdout)
        assert len(clocks) == 1 + len(net.network.agencies)
        assert all(c["simulated"] and c["now"].startswith("2098-12-31T15") for c in clocks)
        assert code_of(portal(hub, "/v1/portal/records", good)) == (401, "AUT005")
        stale = answer_challenge(hub, card["card_id"], asked, card_key(card))
        assert code_of(stale) == (401, "AUT005")
        shown = cli(net, "clock", "show", "--json")
        assert all(c["simulated"] for c in json.loads(shown.stdout))
    finally:
        reset = cli(net, "clock", "reset", "--json")
    assert reset.returncode == 0, reset.stderr
    assert not any(c["simulated"] for c in json.loads(reset.stdout))
    assert portal(hub, "/v1/portal/records", good).status_code == 200


def test_clock_and_card_commands_explain_bad_input(net: RunningNetwork, tmp_path: Path) -> None:
    done = cli(net, "clock", "set", "2033-12-01T00:00:00")
    assert done.returncode == 2 and "offset" in done.stderr
    done = cli(net, "card", "issue", "--persona", "nobody", "--out", str(tmp_path / "x.card"))
    assert done.returncode == 2 and "nobody" in done.stderr
    done = cli(net, "portal", "records", "--card", str(tmp_path / "missing.card"))
    assert done.returncode == 2 and "no card file" in done.stderr
    operator = {"Authorization": f"Bearer {net.network.admin_token}"}
    bad_key = httpx.post(
        net.network.hub.url + "/v1/portal/cards",
        json={"resident_code": "12345678901", "public_key": "AAAA"},
        headers=operator,
        timeout=10,
    )
    assert code_of(bad_key) == (422, "VAL001")
    unauthorised = httpx.put(
        net.network.hub.url + "/v1/clock", json={"now": "2030-01-01T00:00:00Z"}, timeout=10
    )
    assert code_of(unauthorised) == (401, "AUT001")

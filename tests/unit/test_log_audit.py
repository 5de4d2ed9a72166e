"""The auditor of record logs on logs built by hand: it names the first leaf edited, removed
or truncated, and the copies of a record that disagree."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from network.protocol.log_audit import (
    LogVerification,
    ProblemKind,
    audit_log,
    compare_copies,
    record_copies,
)
from network.protocol.merkle import MerkleTree, canonical_bytes, leaf_hash
from network.protocol.models import LogEntry, LogEventKind, SignedTreeHead
from network.protocol.record_log import RecordLog

INQUIRIES = [uuid.UUID(int=index + 1) for index in range(5)]


def signer() -> RecordLog:
    return RecordLog("hub", Ed25519PrivateKey.generate(), object, object, [])


def event(index: int, **changes: object) -> dict[str, object]:
    return {
        "event": "record",
        "inquiry_id": str(INQUIRIES[index]),
        "requester_code": "2006201400000000",
        "provider_code": "2014206900000000",
        "procedure_code": "JT01010000000214",
        "info_type_code": "TM00000000000002",
        "requested_at": f"2026-06-15T01:00:0{index}.000000+00:00",
        "status_detail": "09",
        "status_info_type": "01",
        "error_code": None,
    } | changes


def honest_log(log: RecordLog, size: int = 5) -> tuple[list[LogEntry], list[SignedTreeHead]]:
    entries: list[LogEntry] = []
    heads: list[SignedTreeHead] = []
    tree = MerkleTree()
    for index in range(size):
        fields = event(index)
        digest = leaf_hash(canonical_bytes(fields))
        tree.append(digest)
        entries.append(
            LogEntry(
                leaf_index=index,
                kind=LogEventKind.RECORD,
                inquiry_id=INQUIRIES[index],
                event=fields,
                leaf_hash=digest.hex(),
            )
        )
        heads.append(log.sign(tree.size, tree.root()))
    return entries, heads


def audit(
    log: RecordLog,
    entries: list[LogEntry],
    heads: list[SignedTreeHead],
    checkpoint: SignedTreeHead | None = None,
    checkpoint_key: str | None = None,
) -> LogVerification:
    key = log.public_key().public_key
    return audit_log("hub", "hub", entries, heads, key, checkpoint, checkpoint_key)


def test_an_honest_log_verifies() -> None:
    log = signer()
    entries, heads = honest_log(log)
    verdict = audit(log, entries, heads)
    assert verdict.problem is None
    assert (verdict.stored_leaves, verdict.tree_size, verdict.heads_checked) == (5, 5, 5)


def test_an_edited_event_is_named() -> None:
    log = signer()
    entries, heads = honest_log(log)
    entries[2] = entries[2].model_copy(update={"event": event(2, error_code="RPL001")})
    problem = audit(log, entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index, problem.inquiry_id) == (
        ProblemKind.EDITED,
        2,
        INQUIRIES[2],
    )


def test_an_edit_with_a_rewritten_leaf_hash_is_caught_by_the_heads() -> None:
    log = signer()
    entries, heads = honest_log(log)
    edited = event(3, provider_code="2040130700000000")
    entries[3] = entries[3].model_copy(
        update={"event": edited, "leaf_hash": leaf_hash(canonical_bytes(edited)).hex()}
    )
    problem = audit(log, entries, heads).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index) == (ProblemKind.EDITED, 3)
    # Without the heads of sizes 2..4 the leaf is known only within a range.
    sparse = [heads[0], heads[4]]
    problem = audit(log, entries, sparse).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index) == (ProblemKind.EDITED, 1)
    assert "a leaf between 1 and 4" in problem.detail


def test_removed_rows_are_named() -> None:
    log = signer()
    entries, heads = honest_log(log)
    without_event = [*entries[:1], entries[1].model_copy(update={"event": None}), *entries[2:]]
    problem = audit(log, without_event, heads).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index, problem.inquiry_id) == (
        ProblemKind.REMOVED,
        1,
        INQUIRIES[1],
    )
    gap = [entry for entry in entries if entry.leaf_index != 2]
    problem = audit(log, gap, heads).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index) == (ProblemKind.REMOVED, 2)


def test_a_truncated_tail_is_named_by_the_checkpoint() -> None:
    log = signer()
    entries, heads = honest_log(log)
    problem = audit(log, entries[:3], heads[:3], checkpoint=heads[4]).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index) == (ProblemKind.TRUNCATED, 3)
    assert "leaves 3..4 were removed" in problem.detail
    # With no checkpoint and the heads removed too, nothing shows: hence the checkpoints.
    assert audit(log, entries[:3], heads[:3]).problem is None


def test_a_forged_head_and_a_changed_key_are_named() -> None:
    log = signer()
    entries, heads = honest_log(log)
    forged = heads[1].model_copy(update={"root_hash": "00" * 32})
    problem = audit(log, entries, [heads[0], forged, *heads[2:]]).problem
    assert problem is not None
    assert (problem.kind, problem.leaf_index) == (ProblemKind.BAD_SIGNATURE, 1)
    other = signer().public_key().public_key
    problem = audit(log, entries, heads, checkpoint=heads[4], checkpoint_key=other).problem
    assert problem is not None and problem.kind is ProblemKind.KEY_CHANGED


def test_copies_that_disagree_are_reported_and_an_outcome_applies() -> None:
    requester = {**event(0), "side": "requester", "reached_hub": True, "error_code": "MAN001"}
    outcome = {"event": "outcome", "side": "requester", "status_detail": "09", "error_code": None}

    def entry(index: int, kind: LogEventKind, fields: dict[str, object]) -> LogEntry:
        return LogEntry(
            leaf_index=index, kind=kind, inquiry_id=INQUIRIES[0], event=fields, leaf_hash=None
        )

    logs = {
        "hub": [entry(0, LogEventKind.RECORD, event(0, procedure_code="JT01010000000999"))],
        "2006201400000000": [
            entry(0, LogEventKind.RECORD, requester),
            entry(1, LogEventKind.OUTCOME, outcome),
            LogEntry(
                leaf_index=2,
                kind=LogEventKind.RECORD,
                inquiry_id=INQUIRIES[1],
                event={**event(1), "side": "requester", "reached_hub": True},
                leaf_hash=None,
            ),
        ],
    }
    found = compare_copies(record_copies(logs), hub_included=True)
    assert [(d.inquiry_id, d.field) for d in found] == [
        (INQUIRIES[0], "procedure_code"),
        (INQUIRIES[1], "copy"),
    ]
    assert found[0].values == {
        "hub": "JT01010000000999",
        "requester:2006201400000000": "JT01010000000214",
    }

"""Auditing record logs (記録の検証): recompute a log from its stored entries, check it against
its signed tree heads and a checkpoint, and compare the three copies of each record.

Pure: the caller fetches the entries (``GET /v1/log/entries``) and the public key, and keeps the
checkpoints; nothing here does I/O. The first problem of a log is named exactly — the leaf
index, the inquiry id where it is known, and what is wrong — because every later root differs
once one leaf does.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from network.protocol.merkle import MerkleTree, canonical_bytes, leaf_hash
from network.protocol.models import LogEntry, LogEventKind, RetentionPurge, SignedTreeHead
from network.protocol.record_log import verify_head, verify_purge


class ProblemKind(StrEnum):
    EDITED = "edited"
    """A stored event no longer matches its leaf hash, or the log's root no longer matches the
    tree head the service signed for that size."""
    REMOVED = "removed"
    """A leaf (its event row, its leaf row, or both) is missing inside the log."""
    TRUNCATED = "truncated"
    """Leaves at the end of the log are missing: a signed head or checkpoint covers more."""
    BAD_SIGNATURE = "bad_signature"
    """A stored tree head's signature does not verify with the log's public key."""
    KEY_CHANGED = "key_changed"
    """The log's public key is not the one recorded with the checkpoint."""


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogProblem(_Report):
    """The first thing wrong with one log."""

    kind: ProblemKind
    leaf_index: int | None
    inquiry_id: uuid.UUID | None
    detail: str


class LogVerification(_Report):
    """The verdict on one service's log."""

    service: str
    log_id: str
    stored_leaves: int
    tree_size: int
    """The size the log should have: the largest signed head, checkpoint or leaf index seen."""
    root_hash: str
    """The root recomputed from the stored events over ``stored_leaves``."""
    heads_checked: int
    checkpoint_size: int | None
    purged_leaves: int = 0
    """Leaves whose events the signed retention purges removed (their hashes still count)."""
    problem: LogProblem | None


class CopyDisagreement(_Report):
    """Copies of one inquiry's record that disagree on a legal field, or a copy missing."""

    inquiry_id: uuid.UUID
    field: str
    values: dict[str, str | None]
    """Copy (``hub``, ``requester:<code>``, ``provider:<code>``) → its value."""


class Verification(_Report):
    """The verdict of ``ipnsim records verify``."""

    logs: list[LogVerification]
    disagreements: list[CopyDisagreement]

    @property
    def ok(self) -> bool:
        return not self.disagreements and all(log.problem is None for log in self.logs)


@dataclass
class _Walk:
    tree: MerkleTree = field(default_factory=MerkleTree)
    problem: LogProblem | None = None
    heads_checked: int = 0


def audit_log(
    service: str,
    log_id: str,
    entries: Sequence[LogEntry],
    heads: Iterable[SignedTreeHead],
    public_key: str,
    checkpoint: SignedTreeHead | None = None,
    checkpoint_key: str | None = None,
    purges: Sequence[RetentionPurge] = (),
) -> LogVerification:
    """Recompute one log from its stored ``entries`` and check it against ``heads`` (the signed
    heads the service stored, including its latest) and an earlier ``checkpoint``.

    ``public_key`` is the log's Ed25519 key (base64); ``checkpoint_key`` the key recorded with
    the checkpoint. ``purges`` are the log's signed retention purges: a leaf they list may
    lack its event (its stored leaf hash stands for it); one not signed by the log's key is
    reported.
    """
    key = base64.b64decode(public_key)
    by_index = {entry.leaf_index: entry for entry in entries}
    signed: dict[int, SignedTreeHead] = {}
    walk = _Walk()
    for head in sorted(heads, key=lambda head: head.tree_size):
        if not verify_head(head, key) or head.log_id != log_id:
            walk.problem = walk.problem or LogProblem(
                kind=ProblemKind.BAD_SIGNATURE,
                leaf_index=head.tree_size - 1 if head.tree_size else None,
                inquiry_id=_inquiry(by_index.get(head.tree_size - 1)),
                detail=f"the tree head of size {head.tree_size} is not signed by this log's key",
            )
            continue
        signed[head.tree_size] = head
    if checkpoint_key is not None and checkpoint_key != public_key:
        walk.problem = walk.problem or LogProblem(
            kind=ProblemKind.KEY_CHANGED,
            leaf_index=None,
            inquiry_id=None,
            detail="the log's public key is not the one recorded with the checkpoint",
        )
    purged: set[int] = set()
    for purge in purges:
        if purge.log_id != log_id or not verify_purge(purge, key):
            walk.problem = walk.problem or LogProblem(
                kind=ProblemKind.BAD_SIGNATURE,
                leaf_index=min(purge.leaf_indexes, default=None),
                inquiry_id=None,
                detail=f"retention purge {purge.purge_number} is not signed by this log's key",
            )
            continue
        purged.update(index for index in purge.leaf_indexes if index < purge.tree_size)
    if checkpoint is not None and verify_head(checkpoint, key):
        signed.setdefault(checkpoint.tree_size, checkpoint)
    stored = len(by_index)
    size = max([*signed, max(by_index, default=-1) + 1, 0])
    last_stored = max(by_index, default=-1)
    verified_size = 0
    for index in range(size):
        entry = by_index.get(index)
        if walk.problem is None:
            walk.problem = _leaf_problem(index, entry, last_stored, size, signed, purged)
        digest = _recomputed(entry)
        if digest is None:
            break
        walk.tree.append(digest)
        at_size = signed.get(index + 1)
        if at_size is None:
            continue
        walk.heads_checked += 1
        if walk.tree.root().hex() == at_size.root_hash:
            verified_size = index + 1
        elif walk.problem is None:
            first = verified_size
            where = (
                f"leaf {index}"
                if first == index
                else f"a leaf between {first} and {index} (no signed head in between)"
            )
            walk.problem = LogProblem(
                kind=ProblemKind.EDITED,
                leaf_index=first,
                inquiry_id=_inquiry(by_index.get(first)),
                detail=f"the root over {index + 1} leaves differs from the tree head signed at "
                f"{at_size.timestamp}: {where} was changed after it was signed",
            )
    return LogVerification(
        service=service,
        log_id=log_id,
        stored_leaves=stored,
        tree_size=size,
        root_hash=walk.tree.root().hex(),
        heads_checked=walk.heads_checked,
        checkpoint_size=checkpoint.tree_size if checkpoint is not None else None,
        purged_leaves=len(purged),
        problem=walk.problem,
    )


def _recomputed(entry: LogEntry | None) -> bytes | None:
    """The leaf hash recomputed from the stored event (the stored hash if the event is gone)."""
    if entry is None:
        return None
    if entry.event is not None:
        return leaf_hash(canonical_bytes(entry.event))
    return bytes.fromhex(entry.leaf_hash) if entry.leaf_hash else None


def _inquiry(entry: LogEntry | None) -> uuid.UUID | None:
    return entry.inquiry_id if entry is not None else None


def _leaf_problem(
    index: int,
    entry: LogEntry | None,
    last_stored: int,
    size: int,
    signed: dict[int, SignedTreeHead],
    purged: set[int] | None = None,
) -> LogProblem | None:
    if entry is None:
        if index > last_stored:
            covering = max(signed) if signed else size
            at = signed[covering].timestamp if covering in signed else "?"
            return LogProblem(
                kind=ProblemKind.TRUNCATED,
                leaf_index=index,
                inquiry_id=None,
                detail=f"the log ends after {index} leaves, but a tree head signed at {at} "
                f"covers {covering}: leaves {index}..{covering - 1} were removed",
            )
        return LogProblem(
            kind=ProblemKind.REMOVED,
            leaf_index=index,
            inquiry_id=None,
            detail=f"leaf {index} is missing (both its event and its leaf row)",
        )
    kind = entry.kind.value if entry.kind else "event"
    if entry.event is None and entry.leaf_hash is not None and purged and index in purged:
        return None  # removed by a signed retention purge: its leaf hash stands for it
    if entry.event is None:
        return LogProblem(
            kind=ProblemKind.REMOVED,
            leaf_index=index,
            inquiry_id=entry.inquiry_id,
            detail=f"the {kind} of leaf {index} was deleted (its leaf row remains)",
        )
    if entry.leaf_hash is None:
        return LogProblem(
            kind=ProblemKind.REMOVED,
            leaf_index=index,
            inquiry_id=entry.inquiry_id,
            detail=f"the leaf row of leaf {index} was deleted (its {kind} remains)",
        )
    recomputed = leaf_hash(canonical_bytes(entry.event)).hex()
    if recomputed != entry.leaf_hash:
        return LogProblem(
            kind=ProblemKind.EDITED,
            leaf_index=index,
            inquiry_id=entry.inquiry_id,
            detail=f"the stored {kind} no longer matches its leaf hash: it was edited",
        )
    return None


# --- the three copies -------------------------------------------------------------------------

LEGAL_FIELDS = (
    "requester_code",
    "provider_code",
    "procedure_code",
    "info_type_code",
    "requested_at",
    "status_detail",
    "status_info_type",
    "error_code",
)
"""What the copies of one record must agree on: who asked whom, for what, when, and the outcome."""
OUTCOME_FIELDS = frozenset({"status_detail", "status_info_type", "error_code"})
DIVERGING_CODES = frozenset({"AVL002", "AVL003", "AVL004", "AVL005"})
"""Outcomes after which the copies may differ by nature: an answer that timed out, arrived
garbled, or was lost with a hub that went away mid-inquiry (AVL003) may still have been recorded
as provided at the other end."""


def record_copies(
    log_entries: Mapping[str, Sequence[LogEntry]],
) -> dict[uuid.UUID, dict[str, dict[str, object]]]:
    """Every copy of every record, as its events make it read: the record as first written with
    any later outcome applied. Inquiry id → copy name → fields. ``log_entries`` maps a log id
    (``hub`` or an agency code) to its entries."""
    copies: dict[uuid.UUID, dict[str, dict[str, object]]] = {}
    for log_id, entries in log_entries.items():
        for entry in sorted(entries, key=lambda entry: entry.leaf_index):
            if entry.event is None or entry.inquiry_id is None:
                continue
            side = str(entry.event.get("side", "hub"))
            name = "hub" if log_id == "hub" else f"{side}:{log_id}"
            of_inquiry = copies.setdefault(entry.inquiry_id, {})
            if entry.kind is LogEventKind.RECORD:
                of_inquiry[name] = dict(entry.event)
            elif entry.kind is LogEventKind.OUTCOME and name in of_inquiry:
                of_inquiry[name] |= {
                    key: entry.event[key] for key in OUTCOME_FIELDS if key in entry.event
                }
    return copies


def compare_copies(
    copies: dict[uuid.UUID, dict[str, dict[str, object]]],
    hub_included: bool,
    purged_at_hub: frozenset[uuid.UUID] | set[uuid.UUID] = frozenset(),
) -> list[CopyDisagreement]:
    """Disagreements between the copies of each record on the legal fields, and hub copies
    missing where the requester's copy says the hub recorded the inquiry (unless the hub's
    signed retention purge removed it: ``purged_at_hub``)."""
    found: list[CopyDisagreement] = []
    for inquiry_id, of_inquiry in sorted(copies.items(), key=lambda item: str(item[0])):
        if hub_included and "hub" not in of_inquiry and inquiry_id not in purged_at_hub:
            reached = [
                name
                for name, copy in of_inquiry.items()
                if name.startswith("requester:") and copy.get("reached_hub")
            ]
            if reached:
                found.append(
                    CopyDisagreement(
                        inquiry_id=inquiry_id,
                        field="copy",
                        values={reached[0]: "present", "hub": None},
                    )
                )
        if len(of_inquiry) < 2:
            continue
        diverging = any(copy.get("error_code") in DIVERGING_CODES for copy in of_inquiry.values())
        for name in LEGAL_FIELDS:
            if diverging and name in OUTCOME_FIELDS:
                continue
            values = {copy_name: _text(copy.get(name)) for copy_name, copy in of_inquiry.items()}
            if len(set(values.values())) > 1:
                found.append(CopyDisagreement(inquiry_id=inquiry_id, field=name, values=values))
    return found


def purged_inquiries(
    entries: Sequence[LogEntry], purges: Sequence[RetentionPurge], public_key: str
) -> set[uuid.UUID]:
    """The inquiries whose events validly signed retention purges removed from a log."""
    key = base64.b64decode(public_key)
    indexes = {
        index for purge in purges if verify_purge(purge, key) for index in purge.leaf_indexes
    }
    return {
        entry.inquiry_id
        for entry in entries
        if entry.leaf_index in indexes and entry.event is None and entry.inquiry_id is not None
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)

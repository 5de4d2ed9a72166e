"""Merkle trees of provision-record logs (情報提供等の記録の改ざん検知), in the style of RFC 9162.

Pure functions and one in-memory tree, shared by the hub, the intermediate servers and the
verifier of the command line:

- a leaf's hash is SHA-256(0x00 || leaf bytes), an inner node's SHA-256(0x01 || left || right);
- the tree head of ``n`` leaves is MTH(D[0:n]) as RFC 9162 §2.1.1 defines it: for ``n`` not a
  power of two the left subtree holds the largest power of two smaller than ``n`` leaves;
- inclusion proofs (audit paths) and consistency proofs are those of §2.1.3 and §2.1.4, and are
  checked with the algorithms of §2.1.3.2 and §2.1.4.2.

Leaf bytes are the canonical serialisation of one record event (:func:`canonical_bytes`):
sorted-key, compact JSON in UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
"""Bytes of a SHA-256 hash: of a leaf, an inner node, a root."""
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) of the empty log: the hash of the empty string."""


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""Built once: ``json.dumps`` with options builds an encoder at every call."""


def canonical_bytes(value: Mapping[str, Any]) -> bytes:
    """The canonical serialisation of a record event: sorted keys, no spaces, UTF-8."""
    return _CANONICAL.encode(value).encode()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size`` > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of the leaves whose hashes are given, recomputed from scratch."""
    if not leaf_hashes:
        return EMPTY_ROOT
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = _split(len(leaf_hashes))
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


class MerkleTree:
    """An append-only tree that keeps every complete perfect subtree's hash.

    Appending a leaf costs amortised O(1) hashes; the root of any size and every proof cost
    O(log n) lookups and hashes, because each range the RFC's recursions visit splits into
    perfect, aligned subtrees that are already stored.

    Each level is one ``bytearray`` of 32-byte hashes side by side (the leaves at level 0, a
    node over ``2**level`` leaves at ``level``): about 64 bytes a leaf in all, where a list of
    ``bytes`` objects takes some 150.
    """

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def leaf(self, index: int) -> bytes:
        """The hash of leaf ``index`` (counted from the end when negative, as in a list)."""
        size = self.size
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"leaf {index} is not in a tree of {size} leaves")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def append(self, leaf: bytes) -> None:
        """Add a leaf hash, completing the perfect subtrees it closes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, not {len(leaf)}")
        levels = self._levels
        nodes = levels[0]
        nodes += leaf
        count = len(nodes) // HASH_SIZE
        level = 0
        while count % 2 == 0:
            digest = hashlib.sha256(NODE_PREFIX + nodes[-2 * HASH_SIZE :]).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            nodes = levels[level]
            nodes += digest
            count //= 2

    def truncate(self, size: int) -> None:
        """Forget every leaf from ``size`` on (an append whose transaction failed)."""
        for level, nodes in enumerate(self._levels):
            del nodes[(size >> level) * HASH_SIZE :]

    def _subtree(self, start: int, size: int) -> bytes:
        """MTH(D[start:start+size]) for a range the RFC's recursions visit."""
        if size & (size - 1) == 0 and start % size == 0:
            level = size.bit_length() - 1
            offset = (start >> level) * HASH_SIZE
            return bytes(self._levels[level][offset : offset + HASH_SIZE])
        k = _split(size)
        return node_hash(self._subtree(start, k), self._subtree(start + k, size - k))

    def root(self, size: int | None = None) -> bytes:
        """The tree head of the first ``size`` leaves (all of them by default)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, nearest the leaf first."""
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, size: int) -> list[bytes]:
        if size == 1:
            return []
        k = _split(size)
        if index < k:
            return [*self._path(index, start, k), self._subtree(start + k, size - k)]
        return [*self._path(index - k, start + k, size - k), self._subtree(start, k)]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1."""
        self._check_size(second)
        if not 0 < first <= second:
            raise ValueError(f"no consistency proof from {first} leaves to {second}")
        if first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, start: int, n: int, complete: bool) -> list[bytes]:
        if m == n:
            return [] if complete else [self._subtree(start, n)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, k, complete), self._subtree(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self._subtree(start, k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"the tree has {self.size} leaves, not {size}")


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of ``size``
    leaves whose head is ``root`` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    result = leaf
    for node in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            result = node_hash(node, result)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and result == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows that the tree of ``first`` leaves with head ``first_root`` is a
    prefix of the tree of ``second`` leaves with head ``second_root`` (RFC 9162 §2.1.4.2)."""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(node, fr)
            sr = node_hash(node, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root

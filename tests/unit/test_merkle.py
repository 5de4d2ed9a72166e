"""The Merkle tree of record logs against trees computed by hand (RFC 9162 §2.1)."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from network.protocol.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    canonical_bytes,
    leaf_hash,
    node_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [f"leaf {index}".encode() for index in range(9)]


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# The leaves and inner nodes of the 7-leaf example tree of RFC 9162 §2.1.5, written out by hand:
#             root
#            /    \
#           k      l
#          / \    / \
#         g   h  i   j(=d6)
#        / \ / \ / \
#        a b c d e f
A, B, C, D, E, F, J = (h(b"\x00" + leaf) for leaf in LEAVES[:7])
G = h(b"\x01" + A + B)
H = h(b"\x01" + C + D)
I = h(b"\x01" + E + F)  # noqa: E741
K = h(b"\x01" + G + H)
L = h(b"\x01" + I + J)
ROOT7 = h(b"\x01" + K + L)


def test_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"x") == h(b"\x00x")
    assert node_hash(b"l", b"r") == h(b"\x01lr")
    assert h(b"") == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT


def test_canonical_bytes_sort_keys_without_spaces_in_utf8() -> None:
    assert canonical_bytes({"b": 1, "a": ["山形", None, True]}) == (
        '{"a":["山形",null,true],"b":1}'.encode()
    )


def hand_roots() -> dict[int, bytes]:
    """MTH for 1..9 leaves, each split written out as §2.1.1 defines it."""
    x = [leaf_hash(leaf) for leaf in LEAVES]
    n01, n23, n45, n67 = (node_hash(x[i], x[i + 1]) for i in (0, 2, 4, 6))
    n0123, n4567 = node_hash(n01, n23), node_hash(n45, n67)
    n0_7 = node_hash(n0123, n4567)
    return {
        1: x[0],
        2: n01,
        3: node_hash(n01, x[2]),
        4: n0123,
        5: node_hash(n0123, x[4]),
        6: node_hash(n0123, n45),
        7: node_hash(n0123, node_hash(n45, x[6])),
        8: n0_7,
        9: node_hash(n0_7, x[8]),
    }


@pytest.mark.parametrize("size", range(1, 10))
def test_roots_of_1_to_9_leaves_match_the_hand_computed_trees(size: int) -> None:
    expected = hand_roots()[size]
    hashes = [leaf_hash(leaf) for leaf in LEAVES[:size]]
    assert root_of(hashes) == expected
    tree = MerkleTree(hashes)
    assert tree.root() == expected
    grown = MerkleTree([leaf_hash(leaf) for leaf in LEAVES])
    assert grown.root(size) == expected


def test_the_rfc_example_tree_and_its_proofs() -> None:
    tree = MerkleTree([leaf_hash(leaf) for leaf in LEAVES[:7]])
    assert tree.root() == ROOT7
    assert tree.inclusion_proof(0, 7) == [B, H, L]
    assert tree.inclusion_proof(3, 7) == [C, G, L]
    assert tree.inclusion_proof(4, 7) == [F, J, K]
    assert tree.inclusion_proof(6, 7) == [I, K]
    assert tree.consistency_proof(3, 7) == [C, D, G, L]
    assert tree.consistency_proof(4, 7) == [L]
    assert tree.consistency_proof(6, 7) == [I, J, K]
    assert verify_inclusion(3, 7, D, [C, G, L], ROOT7)
    assert verify_consistency(3, 7, tree.root(3), ROOT7, [C, D, G, L])
    assert verify_consistency(4, 7, K, ROOT7, [L])


@pytest.mark.parametrize("size", range(1, 10))
def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not(size: int) -> None:
    tree = MerkleTree([leaf_hash(leaf) for leaf in LEAVES])
    root = tree.root(size)
    for index in range(size):
        proof = tree.inclusion_proof(index, size)
        assert verify_inclusion(index, size, tree.leaf(index), proof, root)
        assert not verify_inclusion(index, size, leaf_hash(b"edited"), proof, root)
        assert not verify_inclusion(index, size, tree.leaf(index), proof, leaf_hash(root))
        assert not verify_inclusion(size, size, tree.leaf(index), proof, root)
        if proof:
            broken = [node_hash(proof[0], proof[0]), *proof[1:]]
            assert not verify_inclusion(index, size, tree.leaf(index), broken, root)
            assert not verify_inclusion(index, size, tree.leaf(index), proof[:-1], root)


@pytest.mark.parametrize("second", range(1, 10))
def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not(second: int) -> None:
    tree = MerkleTree([leaf_hash(leaf) for leaf in LEAVES])
    for first in range(1, second + 1):
        proof = tree.consistency_proof(first, second)
        assert verify_consistency(first, second, tree.root(first), tree.root(second), proof)
        if first < second:
            assert not verify_consistency(
                first, second, leaf_hash(b"other"), tree.root(second), proof
            )
            rewritten = MerkleTree(
                [leaf_hash(b"edited"), *(leaf_hash(leaf) for leaf in LEAVES[1:second])]
            )
            assert not verify_consistency(first, second, tree.root(first), rewritten.root(), proof)


def test_truncate_forgets_the_tail() -> None:
    tree = MerkleTree([leaf_hash(leaf) for leaf in LEAVES])
    tree.truncate(5)
    assert tree.size == 5
    assert tree.root() == hand_roots()[5]
    tree.append(leaf_hash(LEAVES[5]))
    assert tree.root() == hand_roots()[6]


def test_out_of_range_requests_are_refused() -> None:
    tree = MerkleTree([leaf_hash(leaf) for leaf in LEAVES[:3]])
    with pytest.raises(ValueError, match="leaf 3 is not in a tree of 3 leaves"):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ValueError, match="the tree has 3 leaves, not 4"):
        tree.root(4)
    with pytest.raises(ValueError, match="no consistency proof from 0 leaves to 3"):
        tree.consistency_proof(0, 3)


MANY = [leaf_hash(index.to_bytes(2, "big")) for index in range(70)]


def test_roots_of_up_to_70_leaves_match_the_roots_computed_from_scratch() -> None:
    tree = MerkleTree()
    for size, leaf in enumerate(MANY, start=1):
        tree.append(leaf)
        for earlier in range(size + 1):
            assert tree.root(earlier) == root_of(MANY[:earlier])


def test_leaves_are_read_back_as_bytes_from_either_end() -> None:
    tree = MerkleTree(MANY[:9])
    assert [tree.leaf(index) for index in range(9)] == MANY[:9]
    assert tree.leaf(-1) == MANY[8]
    assert tree.leaf(-9) == MANY[0]
    assert all(type(node) is bytes for node in [tree.root(), *tree.inclusion_proof(2, 9)])
    for index in (9, -10):
        with pytest.raises(IndexError, match="is not in a tree of 9 leaves"):
            tree.leaf(index)


def test_a_leaf_hash_must_have_32_bytes_and_a_refused_one_leaves_the_tree_as_it_was() -> None:
    tree = MerkleTree(MANY[:3])
    for wrong in (b"", MANY[3][:31], MANY[3] + b"\x00"):
        with pytest.raises(ValueError, match=f"a leaf hash has 32 bytes, not {len(wrong)}"):
            tree.append(wrong)
    assert tree.size == 3
    assert tree.root() == root_of(MANY[:3])


@pytest.mark.parametrize("size", [0, 1, 2, 5, 8, 16, 31, 32, 33])
def test_a_tree_truncated_and_grown_again_is_the_tree_built_afresh(size: int) -> None:
    tree = MerkleTree(MANY[:40])
    tree.truncate(size)
    assert tree.size == size
    for leaf in MANY[size:50]:
        tree.append(leaf)
    fresh = MerkleTree(MANY[:50])
    assert [tree.root(n) for n in range(51)] == [fresh.root(n) for n in range(51)]
    assert [tree.inclusion_proof(i, 50) for i in range(50)] == [
        fresh.inclusion_proof(i, 50) for i in range(50)
    ]
    assert [tree.consistency_proof(n, 50) for n in range(1, 51)] == [
        fresh.consistency_proof(n, 50) for n in range(1, 51)
    ]


def test_the_tree_keeps_about_64_bytes_a_leaf() -> None:
    """32 bytes a leaf and as much again for the inner nodes, not an object per hash."""
    tracemalloc.start()
    try:
        tree = MerkleTree()
        for index in range(4096):
            tree.append(leaf_hash(index.to_bytes(4, "big")))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tree.size == 4096
    assert held < 80 * 4096

# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""RFC 9162 Merkle tree hashing, proofs and an incremental compact range.

The audit ledger is a Certificate Transparency v2 style log: every event is a leaf, and a
signed checkpoint commits to the root of the first *n* leaves. Inclusion proofs show that
one event is in a checkpointed tree; consistency proofs show that a later tree only
appended to an earlier one. Everything here is pure: functions over bytes and ints.

Spec: https://www.rfc-editor.org/rfc/rfc9162#section-2.1 (hashing, §2.1.1; inclusion,
§2.1.3; consistency, §2.1.4). Leaves and nodes are SHA-256 with the one-byte domain
separation prefixes 0x00 and 0x01, so a leaf can never be confused with an inner node.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence

HASH_SIZE = 32
"""SHA-256 output length; every leaf, node and root hash has this length."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree: MTH({}) = SHA-256() (RFC 9162 §2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

SubtreeHash = Callable[[int, int], bytes]
"""``subtree(start, end)`` returns MTH of leaves ``[start, end)``; proofs are built from it."""


def leaf_hash(data: bytes) -> bytes:
    """Hash one leaf: SHA-256(0x00 || data).

    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
    """
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash an inner node: SHA-256(0x01 || left || right).

    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
    """
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (``n`` > 1).

    RFC 9162 splits every tree of n > 1 leaves at this k.
    """
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of a list of leaf hashes.

    Computed bottom-up, promoting an unpaired last node unchanged to the next level, which
    yields exactly the RFC 9162 left-balanced tree in O(n) hashes and no recursion.
    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _list_subtree(leaf_hashes: Sequence[bytes]) -> SubtreeHash:
    """Adapt an in-memory list of leaf hashes to the ``subtree(start, end)`` callback."""

    def subtree(start: int, end: int) -> bytes:
        return root_from_leaf_hashes(leaf_hashes[start:end])

    return subtree


def inclusion_proof_from(index: int, size: int, subtree: SubtreeHash) -> list[bytes]:
    """Build the inclusion proof (audit path) for leaf ``index`` in a tree of ``size``.

    Takes a ``subtree(start, end)`` callback so a store that caches subtree hashes can
    answer in O(log n) lookups; the RFC's PATH(m, D[n]) only ever asks for O(log n) ranges.
    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
            m -= k
    path.reverse()  # the RFC lists the path from the leaf upwards
    return path


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Build the inclusion proof for leaf ``index`` over all of ``leaf_hashes``.

    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.1
    """
    return inclusion_proof_from(index, len(leaf_hashes), _list_subtree(leaf_hashes))


def consistency_proof_from(old_size: int, new_size: int, subtree: SubtreeHash) -> list[bytes]:
    """Build the consistency proof from a tree of ``old_size`` to one of ``new_size``.

    Follows SUBPROOF(m, D[n], b) of RFC 9162 iteratively. The ranges asked of ``subtree``
    are either whole subtrees left of ``old_size`` or ranges right of it, never straddling
    it, which is what lets :class:`CompactRange` snapshots answer them.
    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while m != end - start:
        n = end - start
        k = _largest_power_of_two_below(n)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        proof.append(subtree(start, end))
    proof.reverse()  # SUBPROOF appends its recursive part first
    return proof


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Build the consistency proof from the first ``old_size`` leaves to all of them.

    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.1
    """
    return consistency_proof_from(old_size, len(leaf_hashes), _list_subtree(leaf_hashes))


def _well_formed(*hashes: bytes) -> bool:
    """Return whether every hash is exactly one SHA-256 output long."""
    return all(len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Return whether ``proof`` shows leaf ``index`` with ``leaf_hash`` in the tree ``root``.

    Implements the verification algorithm of RFC 9162 §2.1.3.2 exactly, including the
    final check that the proof was consumed to the top (sn == 0), so a proof of the wrong
    length or for the wrong index or size never verifies.
    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2
    """
    if not 0 <= index < size or not _well_formed(leaf_hash, root, *proof):
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Return whether ``proof`` shows the tree ``new_root`` extends the tree ``old_root``.

    RFC 9162 §2.1.4.2 defines the check for 0 < old_size < new_size. Equal sizes are
    consistent only with an empty proof and identical roots (tested before hash lengths, as
    the reference vectors require); an old size of 0 is rejected, because a proof from the
    empty tree proves nothing and callers must treat that case explicitly.
    https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2
    """
    if old_size <= 0 or new_size < old_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof or not _well_formed(old_root, new_root, *proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # old tree is a complete subtree: its root seeds
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _decompose(begin: int, end: int) -> list[tuple[int, int]]:
    """Split ``[begin, end)`` into its maximal aligned complete subtrees, left to right.

    These are the nodes a compact range stores: on the left they grow in size, on the
    right they shrink, and each one's size divides its start.
    """
    nodes: list[tuple[int, int]] = []
    pos = begin
    while pos < end:
        size = pos & -pos if pos else 1 << (end.bit_length())
        while pos + size > end:
            size >>= 1
        nodes.append((pos, pos + size))
        pos += size
    return nodes


class CompactRange:
    """The roots of the maximal complete subtrees covering leaves ``[begin, end)``.

    Appending a leaf merges at most log2(n) nodes and is amortised O(1) hashes, and the
    root is O(log n), so the store never rehashes the log to sign a checkpoint. Its state
    (``begin``, ``end`` and the hash list) is small enough to persist beside the log head.
    A range that starts at 0 has a root; a range starting elsewhere answers subtree
    queries for consistency proofs between two checkpoints.
    See https://github.com/transparency-dev/merkle/blob/main/compact/range.go for the idea.
    """

    __slots__ = ("_begin", "_end", "_hashes")

    def __init__(
        self, begin: int = 0, end: int | None = None, hashes: Sequence[bytes] = ()
    ) -> None:
        if end is None:
            end = begin
        if not 0 <= begin <= end:
            raise ValueError(f"bad compact range [{begin}, {end})")
        expected = len(_decompose(begin, end))
        if len(hashes) != expected or not _well_formed(*hashes):
            raise ValueError(
                f"compact range [{begin}, {end}) needs {expected} hashes of {HASH_SIZE} bytes"
            )
        self._begin = begin
        self._end = end
        self._hashes = list(hashes)

    @property
    def begin(self) -> int:
        """Index of the first leaf covered."""
        return self._begin

    @property
    def end(self) -> int:
        """Index one past the last leaf covered."""
        return self._end

    @property
    def size(self) -> int:
        """Number of leaves covered; for a range from 0, the tree size."""
        return self._end - self._begin

    @property
    def hashes(self) -> list[bytes]:
        """The stored subtree roots, left to right (a copy: the state to persist)."""
        return list(self._hashes)

    def copy(self) -> CompactRange:
        """Return an independent copy, e.g. a snapshot at a checkpoint."""
        return CompactRange(self._begin, self._end, self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash, merging completed subtrees.

        The new node at level ``height`` and index ``i`` merges with its left sibling while
        it is a right child and that sibling lies inside the range.
        """
        self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append several leaf hashes in order (one loop: the verifier's hot path)."""
        hashes, begin, end = self._hashes, self._begin, self._end
        sha = hashlib.sha256
        for leaf in leaf_hashes:
            if len(leaf) != HASH_SIZE:
                self._end = end
                raise ValueError(f"a leaf hash is {HASH_SIZE} bytes")
            node, index, height = leaf, end, 0
            while index & 1 and (index - 1) << height >= begin:
                node = sha(_NODE_PREFIX + hashes.pop() + node).digest()  # node_hash, inlined
                index >>= 1
                height += 1
            hashes.append(node)
            end += 1
        self._end = end

    def root(self) -> bytes:
        """Return the RFC 9162 root of leaves ``[0, end)``; the range must start at 0.

        Folding the stored subtree roots from the right reproduces the RFC's split at the
        largest power of two, because the nodes shrink left to right.
        """
        if self._begin != 0:
            raise ValueError("only a range starting at leaf 0 has a tree root")
        return self._fold(self._hashes)

    @staticmethod
    def _fold(hashes: Sequence[bytes]) -> bytes:
        """Fold subtree roots from the right into one hash (empty: the empty-tree root)."""
        if not hashes:
            return EMPTY_ROOT
        result = hashes[-1]
        for h in reversed(hashes[:-1]):
            result = node_hash(h, result)
        return result

    def subtree(self, start: int, end: int) -> bytes:
        """Return MTH of leaves ``[start, end)`` if this range can tell without the leaves.

        Answers any range that is a run of consecutive stored nodes shrinking to the right
        (a single node included) — exactly the ranges a consistency proof
        between ``begin`` and ``end`` asks for. Raises ``ValueError`` otherwise.
        """
        nodes = _decompose(self._begin, self._end)
        picked = [i for i, (s, e) in enumerate(nodes) if start <= s and e <= end]
        sizes = [nodes[i][1] - nodes[i][0] for i in picked]
        if (
            not picked
            or nodes[picked[0]][0] != start
            or nodes[picked[-1]][1] != end
            # only a run of strictly shrinking aligned nodes folds to the RFC hash
            or any(a <= b for a, b in itertools.pairwise(sizes))
        ):
            raise ValueError(f"range [{start}, {end}) is not answerable from this compact range")
        return self._fold([self._hashes[i] for i in picked])


def consistency_proof_between(old: CompactRange, tail: CompactRange) -> list[bytes]:
    """Build a consistency proof from two compact ranges, without the leaves.

    ``old`` covers ``[0, m)`` (a snapshot at the old checkpoint) and ``tail`` covers
    ``[m, n)``. Every range SUBPROOF asks for is a stored node of ``old`` or a right-folded
    run of ``tail``'s nodes, so the proof costs O(log² n) instead of rehashing n leaves.
    """
    if old.begin != 0 or tail.begin != old.end:
        raise ValueError("the tail range must start where the old range ends")
    m = old.end

    def subtree(start: int, end: int) -> bytes:
        return old.subtree(start, end) if end <= m else tail.subtree(start, end)

    return consistency_proof_from(m, tail.end, subtree)

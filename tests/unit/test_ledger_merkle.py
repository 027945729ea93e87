# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""RFC 9162 Merkle hashing, proofs and compact ranges, against the reference vectors.

The vectors are the transparency-dev/merkle probes, copied into ``tests/data/rfc6962`` (origin,
commit and licence in its ``SOURCE.md`` and ``LICENSE``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chartgate.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    consistency_proof_between,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parents[1] / "data" / "rfc6962"

# The reference tree of SOURCE.md (transparency-dev/merkle testonly/constants.go).
REFERENCE_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
REFERENCE_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
REFERENCE_HASHES = [leaf_hash(leaf) for leaf in REFERENCE_LEAVES]


def _vector_files(kind: str) -> list[Path | None]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    return list(files) if files else [None]


def _missing() -> None:
    """The vectors ship with the repository: their absence is a failure, never a skip."""
    pytest.fail(f"RFC 6962 vectors not found at {VECTORS}")


def _load(path: Path | None) -> dict[str, Any]:
    if path is None:
        _missing()
        raise AssertionError  # unreachable: _missing always raises
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(data: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in data["proof"] or []]


def _vector_id(path: Path | None) -> str:
    return "missing" if path is None else f"{path.parent.name}/{path.stem}"


def _mth(hashes: list[bytes]) -> bytes:
    """Reference MTH straight from the RFC 9162 recursive definition."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _leaves(n: int) -> list[bytes]:
    """Distinct leaf hashes, so no two proof nodes can coincide by accident."""
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _flip(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def _ranges(proof_from: Any, *args: int) -> list[tuple[int, int]]:
    """The leaf ranges a proof is made of, read off the generator symbolically."""
    asked: list[tuple[int, int]] = []

    def subtree(start: int, end: int) -> bytes:
        asked.append((start, end))
        return f"{start}:{end}".encode()

    encoded = proof_from(*args, subtree)
    by_name = {f"{s}:{e}".encode(): (s, e) for s, e in asked}
    return [by_name[item] for item in encoded]


def _inclusion_shape(index: int, size: int) -> list[bool]:
    """Per proof node, whether it sits left of the leaf: what the verifier's hashing follows."""
    return [end <= index for _, end in _ranges(inclusion_proof_from, index, size)]


def _consistency_shape(old: int, new: int) -> tuple[bool, list[bool]]:
    """Whether the old root seeds the proof, and per node whether it lies in the old tree."""
    if not 0 < old < new:
        return (False, [])
    nodes = [end <= old for _, end in _ranges(consistency_proof_from, old, new)]
    return (old & (old - 1) == 0, nodes)


class TestReferenceVectors:
    def test_vectors_are_present_and_complete(self) -> None:
        """tests/data/rfc6962 holds the 98 inclusion and 98 consistency probes SOURCE.md names."""
        if not (VECTORS / "inclusion").is_dir():
            _missing()
        assert len(_vector_files("inclusion")) == 98
        assert len(_vector_files("consistency")) == 98

    @pytest.mark.parametrize("path", _vector_files("inclusion"), ids=_vector_id)
    def test_inclusion_probe_is_accepted_exactly_when_valid(self, path: Path | None) -> None:
        """Every inclusion probe verifies if and only if it is not marked wantErr."""
        data = _load(path)
        accepted = verify_inclusion(
            data["leafIdx"],
            data["treeSize"],
            _b64(data["leafHash"]),
            _proof(data),
            _b64(data["root"]),
        )
        assert accepted is not data["wantErr"]

    @pytest.mark.parametrize("path", _vector_files("consistency"), ids=_vector_id)
    def test_consistency_probe_is_accepted_exactly_when_valid(self, path: Path | None) -> None:
        """Every consistency probe verifies if and only if it is not marked wantErr."""
        data = _load(path)
        accepted = verify_consistency(
            data["size1"], data["size2"], _b64(data["root1"]), _b64(data["root2"]), _proof(data)
        )
        assert accepted is not data["wantErr"]

    def test_generated_proofs_match_every_reference_happy_path(self) -> None:
        """For each valid probe over the reference tree, our generators emit the same proof."""
        if not (VECTORS / "inclusion").is_dir():
            _missing()
        checked = 0
        for path in _vector_files("inclusion"):
            data = _load(path)
            size = data["treeSize"]
            if data["wantErr"] or size > len(REFERENCE_HASHES):
                continue
            if _mth(REFERENCE_HASHES[:size]) != _b64(data["root"]):
                continue  # a probe over another tree (single-entry)
            assert inclusion_proof(data["leafIdx"], REFERENCE_HASHES[:size]) == _proof(data)
            checked += 1
        for path in _vector_files("consistency"):
            data = _load(path)
            old, new = data["size1"], data["size2"]
            if data["wantErr"] or old == new:
                continue
            assert _mth(REFERENCE_HASHES[:new]) == _b64(data["root2"])
            assert consistency_proof(old, REFERENCE_HASHES[:new]) == _proof(data)
            checked += 1
        assert checked >= 9  # 5 inclusion and 4 consistency happy paths over the tree


class TestHashing:
    def test_reference_roots_are_reproduced(self) -> None:
        """The roots of the reference tree at sizes 0 to 8 equal the known answers."""
        for size, want in enumerate(REFERENCE_ROOTS):
            assert root_from_leaf_hashes(REFERENCE_HASHES[:size]).hex() == want

    def test_hasher_known_answers(self) -> None:
        """Leaf and node hashing use the 0x00 and 0x01 prefixes of RFC 9162."""
        assert leaf_hash(b"L123456").hex() == (
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
        )
        assert node_hash(b"N123", b"N456").hex() == (
            "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
        )

    def test_empty_tree_root_is_hash_of_nothing(self) -> None:
        """The empty tree's root is SHA-256 of the empty string, for list and range alike."""
        assert root_from_leaf_hashes([]) == EMPTY_ROOT == CompactRange().root()

    def test_proof_requests_outside_the_tree_are_refused(self) -> None:
        """Asking for a proof of a leaf or size the tree does not have raises ValueError."""
        with pytest.raises(ValueError, match="outside"):
            inclusion_proof(3, _leaves(3))
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_proof(0, _leaves(3))
        with pytest.raises(ValueError, match="no consistency proof"):
            consistency_proof(4, _leaves(3))


class TestCompactRange:
    @given(st.integers(min_value=0, max_value=300))
    def test_root_equals_naive_root_at_every_size(self, n: int) -> None:
        """Appending leaf by leaf yields the RFC root after every append."""
        hashes = _leaves(n)
        tree = CompactRange()
        for i, h in enumerate(hashes):
            tree.append(h)
            assert tree.size == i + 1
        assert tree.root() == _mth(hashes) == root_from_leaf_hashes(hashes)

    @given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
    def test_persisted_state_resumes_identically(self, n: int, more: int) -> None:
        """A range rebuilt from its (begin, end, hashes) state continues like the original."""
        hashes = _leaves(n + more)
        tree = CompactRange()
        tree.extend(hashes[:n])
        assert len(tree.hashes) == n.bit_count()
        resumed = CompactRange(tree.begin, tree.end, tree.hashes)
        resumed.extend(hashes[n:])
        assert resumed.root() == _mth(hashes)

    def test_state_with_wrong_hash_count_is_refused(self) -> None:
        """A persisted state whose hash count does not fit its size is rejected, not trusted."""
        with pytest.raises(ValueError, match="needs 2 hashes"):
            CompactRange(0, 3, _leaves(1))
        with pytest.raises(ValueError, match="needs 1 hashes"):
            CompactRange(0, 4, [b"short"])

    def test_root_needs_a_range_from_leaf_zero(self) -> None:
        """Only a range starting at leaf 0 has a tree root."""
        tail = CompactRange(begin=5)
        tail.append(_leaves(1)[0])
        with pytest.raises(ValueError, match="starting at leaf 0"):
            tail.root()

    @settings(deadline=None)
    @given(st.integers(min_value=1, max_value=130), st.data())
    def test_proof_from_ranges_equals_proof_from_leaves(self, n: int, data: st.DataObject) -> None:
        """A consistency proof built from two compact ranges equals one built from the leaves."""
        m = data.draw(st.integers(min_value=1, max_value=n))
        hashes = _leaves(n)
        old = CompactRange()
        old.extend(hashes[:m])
        tail = CompactRange(begin=m)
        tail.extend(hashes[m:])
        assert consistency_proof_between(old, tail) == consistency_proof(m, hashes)


class TestProofProperties:
    @settings(deadline=None)
    @given(st.integers(min_value=1, max_value=70))
    def test_every_inclusion_proof_verifies(self, n: int) -> None:
        """For a random size, the proof of every leaf verifies against the root."""
        hashes = _leaves(n)
        root = _mth(hashes)
        for i in range(n):
            assert verify_inclusion(i, n, hashes[i], inclusion_proof(i, hashes), root)

    @settings(deadline=None)
    @given(st.integers(min_value=1, max_value=70))
    def test_every_consistency_proof_verifies(self, n: int) -> None:
        """For a random size, the proof from every smaller (or equal) size verifies."""
        hashes = _leaves(n)
        root = _mth(hashes)
        for m in range(1, n + 1):
            proof = consistency_proof(m, hashes)
            assert verify_consistency(m, n, _mth(hashes[:m]), root, proof)

    @settings(deadline=None)
    @given(st.integers(min_value=1, max_value=100), st.data())
    def test_tampered_inclusion_proof_is_never_accepted(self, n: int, data: st.DataObject) -> None:
        """Bit flips, dropped, inserted or reordered nodes, and a wrong leaf or root all fail."""
        i = data.draw(st.integers(min_value=0, max_value=n - 1))
        hashes = _leaves(n)
        root, proof = _mth(hashes), inclusion_proof(i, hashes)
        bit = data.draw(st.integers(min_value=0, max_value=255))
        tampered: list[tuple[bytes, list[bytes], bytes]] = [
            (_flip(hashes[i], bit), proof, root),
            (hashes[i], proof, _flip(root, bit)),
            (hashes[i], [*proof, proof[-1] if proof else root], root),
            (hashes[i], [root, *proof], root),
        ]
        if proof:
            k = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
            flipped = [*proof[:k], _flip(proof[k], bit), *proof[k + 1 :]]
            tampered += [(hashes[i], flipped, root), (hashes[i], proof[:k] + proof[k + 1 :], root)]
        if len(proof) > 1:
            tampered.append((hashes[i], [proof[1], proof[0], *proof[2:]], root))
        for leaf, bad_proof, bad_root in tampered:
            assert not verify_inclusion(i, n, leaf, bad_proof, bad_root)

    @settings(deadline=None)
    @given(st.integers(min_value=1, max_value=100), st.data())
    def test_inclusion_index_or_size_off_by_one(self, n: int, data: st.DataObject) -> None:
        """An index or size moved by one verifies only when the proof's shape is unchanged.

        A proof does not bind the size on its own (the proof for leaf 0 of 3 leaves also
        fits 4 leaves with the same root); the signed checkpoint binds size and root.
        """
        i = data.draw(st.integers(min_value=0, max_value=n - 1))
        hashes = _leaves(n)
        root, proof = _mth(hashes), inclusion_proof(i, hashes)
        shape = _inclusion_shape(i, n)
        for j, size in ((i - 1, n), (i + 1, n), (i, n - 1), (i, n + 1)):
            valid_claim = 0 <= j < size
            same_shape = valid_claim and _inclusion_shape(j, size) == shape
            assert verify_inclusion(j, size, hashes[i], proof, root) is same_shape
            if j != i:
                assert not same_shape  # a different leaf is never accepted

    @settings(deadline=None)
    @given(st.integers(min_value=2, max_value=100), st.data())
    def test_tampered_consistency_proof_is_never_accepted(
        self, n: int, data: st.DataObject
    ) -> None:
        """Bit flips, dropped, inserted or reordered nodes, and wrong roots all fail."""
        m = data.draw(st.integers(min_value=1, max_value=n - 1))
        hashes = _leaves(n)
        old_root, new_root = _mth(hashes[:m]), _mth(hashes)
        proof = consistency_proof(m, hashes)
        bit = data.draw(st.integers(min_value=0, max_value=255))
        k = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        tampered: list[tuple[bytes, bytes, list[bytes]]] = [
            (_flip(old_root, bit), new_root, proof),
            (old_root, _flip(new_root, bit), proof),
            (new_root, old_root, proof),
            (old_root, new_root, [*proof[:k], _flip(proof[k], bit), *proof[k + 1 :]]),
            (old_root, new_root, proof[:k] + proof[k + 1 :]),
            (old_root, new_root, [*proof[:k], proof[k], *proof[k:]]),
            (old_root, new_root, [*proof, new_root]),
        ]
        if len(proof) > 1:
            tampered.append((old_root, new_root, [proof[1], proof[0], *proof[2:]]))
        for r1, r2, bad in tampered:
            assert not verify_consistency(m, n, r1, r2, bad)

    @settings(deadline=None)
    @given(st.integers(min_value=2, max_value=100), st.data())
    def test_consistency_sizes_off_by_one(self, n: int, data: st.DataObject) -> None:
        """A size moved by one verifies only when the proof's shape is unchanged."""
        m = data.draw(st.integers(min_value=1, max_value=n - 1))
        hashes = _leaves(n)
        old_root, new_root = _mth(hashes[:m]), _mth(hashes)
        proof = consistency_proof(m, hashes)
        shape = _consistency_shape(m, n)
        for m2, n2 in ((m - 1, n), (m + 1, n), (m, n - 1), (m, n + 1)):
            same_shape = 0 < m2 < n2 and _consistency_shape(m2, n2) == shape
            assert verify_consistency(m2, n2, old_root, new_root, proof) is same_shape

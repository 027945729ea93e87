# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""C2SP signed-note checkpoints: the format, the key encodings, and a signer that cannot fork."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chartgate.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointSigner,
    InconsistentCheckpointError,
    MalformedNoteError,
    NoteVerifier,
    SignatureError,
    encode_vkey,
    key_id,
    open_checkpoint,
    open_note,
    parse_signed_note,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    split_notes,
)
from chartgate.ledger.merkle import EMPTY_ROOT, CompactRange, consistency_proof, leaf_hash

# The example key and note of the Go reference implementation (golang.org/x/mod/sumdb/note).
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FF"
    "YC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# The example checkpoint body of https://c2sp.org/tlog-checkpoint.
SPEC_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

ORIGIN = "chartgate.test/ledger/tenant-a"


def _go_private_key() -> Ed25519PrivateKey:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    return Ed25519PrivateKey.from_private_bytes(seed)


def _tree(n: int) -> list[bytes]:
    return [leaf_hash(f"event {i}".encode()) for i in range(n)]


def _checkpoint(hashes: list[bytes], origin: str = ORIGIN) -> Checkpoint:
    tree = CompactRange()
    tree.extend(hashes)
    return Checkpoint(origin, tree.size, tree.root())


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


class TestReferenceNote:
    def test_go_verifier_key_parses_with_its_key_id(self) -> None:
        """The Go example verifier key parses, and its key ID is the hash of name and key."""
        verifier = parse_vkey(GO_VKEY)
        assert verifier.name == "PeterNeumann"
        assert verifier.key_id.hex() == "c74f20a3"
        assert verifier.vkey == GO_VKEY

    def test_signing_reproduces_the_go_note_byte_for_byte(self) -> None:
        """Ed25519 is deterministic, so our note equals the Go reference note exactly."""
        assert sign_note(GO_TEXT, "PeterNeumann", _go_private_key()) == GO_NOTE

    def test_go_note_opens_and_its_tampered_copy_does_not(self) -> None:
        """The reference note verifies; one changed letter makes it fail."""
        verifier = parse_vkey(GO_VKEY)
        assert open_note(GO_NOTE, verifier) == GO_TEXT
        with pytest.raises(SignatureError):
            open_note(GO_NOTE.replace("cryptography", "cryptographY"), verifier)

    def test_mangled_verifier_keys_are_refused(self) -> None:
        """Every substring and every one-character change of the key is rejected (Go's test)."""
        for i in range(len(GO_VKEY) + 1):
            for j in range(i + 1, len(GO_VKEY) + 1):
                if (i, j) != (0, len(GO_VKEY)):
                    with pytest.raises(MalformedNoteError):
                        parse_vkey(GO_VKEY[i:j])
        for i in range(len(GO_VKEY)):
            mangled = GO_VKEY[:i] + chr(ord(GO_VKEY[i]) + 1) + GO_VKEY[i + 1 :]
            with pytest.raises(MalformedNoteError):
                parse_vkey(mangled)

    def test_key_id_follows_the_spec_formula(self, key: Ed25519PrivateKey) -> None:
        """Key ID = SHA-256(name || 0x0A || 0x01 || public key)[:4], printed in the vkey."""
        public = key.public_key()
        raw = NoteVerifier.from_key("n", public).public_key.public_bytes_raw()
        want = hashlib.sha256(b"n\n\x01" + raw).digest()[:4]
        assert key_id("n", public) == want
        assert encode_vkey("n", public).split("+")[1] == want.hex()


class TestCheckpointText:
    def test_spec_example_round_trips(self) -> None:
        """The spec's example body parses to its three fields and prints back identically."""
        cp = Checkpoint.from_body(SPEC_BODY)
        assert (cp.origin, cp.size) == ("example.com/behind-the-sofa", 20852163)
        assert cp.body() == SPEC_BODY

    @pytest.mark.parametrize(
        "body",
        [
            "o\n012\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n18446744073709551616\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
            "o\n1\n",
            "\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n",
            "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
            "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",
        ],
        ids=[
            "leading-zero",
            "negative",
            "plus-sign",
            "space",
            "over-uint64",
            "no-final-newline",
            "two-lines",
            "empty-origin",
            "empty-extension",
            "short-root",
            "non-canonical-base64",
            "urlsafe-base64",
        ],
    )
    def test_malformed_bodies_are_refused(self, body: str) -> None:
        """Bodies that bend the tlog-checkpoint rules are rejected, never guessed at."""
        with pytest.raises(MalformedNoteError):
            Checkpoint.from_body(body)

    def test_extension_lines_are_kept(self) -> None:
        """Optional extension lines survive a parse and print (they are signed too)."""
        cp = Checkpoint.from_body(SPEC_BODY + "ext one\n")
        assert cp.extensions == ("ext one",)
        assert cp.body() == SPEC_BODY + "ext one\n"


class TestSignedCheckpoints:
    def test_signed_checkpoint_opens_to_itself(self, key: Ed25519PrivateKey) -> None:
        """A checkpoint signed and opened with the same key comes back unchanged."""
        cp = _checkpoint(_tree(5))
        note = sign_checkpoint(cp, ORIGIN, key)
        assert note.startswith(cp.body() + "\n\u2014 " + ORIGIN + " ")
        assert open_checkpoint(note, ORIGIN, key.public_key(), origin=ORIGIN) == cp

    def test_another_key_is_refused(self, key: Ed25519PrivateKey) -> None:
        """A note signed by a different key under the same name does not open."""
        note = sign_checkpoint(_checkpoint(_tree(3)), ORIGIN, Ed25519PrivateKey.generate())
        with pytest.raises(SignatureError, match="not signed"):
            open_checkpoint(note, ORIGIN, key.public_key())

    def test_every_single_character_change_is_refused(self, key: Ed25519PrivateKey) -> None:
        """Changing any one character of a signed note makes it fail to open."""
        note = sign_checkpoint(_checkpoint(_tree(7)), ORIGIN, key)
        for i, ch in enumerate(note):
            mangled = note[:i] + ("A" if ch != "A" else "B") + note[i + 1 :]
            with pytest.raises(CheckpointError):
                open_checkpoint(mangled, ORIGIN, key.public_key())

    def test_foreign_signatures_are_ignored(self, key: Ed25519PrivateKey) -> None:
        """A witness's extra signature line does not stop our key's signature verifying."""
        cp = _checkpoint(_tree(4))
        witness = sign_checkpoint(cp, "witness.example", Ed25519PrivateKey.generate())
        note = sign_checkpoint(cp, ORIGIN, key) + witness.split("\n\n", 1)[1]
        assert len(parse_signed_note(note).signatures) == 2
        assert open_checkpoint(note, ORIGIN, key.public_key()) == cp

    def test_a_failing_signature_by_the_trusted_key_rejects_the_note(
        self, key: Ed25519PrivateKey
    ) -> None:
        """A bad signature that names our key rejects the note even beside a good one."""
        cp = _checkpoint(_tree(4))
        good = sign_checkpoint(cp, ORIGIN, key)
        forged_sig = base64.b64encode(key_id(ORIGIN, key.public_key()) + bytes(64)).decode()
        note = good + f"\u2014 {ORIGIN} {forged_sig}\n"
        with pytest.raises(SignatureError, match="does not verify"):
            open_checkpoint(note, ORIGIN, key.public_key())

    def test_checkpoint_of_another_origin_is_refused(self, key: Ed25519PrivateKey) -> None:
        """A valid checkpoint of another tenant's log is not accepted for this one."""
        note = sign_checkpoint(_checkpoint(_tree(2), "chartgate.test/ledger/b"), ORIGIN, key)
        with pytest.raises(MalformedNoteError, match="origin"):
            open_checkpoint(note, ORIGIN, key.public_key(), origin=ORIGIN)

    @pytest.mark.parametrize(
        "note",
        [
            "o\n1\nroot\n",
            "o\n1\nroot\n\n",
            "o\n1\nroot\n\n-- name AAAAAAA=\n",
            "o\n1\nroot\n\n\u2014 name AAAAAAA=",
            "o\n1\nroot\n\n\u2014 name !!!!\n",
            "o\n1\nroot\n\n\u2014 name AAAA\n",
            "o\n1\nroot\n\n\u2014 na+me AAAAAAA=\n",
            "o\n1\r\nroot\n\n\u2014 name AAAAAAA=\n",
            "o\n1\nroot\n\n" + "\u2014 name AAAAAAA=\n" * 101,
        ],
        ids=[
            "no-signatures",
            "empty-block",
            "ascii-dashes",
            "no-final-newline",
            "bad-base64",
            "too-short",
            "plus-in-name",
            "control-char",
            "too-many",
        ],
    )
    def test_malformed_notes_are_refused(self, note: str) -> None:
        """Notes that break the signed-note grammar are rejected before any key is used."""
        with pytest.raises(MalformedNoteError):
            parse_signed_note(note)

    def test_concatenated_notes_split_back(self, key: Ed25519PrivateKey) -> None:
        """An export file of notes, with or without blank separators, splits into the notes."""
        notes = [sign_checkpoint(_checkpoint(_tree(n)), ORIGIN, key) for n in (1, 2, 3)]
        assert split_notes("".join(notes)) == notes
        assert split_notes("\n".join(notes) + "\n") == notes
        assert split_notes("") == []


class TestCheckpointSigner:
    def test_first_checkpoint_is_signed_and_remembered(self, key: Ed25519PrivateKey) -> None:
        """With no history, the signer signs and then remembers that checkpoint."""
        signer = CheckpointSigner(ORIGIN, key)
        cp = _checkpoint(_tree(3))
        note = signer.sign(cp)
        assert signer.last == cp
        assert open_checkpoint(note, ORIGIN, key.public_key()) == cp

    def test_growth_with_a_consistency_proof_is_signed(self, key: Ed25519PrivateKey) -> None:
        """A bigger tree that a valid consistency proof connects to the last one is signed."""
        hashes = _tree(10)
        signer = CheckpointSigner(ORIGIN, key)
        signer.sign(_checkpoint(hashes[:6]))
        signer.sign(_checkpoint(hashes), consistency_proof(6, hashes))
        assert signer.last == _checkpoint(hashes)

    def test_growth_without_a_proof_is_refused(self, key: Ed25519PrivateKey) -> None:
        """A bigger tree without a consistency proof is refused and nothing is remembered."""
        hashes = _tree(10)
        signer = CheckpointSigner(ORIGIN, key)
        signer.sign(_checkpoint(hashes[:6]))
        with pytest.raises(InconsistentCheckpointError, match="consistency proof"):
            signer.sign(_checkpoint(hashes))
        assert signer.last == _checkpoint(hashes[:6])

    def test_forked_tree_is_refused_even_with_its_own_proof(self, key: Ed25519PrivateKey) -> None:
        """A tree that rewrote an old entry cannot be connected to the last checkpoint."""
        hashes = _tree(10)
        forked = [leaf_hash(b"rewritten"), *hashes[1:]]
        signer = CheckpointSigner(ORIGIN, key)
        signer.sign(_checkpoint(hashes[:6]))
        with pytest.raises(InconsistentCheckpointError):
            signer.sign(_checkpoint(forked), consistency_proof(6, forked))

    def test_smaller_tree_is_refused(self, key: Ed25519PrivateKey) -> None:
        """A checkpoint smaller than the last one (a rollback) is refused."""
        hashes = _tree(8)
        signer = CheckpointSigner(ORIGIN, key)
        signer.sign(_checkpoint(hashes))
        with pytest.raises(InconsistentCheckpointError, match="smaller"):
            signer.sign(_checkpoint(hashes[:4]))

    def test_same_size_is_signed_again_only_with_the_same_root(
        self, key: Ed25519PrivateKey
    ) -> None:
        """Re-signing an unchanged tree is fine; a different root at the same size is refused."""
        hashes = _tree(8)
        signer = CheckpointSigner(ORIGIN, key)
        signer.sign(_checkpoint(hashes))
        signer.sign(_checkpoint(hashes))
        with pytest.raises(InconsistentCheckpointError, match="same size"):
            signer.sign(_checkpoint([*hashes[:7], leaf_hash(b"other")]))

    def test_other_origin_is_refused(self, key: Ed25519PrivateKey) -> None:
        """The signer of one log will not continue it under another origin."""
        signer = CheckpointSigner(ORIGIN, key)
        signer.sign(_checkpoint(_tree(2)))
        with pytest.raises(InconsistentCheckpointError, match="origin"):
            signer.sign(_checkpoint(_tree(2), "chartgate.test/ledger/b"))

    def test_empty_tree_is_extended_by_anything(self, key: Ed25519PrivateKey) -> None:
        """After the empty checkpoint, any first tree is consistent and needs no proof."""
        signer = CheckpointSigner(ORIGIN, key)
        signer.sign(Checkpoint(ORIGIN, 0, EMPTY_ROOT))
        signer.sign(_checkpoint(_tree(5)))
        assert signer.last is not None
        assert signer.last.size == 5

    def test_empty_tree_with_a_non_empty_root_is_refused(self, key: Ed25519PrivateKey) -> None:
        """A size-0 checkpoint must carry the empty-tree root."""
        with pytest.raises(InconsistentCheckpointError, match="empty"):
            CheckpointSigner(ORIGIN, key).sign(Checkpoint(ORIGIN, 0, leaf_hash(b"x")))

    def test_signer_resumes_from_its_last_note(self, key: Ed25519PrivateKey) -> None:
        """A restarted signer resumes from the persisted note and keeps refusing rollbacks."""
        hashes = _tree(9)
        note = CheckpointSigner(ORIGIN, key).sign(_checkpoint(hashes))
        resumed = CheckpointSigner(ORIGIN, key, last_note=note)
        assert resumed.last == _checkpoint(hashes)
        with pytest.raises(InconsistentCheckpointError):
            resumed.sign(_checkpoint(hashes[:3]))

    def test_signer_refuses_a_last_note_it_did_not_sign(self, key: Ed25519PrivateKey) -> None:
        """A planted 'last checkpoint' signed by another key is refused at start-up."""
        planted = sign_checkpoint(_checkpoint(_tree(1)), ORIGIN, Ed25519PrivateKey.generate())
        with pytest.raises(SignatureError):
            CheckpointSigner(ORIGIN, key, last_note=planted)


def test_a_signature_with_non_canonical_base64_is_refused() -> None:
    """Flipping the unused low bits of the signature's last base64 character is refused.

    Plain base64 decoding maps both texts to the same bytes; a signed note has one form only.
    """
    key = Ed25519PrivateKey.generate()
    note = sign_checkpoint(_checkpoint(_tree(7)), ORIGIN, key)
    body, _, signature_line = note.rstrip("\n").rpartition("\n")
    prefix, _, encoded = signature_line.rpartition(" ")
    raw = base64.b64decode(encoded)
    # 68 bytes -> 92 chars with "==": the last data character carries 4 unused bits.
    last = encoded.rstrip("=")[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twin = alphabet[alphabet.index(last) ^ 0b0001]
    mangled_encoded = encoded.rstrip("=")[:-1] + twin + "=" * encoded.count("=")
    assert base64.b64decode(mangled_encoded) == raw
    mangled = f"{body}\n{prefix} {mangled_encoded}\n"
    with pytest.raises(CheckpointError):
        open_checkpoint(mangled, ORIGIN, key.public_key())


class TestRefusalsBeforeSigning:
    """What the signer and the verifier-key helpers refuse, each with its own message."""

    @pytest.mark.parametrize("name", ["", "has space", "plus+sign"])
    def test_a_key_name_the_note_grammar_cannot_carry_is_refused_everywhere(
        self, key: Ed25519PrivateKey, name: str
    ) -> None:
        """Verifier, vkey and signature all refuse a name with a space or a plus (or none)."""
        public = key.public_key()
        with pytest.raises(MalformedNoteError, match="invalid key name"):
            NoteVerifier.from_key(name, public)
        with pytest.raises(MalformedNoteError, match="invalid key name"):
            encode_vkey(name, public)
        with pytest.raises(MalformedNoteError, match="invalid key name"):
            sign_note("text\n", name, key)

    def test_a_vkey_of_another_key_type_is_refused(self, key: Ed25519PrivateKey) -> None:
        """A verifier key whose type byte is not Ed25519's 0x01 is not taken for one."""
        good = encode_vkey(ORIGIN, key.public_key())
        name, hex_id, encoded = good.split("+", 2)
        raw = base64.b64decode(encoded)
        other_type = base64.b64encode(b"\x02" + raw[1:]).decode()
        with pytest.raises(MalformedNoteError, match=r"not an Ed25519 \(type 0x01\) key"):
            parse_vkey(f"{name}+{hex_id}+{other_type}")
        with pytest.raises(MalformedNoteError, match="not an Ed25519"):
            parse_vkey(f"{name}+{hex_id}+{base64.b64encode(raw[:-1]).decode()}")

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"origin": ""}, "one non-empty line"),
            ({"origin": "two\nlines"}, "one non-empty line"),
            ({"size": -1}, "uint64"),
            ({"size": 2**64}, "uint64"),
            ({"root": b"\x00" * 31}, "32 bytes"),
            ({"extensions": ("",)}, "extension lines"),
            ({"extensions": ("a\nb",)}, "extension lines"),
        ],
        ids=[
            "no-origin",
            "origin-newline",
            "negative",
            "over-uint64",
            "short-root",
            "empty-ext",
            "ext-newline",
        ],
    )
    def test_a_checkpoint_the_format_cannot_express_is_refused(
        self, fields: dict[str, object], message: str
    ) -> None:
        """Origin, size, root and extension lines are checked when the checkpoint is made."""
        values: dict[str, object] = {"origin": ORIGIN, "size": 1, "root": b"\x00" * 32, **fields}
        with pytest.raises(MalformedNoteError, match=message):
            Checkpoint(**values)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("no newline at the end", "must end with a newline"),
            ("a\ttab\n", "control character"),
            ("lone \ud800 surrogate\n", "not valid UTF-8"),
        ],
        ids=["no-final-newline", "control-char", "lone-surrogate"],
    )
    def test_text_a_signed_note_cannot_carry_is_not_signed(
        self, key: Ed25519PrivateKey, text: str, message: str
    ) -> None:
        """The signer refuses what a verifier would refuse, instead of signing it."""
        with pytest.raises(MalformedNoteError, match=message):
            sign_note(text, ORIGIN, key)

    def test_a_resumed_empty_checkpoint_with_a_wrong_root_stops_the_signer(
        self, key: Ed25519PrivateKey
    ) -> None:
        """A stored size-0 note whose root is not the empty-tree root proves nothing: refused."""
        bad_empty = sign_checkpoint(Checkpoint(ORIGIN, 0, b"\x01" * 32), ORIGIN, key)
        signer = CheckpointSigner(ORIGIN, key, last_note=bad_empty)
        with pytest.raises(InconsistentCheckpointError, match="bad empty-tree root"):
            signer.sign(_checkpoint(_tree(1)))

    def test_the_signer_resumes_from_a_note_signed_by_a_retired_key(
        self, key: Ed25519PrivateKey
    ) -> None:
        """After a rotation the last note carries the retired key's signature: it is trusted."""
        retired = Ed25519PrivateKey.generate()
        unrelated = NoteVerifier.from_key("other", Ed25519PrivateKey.generate().public_key())
        retired_verifier = NoteVerifier.from_key(ORIGIN, retired.public_key())
        first = _checkpoint(_tree(2))
        last_note = sign_checkpoint(first, ORIGIN, retired)
        signer = CheckpointSigner(
            ORIGIN, key, last_note=last_note, trusted=[unrelated, retired_verifier]
        )
        assert signer.last == first
        with pytest.raises(SignatureError):
            CheckpointSigner(ORIGIN, key, last_note=last_note, trusted=[unrelated])

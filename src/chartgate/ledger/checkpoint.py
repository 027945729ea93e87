# Copyright 2026 The chartgate authors. SPDX-License-Identifier: Apache-2.0
"""Ed25519-signed checkpoints in the C2SP signed-note format, and a signer that cannot fork.

A checkpoint commits to ``(origin, tree size, root)``. It is written as a C2SP signed note
so that standard transparency-log tooling (Go ``golang.org/x/mod/sumdb/note``, witnesses)
can read and verify it, and so a hospital can pin one short verifier-key string.

Specs: https://c2sp.org/tlog-checkpoint (the note text) and https://c2sp.org/signed-note
(the envelope, key ID and verifier key). The signer keeps the last checkpoint it signed
and refuses any checkpoint a consistency proof cannot connect to it: "A log MUST not sign
any checkpoint which is inconsistent with any checkpoint it previously signed."
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chartgate.ledger.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency

if TYPE_CHECKING:
    from collections.abc import Sequence

ED25519_TYPE = 0x01
"""Signature type byte for Ed25519 (https://c2sp.org/signed-note#signature-types)."""

SIGNATURE_PREFIX = "\u2014 "
"""Every signature line starts with an em dash (U+2014) and a space."""

MAX_SIGNATURES = 100
"""Upper bound on signature lines; the spec requires accepting at least 16."""

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are uint64 in every interoperable implementation."""

_KEY_ID_SIZE = 4
_ED25519_SIGNATURE_SIZE = 64
_ED25519_KEY_SIZE = 32
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class NoteSigningKey(Protocol):
    """An Ed25519 private key, in process (``Ed25519PrivateKey``) or in an HSM (PKCS#11)."""

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data``."""
        ...

    def public_key(self) -> Ed25519PublicKey:
        """Return the public half."""
        ...


class CheckpointError(ValueError):
    """Base of every checkpoint and signed-note failure."""


class MalformedNoteError(CheckpointError):
    """The note or checkpoint text does not follow the C2SP format."""


class SignatureError(CheckpointError):
    """No signature from the trusted key verifies, or one from it fails."""


class InconsistentCheckpointError(CheckpointError):
    """Signing this checkpoint would fork the log from the last one signed."""


def _is_valid_key_name(name: str) -> bool:
    """Return whether ``name`` may name a key: non-empty, no spaces, no ``+``.

    https://c2sp.org/signed-note#format
    """
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    """Return the 32-byte RFC 8032 encoding of an Ed25519 public key."""
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4].

    https://c2sp.org/signed-note#ed25519-signatures
    """
    data = name.encode() + b"\n" + bytes([ED25519_TYPE]) + _raw_public_key(public_key)
    return hashlib.sha256(data).digest()[:_KEY_ID_SIZE]


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A trusted key: its name, 4-byte key ID and Ed25519 public key.

    Verifiers match signatures by (name, key ID) and ignore every other signature line.
    """

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def from_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        """Build the verifier for ``public_key`` under ``name``."""
        if not _is_valid_key_name(name):
            raise MalformedNoteError(f"invalid key name {name!r}")
        return cls(name=name, key_id=key_id(name, public_key), public_key=public_key)

    @property
    def vkey(self) -> str:
        """Return the verifier key string ``<name>+<hex key ID>+<base64(0x01 || key)>``."""
        return encode_vkey(self.name, self.public_key)


def encode_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """Encode a verifier key as ``<name>+<8 hex digits of key ID>+<base64(0x01 || key)>``.

    This is the format of Go's ``note.NewVerifier`` and of published log keys, so a
    hospital can pin one string that names, identifies and carries the key.
    """
    if not _is_valid_key_name(name):
        raise MalformedNoteError(f"invalid key name {name!r}")
    encoded = base64.b64encode(bytes([ED25519_TYPE]) + _raw_public_key(public_key)).decode()
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def parse_vkey(vkey: str) -> NoteVerifier:
    """Parse and check a verifier key string; the key ID must match the key.

    Raises ``MalformedNoteError`` for a wrong shape, an unknown signature type or a key ID
    that is not the hash of the name and key (a mistyped or tampered pin).
    """
    name, sep1, rest = vkey.partition("+")
    hex_id, sep2, key_b64 = rest.partition("+")
    if not (sep1 and sep2) or not _is_valid_key_name(name) or len(hex_id) != 2 * _KEY_ID_SIZE:
        raise MalformedNoteError("verifier key must be <name>+<hex key id>+<base64 key>")
    try:
        claimed_id = bytes.fromhex(hex_id)
        key = _strict_b64decode(key_b64)
    except (ValueError, binascii.Error) as e:
        raise MalformedNoteError("verifier key is not hex + base64") from e
    if len(key) != 1 + _ED25519_KEY_SIZE or key[0] != ED25519_TYPE:
        raise MalformedNoteError("verifier key is not an Ed25519 (type 0x01) key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(key[1:])
    except ValueError as e:
        raise MalformedNoteError("verifier key is not a valid Ed25519 key") from e
    verifier = NoteVerifier.from_key(name, public_key)
    if verifier.key_id != claimed_id:
        raise MalformedNoteError("verifier key ID does not match its name and key")
    return verifier


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: origin, tree size and RFC 9162 root hash.

    ``extensions`` holds optional extra note lines; chartgate never writes any (the spec
    calls them NOT RECOMMENDED) but a parsed checkpoint keeps them.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or any(ch in self.origin for ch in "\n\r"):
            raise MalformedNoteError("checkpoint origin must be one non-empty line")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedNoteError("checkpoint size must be a uint64")
        if len(self.root) != HASH_SIZE:
            raise MalformedNoteError(f"checkpoint root must be {HASH_SIZE} bytes")
        if any(not line or "\n" in line for line in self.extensions):
            raise MalformedNoteError("checkpoint extension lines must be non-empty lines")

    def body(self) -> str:
        """Return the note text: origin, decimal size, base64 root, each ending in newline.

        https://c2sp.org/tlog-checkpoint#note-text
        """
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse note text strictly: three non-empty lines, canonical size and root.

        Strictness keeps one checkpoint from having two spellings (leading zeros,
        non-canonical base64), so equal text means equal checkpoint.
        https://c2sp.org/tlog-checkpoint#note-text
        """
        if not text.endswith("\n"):
            raise MalformedNoteError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):  # noqa: PLR2004 - spec's 3 lines
            raise MalformedNoteError("checkpoint text needs at least three non-empty lines")
        origin, size_text, root_text, *extensions = lines
        if not _DECIMAL.fullmatch(size_text):
            raise MalformedNoteError("checkpoint size is not a canonical decimal")
        try:
            root = _strict_b64decode(root_text)
        except binascii.Error as e:
            raise MalformedNoteError("checkpoint root is not canonical base64") from e
        return cls(origin=origin, size=int(size_text), root=root, extensions=tuple(extensions))


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One parsed signature line: key name, 4-byte key ID and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note split into its text and its (not yet verified) signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]


def _check_characters(note: str) -> None:
    """Reject ASCII control characters other than newline, as the spec requires."""
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):  # noqa: PLR2004 - U+0020, per spec
        raise MalformedNoteError("note contains a control character")
    try:
        note.encode()
    except UnicodeEncodeError as e:  # lone surrogates are not valid UTF-8
        raise MalformedNoteError("note is not valid UTF-8") from e


def parse_signed_note(note: str) -> SignedNote:
    """Split a signed note at its last blank line and parse every signature line.

    Checks syntax only; :func:`open_note` checks signatures.
    https://c2sp.org/signed-note#format
    """
    _check_characters(note)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise MalformedNoteError("note has no signature block after a blank line")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines:
        raise MalformedNoteError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError("note has too many signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNoteError("signature line does not start with an em dash")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = _strict_b64decode(encoded)
        except binascii.Error as e:
            raise MalformedNoteError("signature is not canonical base64") from e
        if not _is_valid_key_name(name) or len(raw) <= _KEY_ID_SIZE:
            raise MalformedNoteError("malformed signature line")
        signatures.append(NoteSignature(name, raw[:_KEY_ID_SIZE], raw[_KEY_ID_SIZE:]))
    return SignedNote(text=text, signatures=tuple(signatures))


def open_note(note: str, verifier: NoteVerifier) -> str:
    """Return the note text if ``verifier``'s key signed it; raise otherwise.

    Signatures from other keys are ignored (key rotation, witnesses); a signature that
    names the trusted key but fails rejects the whole note; no valid one rejects it too.
    https://c2sp.org/signed-note#signatures
    """
    parsed = parse_signed_note(note)
    message = parsed.text.encode()
    verified = False
    for sig in parsed.signatures:
        if sig.name != verifier.name or sig.key_id != verifier.key_id:
            continue
        if len(sig.signature) != _ED25519_SIGNATURE_SIZE:
            raise SignatureError(f"signature by {verifier.name} has the wrong length")
        try:
            verifier.public_key.verify(sig.signature, message)
        except InvalidSignature as e:
            raise SignatureError(f"signature by {verifier.name} does not verify") from e
        verified = True
    if not verified:
        raise SignatureError(f"note is not signed by {verifier.name}")
    return parsed.text


def sign_note(text: str, signer_name: str, private_key: NoteSigningKey) -> str:
    """Sign note text with Ed25519 and return the signed note.

    https://c2sp.org/signed-note#ed25519-signatures
    """
    if not _is_valid_key_name(signer_name):
        raise MalformedNoteError(f"invalid key name {signer_name!r}")
    if not text.endswith("\n"):
        raise MalformedNoteError("note text must end with a newline")
    _check_characters(text)
    kid = key_id(signer_name, private_key.public_key())
    signature = private_key.sign(text.encode())
    encoded = base64.b64encode(kid + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{signer_name} {encoded}\n"


def sign_checkpoint(cp: Checkpoint, signer_name: str, private_key: NoteSigningKey) -> str:
    """Return ``cp`` as a signed note. Prefer :class:`CheckpointSigner`, which cannot fork.

    https://c2sp.org/tlog-checkpoint#signatures
    """
    return sign_note(cp.body(), signer_name, private_key)


def open_checkpoint(
    note: str,
    verifier_name: str,
    public_key: Ed25519PublicKey,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint note and return the checkpoint it carries.

    ``origin``, when given, must match the checkpoint's origin line, so a valid checkpoint
    of another tenant's log is not accepted for this one.
    """
    text = open_note(note, NoteVerifier.from_key(verifier_name, public_key))
    cp = Checkpoint.from_body(text)
    if origin is not None and cp.origin != origin:
        raise MalformedNoteError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    return cp


def split_notes(text: str) -> list[str]:
    """Split concatenated checkpoint notes (an export file) into single notes.

    A checkpoint's text has no blank lines, so a note ends at the last signature line
    before the next non-signature line; blank lines between notes are allowed.
    """
    notes: list[str] = []
    current: list[str] = []
    in_signatures = False
    for line in text.splitlines(keepends=True):
        is_signature = line.startswith(SIGNATURE_PREFIX)
        if in_signatures and not is_signature:
            notes.append("".join(current))
            current, in_signatures = [], False
        if not current and line == "\n":
            continue
        current.append(line)
        in_signatures = in_signatures or is_signature
    if current:
        notes.append("".join(current))
    return notes


class CheckpointSigner:
    """Signs checkpoints for one log and refuses any that would fork it.

    It remembers the last checkpoint it signed (resume it from the last persisted note,
    which it re-verifies with its own key or one of ``trusted``, the retired keys) and
    signs a new one only if it has the same origin and either equals the last, grows from
    an empty tree, or comes with a consistency proof from the last. https://c2sp.org/tlog-checkpoint#signatures
    """

    def __init__(
        self,
        name: str,
        private_key: NoteSigningKey,
        *,
        last_note: str | None = None,
        trusted: Sequence[NoteVerifier] = (),
    ) -> None:
        self._verifier = NoteVerifier.from_key(name, private_key.public_key())
        self._private_key = private_key
        self._last: Checkpoint | None = None
        if last_note is not None:  # after a key rotation the last note has a retired key's
            signer = next((v for v in trusted if _signed_by(last_note, v)), self._verifier)
            self._last = Checkpoint.from_body(open_note(last_note, signer))

    @property
    def verifier(self) -> NoteVerifier:
        """The public half, to publish as a verifier key."""
        return self._verifier

    @property
    def last(self) -> Checkpoint | None:
        """The last checkpoint signed (or resumed from), if any."""
        return self._last

    def check(self, cp: Checkpoint, proof: Sequence[bytes] = ()) -> None:
        """Raise ``InconsistentCheckpointError`` unless ``cp`` extends the last checkpoint."""
        last = self._last
        if last is None:
            return
        if cp.origin != last.origin:
            raise InconsistentCheckpointError("checkpoint origin differs from the last one")
        if cp.size < last.size:
            raise InconsistentCheckpointError("checkpoint is smaller than the last one")
        if cp.size == last.size:
            if cp.root != last.root or proof:
                raise InconsistentCheckpointError("same size as the last checkpoint, other root")
            return
        if last.size == 0:
            if last.root != EMPTY_ROOT:
                raise InconsistentCheckpointError("last checkpoint has a bad empty-tree root")
            return  # every tree extends the empty tree
        if not verify_consistency(last.size, cp.size, last.root, cp.root, proof):
            raise InconsistentCheckpointError("no valid consistency proof from the last one")

    def sign(self, cp: Checkpoint, proof: Sequence[bytes] = ()) -> str:
        """Sign ``cp`` if it is consistent with the last checkpoint, and remember it.

        ``proof`` is the RFC 9162 consistency proof from the last signed size to
        ``cp.size``; it is unused for the first checkpoint and for an unchanged tree.
        """
        self.check(cp, proof)
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            raise InconsistentCheckpointError("an empty tree has the empty-string root")
        note = sign_checkpoint(cp, self._verifier.name, self._private_key)
        self._last = cp
        return note


def _signed_by(note: str, verifier: NoteVerifier) -> bool:
    """Whether ``note`` carries a signature line naming ``verifier`` (not yet checked)."""
    sigs = parse_signed_note(note).signatures
    return any(s.name == verifier.name and s.key_id == verifier.key_id for s in sigs)


def _strict_b64decode(text: str) -> bytes:
    """Decode base64 that must be canonical: one text per byte string.

    Plain decoding ignores the unused low bits of the last character, so two different texts
    would open to the same key, root or signature; a signed note must have exactly one form.
    """
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise binascii.Error("not canonical base64")
    return raw

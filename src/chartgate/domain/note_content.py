r"""A note's text as the bytes an EHR takes, and back: plain text, Markdown and RTF.

Why both directions: the executor checks, before every send, that the attachment still decodes
to exactly the text the clinician approved (``attachment_text``). A conversion is therefore
only allowed when it is lossless, so every encoder here has a strict decoder that inverts it.

- ``text/plain`` and ``text/markdown``: UTF-8 bytes of the text, unchanged. A Markdown note
  sent to a plain-text-only EHR (Epic, FHIR-FACTS "Content") keeps its characters: Markdown is
  readable as text, and the clinician approved exactly those characters.
- ``text/rtf``: athenaPractice takes only RTF or C-CDA (FHIR-FACTS). The text becomes a minimal
  RTF 1.x document: ``\``, ``{`` and ``}`` escaped, a line break as ``\par``, a tab as
  ``\tab``, anything outside printable ASCII as ``\uN?`` (UTF-16 code units,
  https://www.biblioscape.com/rtf15_spec.htm "Unicode RTF"). The decoder reads only that
  shape and refuses anything else.
"""

from __future__ import annotations

import re

__all__ = ["NoteEncodingError", "decode_note", "encode_note", "media_type_of", "wire_content_type"]

_RTF_HEADER = "{\\rtf1\\ansi\\ansicpg1252\\uc1\\deff0 "
_RTF_FOOTER = "}"
_PRINTABLE_LOW, _PRINTABLE_HIGH = 0x20, 0x7E
_INT16_SIGN = 0x8000
_UINT16 = 0x10000
_RTF_TOKEN = re.compile(r"\\par\n|\\tab |\\u(-?\d{1,5})\?|\\([\\{}])|([\x20-\x7e])")

UTF8_TYPES = frozenset({"text/plain", "text/markdown"})
RTF = "text/rtf"


class NoteEncodingError(ValueError):
    """The bytes are not a note in the shape this module writes (or the type is unknown)."""


def media_type_of(content_type: str) -> str:
    """``text/plain; charset=utf-8`` → ``text/plain`` (lower case, parameters dropped)."""
    return content_type.split(";", 1)[0].strip().lower()


def wire_content_type(media_type: str) -> str:
    """The ``Attachment.contentType`` to send: UTF-8 types carry their charset, RTF none."""
    base = media_type_of(media_type)
    if base in UTF8_TYPES:
        return f"{base}; charset=utf-8"
    if base == RTF:
        return RTF
    raise NoteEncodingError(f"no note encoding for {base!r}")


def encode_note(text: str, media_type: str) -> bytes:
    """The attachment bytes of ``text`` as ``media_type``."""
    base = media_type_of(media_type)
    if base in UTF8_TYPES:
        return text.encode("utf-8")
    if base == RTF:
        return _to_rtf(text).encode("ascii")
    raise NoteEncodingError(f"no note encoding for {base!r}")


def decode_note(data: bytes, media_type: str) -> str:
    """The text that ``encode_note`` turned into ``data`` (its exact inverse)."""
    base = media_type_of(media_type)
    try:
        if base in UTF8_TYPES:
            return data.decode("utf-8")
        if base == RTF:
            return _from_rtf(data.decode("ascii"))
    except UnicodeDecodeError as exc:
        raise NoteEncodingError(f"the {base} attachment is not validly encoded") from exc
    raise NoteEncodingError(f"no note encoding for {base!r}")


def _to_rtf(text: str) -> str:
    out = [_RTF_HEADER]
    for char in text:
        if char in "\\{}":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\par\n")
        elif char == "\t":
            out.append("\\tab ")
        elif _PRINTABLE_LOW <= ord(char) <= _PRINTABLE_HIGH:
            out.append(char)
        else:
            units = char.encode("utf-16-le")
            for index in range(0, len(units), 2):
                unit = int.from_bytes(units[index : index + 2], "little")
                signed = unit - _UINT16 if unit >= _INT16_SIGN else unit
                out.append(f"\\u{signed}?")
    out.append(_RTF_FOOTER)
    return "".join(out)


def _from_rtf(document: str) -> str:
    if not (document.startswith(_RTF_HEADER) and document.endswith(_RTF_FOOTER)):
        raise NoteEncodingError("not an RTF note written by chartgate")
    body = document[len(_RTF_HEADER) : -len(_RTF_FOOTER)]
    units = bytearray()
    position = 0
    while position < len(body):
        match = _RTF_TOKEN.match(body, position)
        if match is None:
            raise NoteEncodingError(f"unexpected RTF at offset {position}")
        piece = match.group(0)
        if piece == "\\par\n":
            units += "\n".encode("utf-16-le")
        elif piece == "\\tab ":
            units += "\t".encode("utf-16-le")
        elif match.group(1) is not None:
            value = int(match.group(1))
            if not -_INT16_SIGN <= value < _INT16_SIGN:
                raise NoteEncodingError(f"RTF \\u value out of range at offset {position}")
            units += (value % _UINT16).to_bytes(2, "little")
        else:
            units += (match.group(2) or match.group(3)).encode("utf-16-le")
        position = match.end()
    try:
        return units.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise NoteEncodingError("the RTF note has a broken surrogate pair") from exc

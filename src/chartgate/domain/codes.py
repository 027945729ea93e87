"""Shape checks for the code systems a draft may carry, and for UCUM units.

These are *shape* checks, not terminology look-ups (chartgate has no terminology server):
they catch what a language model gets wrong most often, a mistyped or invented code, by the
rules each code system publishes for its identifiers:

- ICD-10-CM (http://hl7.org/fhir/sid/icd-10-cm): letter, digit, digit-or-letter, then an
  optional dot and 1-4 characters, dotted as FHIR expects (https://www.cdc.gov/nchs/icd/icd-10-cm/).
- SNOMED CT (http://snomed.info/sct): an SCTID of 6-18 digits whose last digit is a Verhoeff
  check digit and whose partition identifier says "concept"
  (https://confluence.ihtsdotools.org/display/DOCRELFMT/6.1+SCTID+Data+Type).
- LOINC (http://loinc.org): digits, hyphen, mod-10 check digit (https://loinc.org/kb/faq/structure/).
- RxNorm (http://www.nlm.nih.gov/research/umls/rxnorm): an RXCUI, a positive integer.
- UCUM (http://unitsofmeasure.org): the case-sensitive grammar of
  https://ucum.org/ucum#section-Syntax-Rules (no spaces, ASCII only, balanced brackets).
"""

from __future__ import annotations

import re
from typing import Final

from chartgate.domain.fhir_codes import LOINC
from chartgate.domain.policy import loinc_check_digit

ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED: Final = "http://snomed.info/sct"
RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM: Final = "http://unitsofmeasure.org"

SYSTEM_NAMES: Final = {
    ICD10CM: "ICD-10-CM",
    SNOMED: "SNOMED CT",
    LOINC: "LOINC",
    RXNORM: "RxNorm",
}
"""The code systems whose codes we check, with the name a finding uses."""

_ICD10CM_RE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
_SCTID_RE = re.compile(r"[1-9][0-9]{5,17}")
_LOINC_RE = re.compile(r"([0-9]{1,7})-([0-9])")
_LOINC_PART_RE = re.compile(r"L[APGL][0-9]{1,9}-[0-9]")  # LOINC parts and answers: shape only
_RXCUI_RE = re.compile(r"[1-9][0-9]{0,8}")
_SNOMED_CONCEPT_PARTITIONS: Final = frozenset({"00", "10"})

# Verhoeff's dihedral-group tables (J. Verhoeff, 1969), as used by SNOMED CT.
_VERHOEFF_D: Final = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P: Final = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """Whether a digit string ends in a correct Verhoeff check digit."""
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(char)]]
    return check == 0


def icd10cm_problem(code: str) -> str | None:
    """Why ``code`` is not an ICD-10-CM code, or None."""
    if _ICD10CM_RE.fullmatch(code) is None:
        return "is not an ICD-10-CM code (letter, 2 characters, optional dot and 1-4 more)"
    return None


def snomed_problem(code: str) -> str | None:
    """Why ``code`` is not a SNOMED CT concept id, or None."""
    if _SCTID_RE.fullmatch(code) is None:
        return "is not a SNOMED CT identifier (6-18 digits, no leading zero)"
    if not verhoeff_valid(code):
        return "has a wrong SNOMED CT (Verhoeff) check digit"
    if code[-3:-1] not in _SNOMED_CONCEPT_PARTITIONS:
        return "is a SNOMED CT identifier but not a concept id (partition identifier)"
    return None


def loinc_problem(code: str) -> str | None:
    """Why ``code`` is not a LOINC code, or None."""
    if _LOINC_PART_RE.fullmatch(code):
        return None
    match = _LOINC_RE.fullmatch(code)
    if match is None:
        return "is not a LOINC code (digits, hyphen, check digit)"
    if loinc_check_digit(match.group(1)) != int(match.group(2)):
        return "has a wrong LOINC (mod-10) check digit"
    return None


def rxnorm_problem(code: str) -> str | None:
    """Why ``code`` is not an RxNorm RXCUI, or None."""
    if _RXCUI_RE.fullmatch(code) is None:
        return "is not an RxNorm RXCUI (a positive integer)"
    return None


_CHECKS: Final = {
    ICD10CM: icd10cm_problem,
    SNOMED: snomed_problem,
    LOINC: loinc_problem,
    RXNORM: rxnorm_problem,
}

FINDING_CODES: Final = {
    ICD10CM: "code.invalid-icd10cm",
    SNOMED: "code.invalid-snomed",
    LOINC: "code.invalid-loinc",
    RXNORM: "code.invalid-rxnorm",
}


def code_problem(system: str, code: str) -> str | None:
    """Why ``code`` is malformed for ``system`` (None when fine or the system is not checked)."""
    check = _CHECKS.get(system)
    return None if check is None else check(code)


def normalize_icd10cm(code: str) -> str:
    """ICD-10-CM codes compare without the dot and case (``e11.9`` equals ``E119``)."""
    return code.replace(".", "").upper()


# --- UCUM ----------------------------------------------------------------------------------

_UCUM_SIMPLE_RE = re.compile(
    r"(?:(?:[0-9]+[*^]|[A-Za-z%'_]|\[[!-Z\\^-z|~]+\])+|[0-9]+)"  # atoms with prefixes, or a factor
    r"(?:[+-]?[0-9]+)?"  # exponent
)
_UCUM_ANNOTATION_RE = re.compile(r"\{[!-z|~]*\}")


def ucum_problem(unit: str) -> str | None:
    """Why ``unit`` is not shaped like a UCUM expression, or None.

    A recursive-descent reading of the UCUM syntax (term := '/'? component (('.'|'/')
    component)*; component := '(' term ')' | simple annotation? | annotation). Atoms are
    not looked up: ``mm[Hg]``, ``10*3/uL``, ``/min`` and ``{beats}/min`` pass, ``mg per dL``
    and ``°C`` do not.
    """
    if not unit:
        return "is empty"
    if any(not 33 <= ord(char) <= 126 for char in unit):  # noqa: PLR2004 - printable ASCII
        return "is not a UCUM code (spaces or non-ASCII characters)"
    try:
        end = _ucum_term(unit, 0)
    except ValueError:
        return "is not a UCUM code (syntax)"
    if end != len(unit):
        return "is not a UCUM code (syntax)"
    return None


def _ucum_term(text: str, index: int) -> int:
    if index < len(text) and text[index] == "/":
        index += 1
    index = _ucum_component(text, index)
    while index < len(text) and text[index] in "./":
        index = _ucum_component(text, index + 1)
    return index


def _ucum_component(text: str, index: int) -> int:
    if index < len(text) and text[index] == "(":
        index = _ucum_term(text, index + 1)
        if index >= len(text) or text[index] != ")":
            raise ValueError("unbalanced parenthesis")
        return index + 1
    simple = _UCUM_SIMPLE_RE.match(text, index)
    if simple is not None and simple.end() > index:
        index = simple.end()
        annotation = _UCUM_ANNOTATION_RE.match(text, index)
        return annotation.end() if annotation else index
    annotation = _UCUM_ANNOTATION_RE.match(text, index)
    if annotation is None:
        raise ValueError("expected a unit")
    return annotation.end()

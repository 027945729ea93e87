"""Code-system and unit shapes: what a mistyped or invented code looks like to us."""

from __future__ import annotations

import pytest

from chartgate.domain import codes


@pytest.mark.parametrize("code", ["E11.9", "I10", "J20.9", "U07.1", "Z99.89", "S72.001A"])
def test_well_formed_icd10cm_codes_pass(code: str) -> None:
    """Dotted ICD-10-CM codes, including 7-character ones, are accepted."""
    assert codes.icd10cm_problem(code) is None


@pytest.mark.parametrize("code", ["E119", "e11.9", "E11.", "E11.99999", "11.9", "E1"])
def test_malformed_icd10cm_codes_fail(code: str) -> None:
    """Undotted, lower-case, truncated or overlong ICD-10-CM codes are refused."""
    assert codes.icd10cm_problem(code) is not None


@pytest.mark.parametrize("code", ["44054006", "38341003", "195967001", "91936005", "73211009"])
def test_snomed_concept_ids_pass_the_verhoeff_check(code: str) -> None:
    """Real concept ids carry a correct Verhoeff check digit and the concept partition."""
    assert codes.snomed_problem(code) is None


def test_a_snomed_id_with_a_wrong_check_digit_fails() -> None:
    """One digit off is caught by the Verhoeff check."""
    assert "Verhoeff" in str(codes.snomed_problem("44054007"))


def test_a_snomed_description_id_is_not_a_concept() -> None:
    """A valid SCTID whose partition says 'description' is not a code for a Coding."""
    description = next(f"123456701{d}" for d in range(10) if codes.verhoeff_valid(f"123456701{d}"))
    assert "concept" in str(codes.snomed_problem(description))


@pytest.mark.parametrize("code", ["12345", "0123456", "abc123456"])
def test_snomed_ids_of_the_wrong_shape_fail(code: str) -> None:
    """Too short, leading zero, or not digits."""
    assert codes.snomed_problem(code) is not None


@pytest.mark.parametrize("code", ["11506-3", "4548-4", "2345-7", "85354-9", "LA6576-8"])
def test_loinc_codes_with_their_check_digit_pass(code: str) -> None:
    """LOINC codes (and answer/part ids by shape) are accepted."""
    assert codes.loinc_problem(code) is None


@pytest.mark.parametrize("code", ["4548-5", "4548", "28655-1", "11506"])
def test_loinc_codes_with_a_wrong_or_missing_check_digit_fail(code: str) -> None:
    """The mod-10 check digit catches a mistyped LOINC code (the STU9 page's 28655-1)."""
    assert codes.loinc_problem(code) is not None


@pytest.mark.parametrize(("code", "ok"), [("861007", True), ("RX861007", False), ("0", False)])
def test_rxnorm_codes_are_positive_integers(code: str, ok: bool) -> None:
    """An RXCUI is a positive integer."""
    assert (codes.rxnorm_problem(code) is None) is ok


def test_an_unchecked_system_has_no_problem() -> None:
    """Codes of systems we do not know are left to the terminology owner."""
    assert codes.code_problem("http://example.org/local", "anything goes") is None


@pytest.mark.parametrize(
    "unit",
    ["mg/dL", "10*3/uL", "mm[Hg]", "/min", "{beats}/min", "kg/m2", "%", "Cel", "mL/min/{1.73_m2}"],
)
def test_ucum_shaped_units_pass(unit: str) -> None:
    """Common UCUM expressions, with brackets, annotations and exponents, are accepted."""
    assert codes.ucum_problem(unit) is None


@pytest.mark.parametrize("unit", ["mg per dL", "°C", "kg//m", "(kg", "", "mg/", "{a{b}}"])
def test_units_that_are_not_ucum_fail(unit: str) -> None:
    """Spaces, non-ASCII, empty components and unbalanced brackets are refused."""
    assert codes.ucum_problem(unit) is not None


def test_icd10cm_codes_compare_without_dot_or_case() -> None:
    """E11.9 in the narrative matches a Condition coded E11.9 however it is spelled."""
    assert codes.normalize_icd10cm("e11.9") == codes.normalize_icd10cm("E119")

"""SMART App Launch scopes: v2 grammar, v1 spellings, chartgate's own scopes."""

from __future__ import annotations

import pytest

from chartgate.adapters.identity.scopes import (
    ResourceScope,
    ScopeError,
    ScopeSet,
    parse_resource_scope,
)


@pytest.mark.parametrize(
    ("scope", "context", "resource_type", "permissions"),
    [
        ("user/DocumentReference.cu", "user", "DocumentReference", "cu"),
        ("patient/*.rs", "patient", "*", "rs"),
        ("system/Encounter.cruds", "system", "Encounter", "cruds"),
        ("user/Patient.r", "user", "Patient", "r"),
        ("user/Observation.read", "user", "Observation", "rs"),
        ("patient/Observation.write", "patient", "Observation", "cud"),
        ("user/*.*", "user", "*", "cruds"),
    ],
)
def test_valid_scopes_parse_to_v2_permissions(scope, context, resource_type, permissions):
    """v2 letters are kept and v1 read/write/* are mapped to rs/cud/cruds."""
    parsed = parse_resource_scope(scope)
    assert parsed == ResourceScope(context, resource_type, frozenset(permissions))


def test_parameters_are_kept():
    """``?category=clinical-note`` narrows the scope and is kept as a parameter."""
    parsed = parse_resource_scope("user/DocumentReference.c?category=clinical-note")
    assert parsed is not None
    assert parsed.params == (("category", "clinical-note"),)
    assert parsed.allows("user", "DocumentReference", "c")


@pytest.mark.parametrize(
    "scope",
    [
        "user/DocumentReference.uc",  # out of cruds order
        "user/DocumentReference.cc",
        "user/DocumentReference.x",
        "user/DocumentReference.",
        "user/documentReference.r",
        "user/Document-Reference.r",
        "user/DocumentReference.read?category=clinical-note",  # v1 takes no parameters
        "user/DocumentReference.c?=x",
        "patient/*.rwx",
    ],
)
def test_malformed_resource_scopes_are_refused(scope):
    """A string that looks like a resource scope but breaks the grammar is an error."""
    with pytest.raises(ScopeError):
        parse_resource_scope(scope)


@pytest.mark.parametrize("scope", ["openid", "fhirUser", "launch/encounter", "online_access"])
def test_other_scopes_are_not_resource_scopes(scope):
    """openid, fhirUser and launch scopes are not resource scopes."""
    assert parse_resource_scope(scope) is None


def test_a_scope_set_classifies_every_scope():
    """Resource, chartgate, other and malformed scopes are told apart."""
    scopes = ScopeSet.parse(
        [
            "openid",
            "chartgate/drafts.approve",
            "chartgate/drafts.everything",
            "user/DocumentReference.cu",
            "user/Encounter.wr",
        ]
    )
    assert scopes.chartgate == {"chartgate/drafts.approve"}
    assert scopes.other == {"openid"}
    assert scopes.malformed == {"chartgate/drafts.everything", "user/Encounter.wr"}
    assert scopes.allows("user", "DocumentReference", "c")
    assert not scopes.allows("user", "DocumentReference", "d")
    assert not scopes.allows("patient", "DocumentReference", "c")


def test_a_wildcard_scope_covers_every_type():
    """``user/*.cu`` allows creating a DocumentReference."""
    assert ScopeSet.parse(["user/*.cu"]).allows("user", "DocumentReference", "c")


def test_a_parameter_other_than_the_note_category_does_not_cover_a_note():
    """A scope narrowed to another category does not allow writing a clinical note."""
    scopes = ScopeSet.parse(["user/DocumentReference.c?category=imaging"])
    assert not scopes.allows("user", "DocumentReference", "c")

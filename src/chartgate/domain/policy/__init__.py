"""The write-back matrix: which FHIR resources and note types may reach a chart, and how.

The matrix is data (a version-controlled YAML file, see ``chartgate/policy/writeback.yaml``) so
that what the scribe may write can be reviewed, diffed and audited without reading code. This
module holds its schema, its evaluation and its content hash; it reads no files. Evaluation is
*default deny*: a resource type, LOINC note type, EHR profile, note template or read resource
that the file does not name is refused, with a reason.

Shape of a policy document (every mapping refuses unknown keys)::

    version: 1                          # format version of this schema
    name: conservative-default
    vendors: {<ehr-profile>: {description, note_content_types?}}
    resources:
      DocumentReference:                # notes: decided per LOINC note type
        rollback, protected_fields, ehr_profiles,
        note_types: {<loinc>: {display, mode, auth, finalize_auth, content_types,
                               required_sections}}
      <ResourceType>: {mode, auth, allowed_fields, protected_fields, rollback, ehr_profiles}
    disallowed_content: [{id, description, match: literal|regex, pattern, case_sensitive,
                          severity, block_at: submit|approve}]
    validation: {max_note_bytes, narrative_only_marker, synonyms: {"<system>|<code>": [...]}}
    read_profiles: {<note-template-id>: {description, note_types, purpose_of_use,
                                         max_response_bytes,
                                         resources: [{type, elements, window_days,
                                                      categories, max_count, redact}]}}
    consent: {required_jurisdictions, required_tenants, statement}
    disclosures: [{id, jurisdictions, applies_to, source, text, unless}]

Field paths (``allowed_fields``, ``protected_fields``) are dotted FHIR element paths such as
``meta.security`` or ``value[x]``; a path also covers everything beneath it.
The package is split along its seams: ``terms`` (the enums and FHIR names a policy speaks),
``checks`` (value checks of single fields), ``schema`` (the pydantic models and the matrix's
questions), ``decisions`` (the answers), ``loader`` (bytes to a hashed, parsed policy) and
``matrix`` (the flat table ``chartgate policy show`` prints). Every public name is importable
from ``chartgate.domain.policy`` itself.
"""

from __future__ import annotations

from chartgate.domain.policy.checks import loinc_check_digit
from chartgate.domain.policy.decisions import Decision, ReadDecision
from chartgate.domain.policy.loader import LoadedPolicy, parse_policy, policy_hash
from chartgate.domain.policy.matrix import MatrixRow, matrix_rows
from chartgate.domain.policy.reading import ReadProfile, ReadRule
from chartgate.domain.policy.schema import (
    DisallowedPattern,
    NoteTypeRule,
    ResourceRule,
    ValidationRule,
    VendorRule,
    WritebackPolicy,
)
from chartgate.domain.policy.terms import (
    DOCUMENT_REFERENCE,
    FHIR_R4_RESOURCE_TYPES,
    Auth,
    MatchKind,
    Mode,
    Rollback,
    Severity,
)

__all__ = [
    "DOCUMENT_REFERENCE",
    "FHIR_R4_RESOURCE_TYPES",
    "Auth",
    "Decision",
    "DisallowedPattern",
    "LoadedPolicy",
    "MatchKind",
    "MatrixRow",
    "Mode",
    "NoteTypeRule",
    "ReadDecision",
    "ReadProfile",
    "ReadRule",
    "ResourceRule",
    "Rollback",
    "Severity",
    "ValidationRule",
    "VendorRule",
    "WritebackPolicy",
    "loinc_check_digit",
    "matrix_rows",
    "parse_policy",
    "policy_hash",
]

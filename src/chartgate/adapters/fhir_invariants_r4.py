"""FHIR R4 invariants of the resources chartgate sends (generated: do not edit by hand).

Source: HL7 FHIR R4 (4.0.1) StructureDefinitions, ``profiles-resources.json`` and
``profiles-types.json`` (https://hl7.org/fhir/R4/), ``ElementDefinition.constraint``.
Licence: the FHIR specification is published by HL7 under CC0 1.0 ("No Rights Reserved",
https://hl7.org/fhir/R4/license.html); this is a copy of part of it.
Regenerate with ``scripts/fhir_invariants.py``; evaluated by ``adapters/fhir_invariants.py``.

Each row: (resource type, FHIRPath of the context, key, severity, human text, expression).
Not evaluated:
- ele-1: per element: evaluated once per resource over descendants() instead (below)
- txt-1: Narrative XHTML checks (htmlChecks): chartgate sends no narrative
- txt-2: Narrative XHTML checks (htmlChecks): chartgate sends no narrative
Corrected:
- dom-3: the R4B/R5 wording (ofType for as)
- ele-1: on the resource, descendants().all(hasValue() or (children().count() > id.count()))
"""

INVARIANTS: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "DocumentReference",
        "DocumentReference",
        "ele-1",
        "error",
        "All FHIR elements must have a @value or children",
        "descendants().all(hasValue() or (children().count() > id.count()))",
    ),
    (
        "DocumentReference",
        "DocumentReference",
        "dom-2",
        "error",
        "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
        "contained.contained.empty()",
    ),
    (
        "DocumentReference",
        "DocumentReference",
        "dom-3",
        "error",
        "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
        "resource or SHALL refer to the containing resource",
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) "
        "= '#').exists()).not()).trace('unmatched', id).empty()",
    ),
    (
        "DocumentReference",
        "DocumentReference",
        "dom-4",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a "
        "meta.lastUpdated",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ),
    (
        "DocumentReference",
        "DocumentReference",
        "dom-5",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a security label",
        "contained.meta.security.empty()",
    ),
    (
        "DocumentReference",
        "DocumentReference",
        "dom-6",
        "warning",
        "A resource should have narrative for robust management",
        "text.`div`.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.subject",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "DocumentReference",
        "DocumentReference.author",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "DocumentReference",
        "DocumentReference.authenticator",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "DocumentReference",
        "DocumentReference.custodian",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "DocumentReference",
        "DocumentReference.relatesTo.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.relatesTo.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.relatesTo.target",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "DocumentReference",
        "DocumentReference.content.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.content.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.content.attachment",
        "att-1",
        "error",
        "If the Attachment has data, it SHALL have a contentType",
        "data.empty() or contentType.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.context.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.context.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "DocumentReference",
        "DocumentReference.context.encounter",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "DocumentReference",
        "DocumentReference.context.period",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "DocumentReference",
        "DocumentReference.context.sourcePatientInfo",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "DocumentReference",
        "DocumentReference.context.related",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Provenance",
        "Provenance",
        "ele-1",
        "error",
        "All FHIR elements must have a @value or children",
        "descendants().all(hasValue() or (children().count() > id.count()))",
    ),
    (
        "Provenance",
        "Provenance",
        "dom-2",
        "error",
        "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
        "contained.contained.empty()",
    ),
    (
        "Provenance",
        "Provenance",
        "dom-3",
        "error",
        "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
        "resource or SHALL refer to the containing resource",
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) "
        "= '#').exists()).not()).trace('unmatched', id).empty()",
    ),
    (
        "Provenance",
        "Provenance",
        "dom-4",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a "
        "meta.lastUpdated",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ),
    (
        "Provenance",
        "Provenance",
        "dom-5",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a security label",
        "contained.meta.security.empty()",
    ),
    (
        "Provenance",
        "Provenance",
        "dom-6",
        "warning",
        "A resource should have narrative for robust management",
        "text.`div`.exists()",
    ),
    (
        "Provenance",
        "Provenance.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Provenance",
        "Provenance.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Provenance",
        "Provenance.target",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Provenance",
        "Provenance.occurred.ofType(Period)",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "Provenance",
        "Provenance.location",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Provenance",
        "Provenance.agent.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Provenance",
        "Provenance.agent.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Provenance",
        "Provenance.agent.who",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Provenance",
        "Provenance.agent.onBehalfOf",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Provenance",
        "Provenance.entity.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Provenance",
        "Provenance.entity.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Provenance",
        "Provenance.entity.what",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Condition",
        "Condition",
        "ele-1",
        "error",
        "All FHIR elements must have a @value or children",
        "descendants().all(hasValue() or (children().count() > id.count()))",
    ),
    (
        "Condition",
        "Condition",
        "con-3",
        "warning",
        "Condition.clinicalStatus SHALL be present if verificationStatus is not entered-in-error and "
        "category is problem-list-item",
        "clinicalStatus.exists() or "
        "verificationStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/condition-ver-status' "
        "and code = 'entered-in-error').exists() or category.select($this='problem-list-item').empty()",
    ),
    (
        "Condition",
        "Condition",
        "con-4",
        "error",
        "If condition is abated, then clinicalStatus must be either inactive, resolved, or remission",
        "abatement.empty() or "
        "clinicalStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/condition-clinical' "
        "and (code='resolved' or code='remission' or code='inactive')).exists()",
    ),
    (
        "Condition",
        "Condition",
        "con-5",
        "error",
        "Condition.clinicalStatus SHALL NOT be present if verification Status is entered-in-error",
        "verificationStatus.coding.where(system='http://terminology.hl7.org/CodeSystem/condition-ver-status' "
        "and code='entered-in-error').empty() or clinicalStatus.empty()",
    ),
    (
        "Condition",
        "Condition",
        "dom-2",
        "error",
        "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
        "contained.contained.empty()",
    ),
    (
        "Condition",
        "Condition",
        "dom-3",
        "error",
        "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
        "resource or SHALL refer to the containing resource",
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) "
        "= '#').exists()).not()).trace('unmatched', id).empty()",
    ),
    (
        "Condition",
        "Condition",
        "dom-4",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a "
        "meta.lastUpdated",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ),
    (
        "Condition",
        "Condition",
        "dom-5",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a security label",
        "contained.meta.security.empty()",
    ),
    (
        "Condition",
        "Condition",
        "dom-6",
        "warning",
        "A resource should have narrative for robust management",
        "text.`div`.exists()",
    ),
    (
        "Condition",
        "Condition.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Condition",
        "Condition.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Condition",
        "Condition.subject",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Condition",
        "Condition.encounter",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Condition",
        "Condition.onset.ofType(Age)",
        "age-1",
        "error",
        "There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is "
        "present, it SHALL be UCUM.  If value is present, it SHALL be positive.",
        "(code.exists() or value.empty()) and (system.empty() or system = %ucum) and (value.empty() or "
        "value.hasValue().not() or value > 0)",
    ),
    (
        "Condition",
        "Condition.onset.ofType(Age)",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "Condition",
        "Condition.onset.ofType(Period)",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "Condition",
        "Condition.onset.ofType(Range)",
        "rng-2",
        "error",
        "If present, low SHALL have a lower value than high",
        "low.empty() or high.empty() or (low <= high)",
    ),
    (
        "Condition",
        "Condition.abatement.ofType(Age)",
        "age-1",
        "error",
        "There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is "
        "present, it SHALL be UCUM.  If value is present, it SHALL be positive.",
        "(code.exists() or value.empty()) and (system.empty() or system = %ucum) and (value.empty() or "
        "value.hasValue().not() or value > 0)",
    ),
    (
        "Condition",
        "Condition.abatement.ofType(Age)",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "Condition",
        "Condition.abatement.ofType(Period)",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "Condition",
        "Condition.abatement.ofType(Range)",
        "rng-2",
        "error",
        "If present, low SHALL have a lower value than high",
        "low.empty() or high.empty() or (low <= high)",
    ),
    (
        "Condition",
        "Condition.recorder",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Condition",
        "Condition.asserter",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Condition",
        "Condition.stage",
        "con-1",
        "error",
        "Stage SHALL have summary or assessment",
        "summary.exists() or assessment.exists()",
    ),
    (
        "Condition",
        "Condition.stage.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Condition",
        "Condition.stage.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Condition",
        "Condition.stage.assessment",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Condition",
        "Condition.evidence",
        "con-2",
        "error",
        "evidence SHALL have code or details",
        "code.exists() or detail.exists()",
    ),
    (
        "Condition",
        "Condition.evidence.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Condition",
        "Condition.evidence.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Condition",
        "Condition.evidence.detail",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "ele-1",
        "error",
        "All FHIR elements must have a @value or children",
        "descendants().all(hasValue() or (children().count() > id.count()))",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "ait-1",
        "error",
        "AllergyIntolerance.clinicalStatus SHALL be present if verificationStatus is not "
        "entered-in-error.",
        "verificationStatus.coding.where(system = "
        "'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification' and code = "
        "'entered-in-error').exists() or clinicalStatus.exists()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "ait-2",
        "error",
        "AllergyIntolerance.clinicalStatus SHALL NOT be present if verification Status is "
        "entered-in-error",
        "verificationStatus.coding.where(system = "
        "'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification' and code = "
        "'entered-in-error').empty() or clinicalStatus.empty()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "dom-2",
        "error",
        "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
        "contained.contained.empty()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "dom-3",
        "error",
        "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
        "resource or SHALL refer to the containing resource",
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) "
        "= '#').exists()).not()).trace('unmatched', id).empty()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "dom-4",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a "
        "meta.lastUpdated",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "dom-5",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a security label",
        "contained.meta.security.empty()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance",
        "dom-6",
        "warning",
        "A resource should have narrative for robust management",
        "text.`div`.exists()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.patient",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.encounter",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.onset.ofType(Age)",
        "age-1",
        "error",
        "There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is "
        "present, it SHALL be UCUM.  If value is present, it SHALL be positive.",
        "(code.exists() or value.empty()) and (system.empty() or system = %ucum) and (value.empty() or "
        "value.hasValue().not() or value > 0)",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.onset.ofType(Age)",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.onset.ofType(Period)",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.onset.ofType(Range)",
        "rng-2",
        "error",
        "If present, low SHALL have a lower value than high",
        "low.empty() or high.empty() or (low <= high)",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.recorder",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.asserter",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.reaction.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "AllergyIntolerance",
        "AllergyIntolerance.reaction.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Observation",
        "Observation",
        "ele-1",
        "error",
        "All FHIR elements must have a @value or children",
        "descendants().all(hasValue() or (children().count() > id.count()))",
    ),
    (
        "Observation",
        "Observation",
        "dom-2",
        "error",
        "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
        "contained.contained.empty()",
    ),
    (
        "Observation",
        "Observation",
        "dom-3",
        "error",
        "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
        "resource or SHALL refer to the containing resource",
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) "
        "= '#').exists()).not()).trace('unmatched', id).empty()",
    ),
    (
        "Observation",
        "Observation",
        "dom-4",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a "
        "meta.lastUpdated",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ),
    (
        "Observation",
        "Observation",
        "dom-5",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a security label",
        "contained.meta.security.empty()",
    ),
    (
        "Observation",
        "Observation",
        "dom-6",
        "warning",
        "A resource should have narrative for robust management",
        "text.`div`.exists()",
    ),
    (
        "Observation",
        "Observation",
        "obs-6",
        "error",
        "dataAbsentReason SHALL only be present if Observation.value[x] is not present",
        "dataAbsentReason.empty() or value.empty()",
    ),
    (
        "Observation",
        "Observation",
        "obs-7",
        "error",
        "If Observation.code is the same as an Observation.component.code then the value element "
        "associated with the code SHALL NOT be present",
        "value.empty() or "
        "component.code.where(coding.intersect(%resource.code.coding).exists()).empty()",
    ),
    (
        "Observation",
        "Observation.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Observation",
        "Observation.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Observation",
        "Observation.basedOn",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.partOf",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.subject",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.focus",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.encounter",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.effective.ofType(Period)",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "Observation",
        "Observation.performer",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.value.ofType(Quantity)",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "Observation",
        "Observation.value.ofType(Range)",
        "rng-2",
        "error",
        "If present, low SHALL have a lower value than high",
        "low.empty() or high.empty() or (low <= high)",
    ),
    (
        "Observation",
        "Observation.value.ofType(Ratio)",
        "rat-1",
        "error",
        "Numerator and denominator SHALL both be present, or both are absent. If both are absent, there "
        "SHALL be some extension present",
        "(numerator.empty() xor denominator.exists()) and (numerator.exists() or extension.exists())",
    ),
    (
        "Observation",
        "Observation.value.ofType(Period)",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "Observation",
        "Observation.specimen",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.device",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.referenceRange",
        "obs-3",
        "error",
        "Must have at least a low or a high or text",
        "low.exists() or high.exists() or text.exists()",
    ),
    (
        "Observation",
        "Observation.referenceRange.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Observation",
        "Observation.referenceRange.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Observation",
        "Observation.referenceRange.low",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "Observation",
        "Observation.referenceRange.high",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "Observation",
        "Observation.referenceRange.age",
        "rng-2",
        "error",
        "If present, low SHALL have a lower value than high",
        "low.empty() or high.empty() or (low <= high)",
    ),
    (
        "Observation",
        "Observation.hasMember",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.derivedFrom",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "Observation",
        "Observation.component.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Observation",
        "Observation.component.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "Observation",
        "Observation.component.value.ofType(Quantity)",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "Observation",
        "Observation.component.value.ofType(Range)",
        "rng-2",
        "error",
        "If present, low SHALL have a lower value than high",
        "low.empty() or high.empty() or (low <= high)",
    ),
    (
        "Observation",
        "Observation.component.value.ofType(Ratio)",
        "rat-1",
        "error",
        "Numerator and denominator SHALL both be present, or both are absent. If both are absent, there "
        "SHALL be some extension present",
        "(numerator.empty() xor denominator.exists()) and (numerator.exists() or extension.exists())",
    ),
    (
        "Observation",
        "Observation.component.value.ofType(Period)",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "MedicationRequest",
        "MedicationRequest",
        "ele-1",
        "error",
        "All FHIR elements must have a @value or children",
        "descendants().all(hasValue() or (children().count() > id.count()))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest",
        "dom-2",
        "error",
        "If the resource is contained in another resource, it SHALL NOT contain nested Resources",
        "contained.contained.empty()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest",
        "dom-3",
        "error",
        "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the "
        "resource or SHALL refer to the containing resource",
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) "
        "= '#').exists()).not()).trace('unmatched', id).empty()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest",
        "dom-4",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a meta.versionId or a "
        "meta.lastUpdated",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest",
        "dom-5",
        "error",
        "If a resource is contained in another resource, it SHALL NOT have a security label",
        "contained.meta.security.empty()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest",
        "dom-6",
        "warning",
        "A resource should have narrative for robust management",
        "text.`div`.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.reported.ofType(Reference)",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.medication.ofType(Reference)",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.subject",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.encounter",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.supportingInformation",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.requester",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.performer",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.recorder",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.reasonReference",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.basedOn",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.insurance",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.initialFill.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.initialFill.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.initialFill.quantity",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.initialFill.duration",
        "drt-1",
        "error",
        "There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is "
        "present, it SHALL be UCUM.",
        "code.exists() implies ((system = %ucum) and value.exists())",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.initialFill.duration",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.dispenseInterval",
        "drt-1",
        "error",
        "There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is "
        "present, it SHALL be UCUM.",
        "code.exists() implies ((system = %ucum) and value.exists())",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.dispenseInterval",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.validityPeriod",
        "per-1",
        "error",
        "If present, start SHALL have a lower value than end",
        "start.hasValue().not() or end.hasValue().not() or (start <= end)",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.quantity",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.expectedSupplyDuration",
        "drt-1",
        "error",
        "There SHALL be a code if there is a value and it SHALL be an expression of time.  If system is "
        "present, it SHALL be UCUM.",
        "code.exists() implies ((system = %ucum) and value.exists())",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.expectedSupplyDuration",
        "qty-3",
        "error",
        "If a code for the unit is present, the system SHALL also be present",
        "code.empty() or system.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.dispenseRequest.performer",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.substitution.extension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.substitution.modifierExtension",
        "ext-1",
        "error",
        "Must have either extensions or value[x], not both",
        "extension.exists() != value.exists()",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.priorPrescription",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.detectedIssue",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
    (
        "MedicationRequest",
        "MedicationRequest.eventHistory",
        "ref-1",
        "error",
        "SHALL have a contained resource if a local reference is provided",
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
    ),
)

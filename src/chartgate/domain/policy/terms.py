"""The words a write-back policy speaks: modes, authentication strengths, rollbacks, FHIR names.

``Severity`` is the findings' own (``domain/findings.py``), re-exported here because a
disallowed-content rule names one.
"""

from __future__ import annotations

from enum import StrEnum

from chartgate.domain.findings import Severity

__all__ = [
    "DOCUMENT_REFERENCE",
    "FHIR_R4_RESOURCE_TYPES",
    "Auth",
    "MatchKind",
    "Mode",
    "Rollback",
    "Severity",
]

DOCUMENT_REFERENCE = "DocumentReference"
"""The one resource type decided per LOINC note type (``decide_note``), never as a whole."""

# FHIR R4 (4.0.1) concrete resource types, https://hl7.org/fhir/R4/resourcelist.html.
# A policy naming anything else is a typo, and a typo in an allowlist fails silently.
FHIR_R4_RESOURCE_TYPES: frozenset[str] = frozenset(
    """
    Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse
    AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
    CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
    ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition
    Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
    CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest
    DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis
    Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
    GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
    ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice
    Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
    MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
    MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
    MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
    MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition
    ResearchStudy ResearchSubject RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter
    ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition StructureMap Subscription
    Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein
    SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification SupplyDelivery
    SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
    VisionPrescription
    """.split()  # noqa: SIM905 - 145 names read best as a block of words
)


class Mode(StrEnum):
    """How a resource or note type may reach the chart."""

    DRAFT_ONLY = "draft-only"  # shown to the clinician for review, never written to the EHR
    CLINICIAN_APPROVED = "clinician-approved"  # written only after an explicit approval
    AUTO_WRITE = "auto-write"  # written without approval, only within allowed_fields


class Auth(StrEnum):
    """Strength of clinician authentication an action needs (step-up is the stronger)."""

    MFA = "mfa"
    STEP_UP = "step-up"

    @property
    def strength(self) -> int:
        """Rank used to check that finalize never asks for less than approve."""
        return _AUTH_STRENGTH[self]


_AUTH_STRENGTH = {Auth.MFA: 1, Auth.STEP_UP: 2}


class Rollback(StrEnum):
    """How a wrong write-back is undone (FHIR-FACTS.md, "DocumentReference for notes")."""

    AMEND_REPLACES = "amend-replaces"  # a new resource with relatesTo = replaces the old one
    ENTERED_IN_ERROR = "entered-in-error"  # the resource is retracted by status
    NONE = "none"  # nothing to undo: the resource is never written


class MatchKind(StrEnum):
    """How a disallowed-content pattern is read."""

    LITERAL = "literal"
    REGEX = "regex"

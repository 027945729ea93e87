"""The validation gate: every rule over one version, and the decision at each step.

Composes the pure rules (``domain/validation.py``) with the FHIR schema port
(``ResourceSchema``, the ``fhir.resources`` adapter in production) and the FHIR invariants
port (``ResourceInvariants``, ``fhirpathpy`` in production) over *what would be sent*:
the note's DocumentReference, its Provenance, and each structured proposal with the
elements chartgate owns filled in. Submit and save refuse ``Stage.SUBMIT`` errors;
approval refuses any error and any warning not acknowledged (``domain/findings.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from chartgate import __version__
from chartgate.domain.ai_transparency import check_ai_label, check_ai_provenance
from chartgate.domain.documents import NoteWrite, build_document_reference
from chartgate.domain.drafts import Draft, DraftVersion, hash_content
from chartgate.domain.errors import ValidationFailed
from chartgate.domain.findings import Finding, Verdict, ordered
from chartgate.domain.note_document import check_note_document, outbound_resource
from chartgate.domain.policy import LoadedPolicy
from chartgate.domain.provenance import ProvenanceFacts, build_provenance
from chartgate.domain.submission import DraftSubmission, Origin, VersionContent
from chartgate.domain.validation import DraftFacts, check_version
from chartgate.service.ports import JsonObject
from chartgate.service.validation_ports import ResourceInvariants, ResourceSchema

PENDING_ID = "00000000-0000-0000-0000-000000000000"
"""Stands for ids not yet assigned when previewing what would be sent."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose note it is and which version: what the Provenance and DocumentReference name."""

    patient: str
    encounter: str
    origin: Origin
    draft_id: str
    version: int
    content_hash: str | None  # None: hashed here, once the text is known to be encodable


@dataclass(frozen=True, slots=True)
class Preview:
    """What an approval now would send, for validation only (ids are placeholders)."""

    author: str
    at: datetime
    content_type: str | None = None


APPROVAL_VALUE_INVARIANTS = frozenset({"ele-1", "ref-1"})
"""The R4 invariants the approval-time values can break in what is sent (ADR 0032's probe).

The values are two ``Reference.reference`` strings (the approver, the document's target) and
the ``recorded`` instant: ``ref-1`` is the invariant of a Reference, ``ele-1`` that of every
element. The probe's other Provenance invariants (``dom-2``..``dom-5`` over ``contained``,
``ext-1`` over extensions, ``per-1`` over ``occurred``, ``ref-1`` of ``onBehalfOf``) look at
elements the probe never has; ``tests/unit/test_approval_values_probe.py`` proves it over the
rules file, so an invariant added there for these elements fails the test, not the gate."""

PENDING_AUTHOR = "Practitioner/pending"
"""The author placeholder before approval: the clinician is not known yet."""


class DraftValidator:
    """Runs every rule; raises ``ValidationFailed`` where a step must refuse."""

    def __init__(
        self,
        policy: LoadedPolicy,
        schema: ResourceSchema | None = None,
        invariants: ResourceInvariants | None = None,
    ) -> None:
        self._policy = policy
        self._schema = schema
        self._invariants = invariants

    def content_findings(
        self,
        *,
        patient: str,
        encounter: str,
        content: VersionContent,
        authored_by_scribe: bool,
        author: str,
        at: datetime,
        model_texts: tuple[str, ...] = (),
    ) -> list[Finding]:
        """Pure rules plus the schema of each structured proposal, as it would be sent.

        ``model_texts``: the note texts the scribe wrote in the draft's earlier versions.
        """
        clinician = None if author == PENDING_AUTHOR else author
        facts = DraftFacts(
            patient,
            encounter,
            content,
            authored_by_scribe=authored_by_scribe,
            model_texts=model_texts,
            clinician=clinician,
        )
        findings = check_version(facts, self._policy.policy)
        for index, resource in enumerate(content.resources):
            outbound = outbound_resource(
                resource, patient=patient, encounter=encounter, author=author, at=at
            )
            findings.extend(self._schema_check(outbound, f"resources[{index}]"))
        return ordered(findings)

    def document_findings(
        self, document: JsonObject, *, doc_status: str | None, schema: bool = True
    ) -> list[Finding]:
        """US Core rules and the schema of one note DocumentReference.

        ``schema=False``: the schema was proven by the version's stamp (ADR 0032).
        """
        findings = check_note_document(
            document,
            doc_status=doc_status,
            max_bytes=self._policy.policy.validation.max_note_bytes,
        )
        findings.extend(check_ai_label(document, where="DocumentReference"))
        if schema:
            findings.extend(self._schema_check(document, "DocumentReference"))
        return ordered(findings)

    def provenance_findings(self, provenance: JsonObject, *, schema: bool = True) -> list[Finding]:
        """The AI-Provenance rules and (unless proven by a stamp) the schema of one Provenance."""
        findings = check_ai_provenance(provenance)
        if schema:
            findings.extend(self._schema_check(provenance, "Provenance"))
        return ordered(findings)

    # -- the schema stamp (ADR 0032) ------------------------------------------------------

    @property
    def version(self) -> str:
        """This validator's code and models: part of every stamp, so an upgrade re-proves."""
        schema = "no schema" if self._schema is None else self._schema.version
        invariants = "no invariants" if self._invariants is None else self._invariants.version
        return f"chartgate {__version__}; {schema}; {invariants}"

    def stamp_digest(self, document: JsonObject, provenance: JsonObject) -> str:
        """The digest of what the schema judges: both templates, the policy, the validator."""
        body = json.dumps(
            {
                "validator": self.version,
                "policy": self._hash,
                "document": document,
                "provenance": provenance,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return "sha256:" + hashlib.sha256(body.encode()).hexdigest()

    def schema_stamp(self, document: JsonObject, provenance: JsonObject) -> str | None:
        """The stamp of the two templates when the FHIR schema passes both; else None."""
        if self._schema_check(document, "DocumentReference") or self._schema_check(
            provenance, "Provenance"
        ):
            return None
        return self.stamp_digest(document, provenance)

    def approval_values_findings(
        self, *, author: str, at: datetime, writeback_id: str
    ) -> list[Finding]:
        """The schema's judgment of what an approval puts where the stamp had placeholders.

        The approver's reference, the time (an instant) and the write-back id, in the element
        types they take in what is sent (``Reference.reference``, ``instant``, ``string``).
        """
        probe = approval_values_probe(author=author, at=at, writeback_id=writeback_id)
        return self._schema_check(probe, "approval", invariants=APPROVAL_VALUE_INVARIANTS)

    def version_findings(
        self, draft: Draft, version: DraftVersion, preview: Preview, *, doc_status: str
    ) -> list[Finding]:
        """Everything about one stored version, as if it were approved now."""
        return self.all_findings(
            Subject(
                patient=draft.patient,
                encounter=draft.encounter,
                origin=draft.origin,
                draft_id=draft.id,
                version=version.number,
                content_hash=version.content_hash,
            ),
            version.content,
            preview,
            authored_by_scribe=version.author.startswith("scribe:"),
            doc_status=doc_status,
            model_texts=model_texts(draft),
        )

    def submission_findings(self, submission: DraftSubmission, preview: Preview) -> list[Finding]:
        """Everything about a submission (``chartgate validate``), as if approved unedited."""
        content = submission.content()
        subject = Subject(
            patient=submission.patient,
            encounter=submission.encounter,
            origin=submission.origin,
            draft_id=PENDING_ID,
            version=1,
            content_hash=None,
        )
        return self.all_findings(
            subject, content, preview, authored_by_scribe=True, doc_status="preliminary"
        )

    def all_findings(
        self,
        subject: Subject,
        content: VersionContent,
        preview: Preview,
        *,
        authored_by_scribe: bool,
        doc_status: str,
        model_texts: tuple[str, ...] = (),
    ) -> list[Finding]:
        """Content rules, then the note DocumentReference and Provenance that would be sent."""
        findings = self.content_findings(
            patient=subject.patient,
            encounter=subject.encounter,
            content=content,
            authored_by_scribe=authored_by_scribe,
            author=preview.author,
            at=preview.at,
            model_texts=model_texts,
        )
        if any(f.refused_at_submit and f.code.startswith("encoding.") for f in findings):
            return findings  # the note cannot even be rendered
        document = build_document_reference(
            NoteWrite(
                writeback_id=PENDING_ID,
                patient=subject.patient,
                encounter=subject.encounter,
                author=preview.author,
                content=content,
                doc_status=doc_status,
                date=preview.at,
                content_type=preview.content_type,
            )
        )
        findings.extend(self.document_findings(document, doc_status=doc_status))
        provenance = provenance_for(
            origin=subject.origin,
            draft_id=subject.draft_id,
            version=subject.version,
            content_hash=subject.content_hash or hash_content(content),
            clinician=preview.author,
            at=preview.at,
            policy_hash=self._hash,
        )
        findings.extend(self.provenance_findings(provenance))
        return ordered(findings)

    @property
    def _hash(self) -> str:
        return self._policy.content_hash

    @staticmethod
    def provenance_preview(
        draft: Draft, version: DraftVersion, preview: Preview, *, policy_hash: str
    ) -> JsonObject:
        """The Provenance an approval now would send (placeholder target)."""
        return provenance_for(
            origin=draft.origin,
            draft_id=draft.id,
            version=version.number,
            content_hash=version.content_hash,
            clinician=preview.author,
            at=preview.at,
            policy_hash=policy_hash,
        )

    # -- the gates ------------------------------------------------------------------------

    @staticmethod
    def refuse_submit(findings: Iterable[Finding], *, step: str) -> None:
        """Refuse a submission or save that has ``Stage.SUBMIT`` errors."""
        refused = [f for f in findings if f.refused_at_submit]
        if refused:
            raise ValidationFailed(
                f"the {step} is refused: {len(refused)} finding(s) must be fixed first",
                findings=refused,
            )

    @staticmethod
    def judge_approval(findings: Iterable[Finding], acknowledged: Iterable[str]) -> Verdict:
        """Refuse approval on any error or unacknowledged warning; else the verdict."""
        verdict = Verdict.of(findings, acknowledged)
        if not verdict.accepted:
            errors = sum(1 for f in verdict.blocking if f.is_error)
            warnings = len(verdict.blocking) - errors
            raise ValidationFailed(
                f"approval is refused: {errors} error finding(s), {warnings} unacknowledged"
                " warning(s) (acknowledge a warning as code@location)",
                findings=verdict.blocking,
            )
        return verdict

    def _schema_check(
        self, resource: JsonObject, location: str, *, invariants: frozenset[str] | None = None
    ) -> list[Finding]:
        """The schema; where it holds, the FHIR invariants (an approval-stage error each).

        ``invariants``: only these invariant keys (None: every one).
        """
        found = [] if self._schema is None else self._schema.check(resource, location=location)
        if not found and self._invariants is not None:
            found = self._invariants.check(resource, location=location, keys=invariants)
        return found


def approval_values_probe(*, author: str, at: datetime, writeback_id: str) -> JsonObject:
    """The approval-time values in the element types they take in what is sent (ADR 0032)."""
    return {
        "resourceType": "Provenance",
        "target": [{"reference": f"DocumentReference/{writeback_id}"}],
        "recorded": at.isoformat().replace("+00:00", "Z"),
        "agent": [{"who": {"reference": author}}],
    }


def model_texts(draft: Draft) -> tuple[str, ...]:
    """The note texts the scribe (the model) wrote in ``draft``: its scribe-authored versions."""
    return tuple(
        version.content.note.text
        for version in draft.versions
        if version.author.startswith("scribe:")
    )


def provenance_for(
    *,
    origin: Origin,
    draft_id: str,
    version: int,
    content_hash: str,
    clinician: str,
    at: datetime,
    policy_hash: str,
) -> JsonObject:
    """A Provenance built as the write-back executor builds it, with a placeholder target."""
    return build_provenance(
        ProvenanceFacts(
            writeback_id=PENDING_ID,
            target=f"DocumentReference/{PENDING_ID}/_history/1",
            activity="CREATE",
            recorded=at,
            clinician=clinician,
            origin=origin,
            draft_id=draft_id,
            version=version,
            content_hash=content_hash,
            policy_hash=policy_hash,
            gateway_version=__version__,
        )
    )

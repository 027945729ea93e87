"""A typed client generated from ``/openapi.json`` drives the whole story (issue 12).

``tests/chartgate_client`` is what ``make client`` generates with openapi-python-client from
the published document; ``OPENAPI_SHA256`` beside it names the document it was generated
from, so a change to the API that is not regenerated fails here first. The story uses only
the generated functions and models: a scribe submits, a clinician reads, edits, approves
(replaying the approval by its Idempotency-Key), the worker writes, the clinician reads the
write-back and finalizes, an auditor reads the trail; a refusal parses as OperationOutcome.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

from builders import submission
from chartgate.api import models
from chartgate_client import AuthenticatedClient
from chartgate_client.api.audit import audit_events
from chartgate_client.api.drafts import (
    approve,
    finalize,
    get_draft,
    get_writeback,
    save_version,
    submit_draft,
)
from chartgate_client.models import (
    AuditEvents,
    Draft,
    DraftSubmission,
    OperationOutcome,
    Queued,
    VersionEdit,
    Writeback,
)
from stack import Stack

ROOT = Path(__file__).resolve().parents[2]


def test_the_client_was_generated_from_the_current_document() -> None:
    """The committed client matches ``/openapi.json`` today (else: ``make client``)."""
    document = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "openapi.py")],
        capture_output=True,
        check=True,
    ).stdout
    recorded = (ROOT / "tests" / "chartgate_client" / "OPENAPI_SHA256").read_text().strip()
    assert hashlib.sha256(document).hexdigest() == recorded, "run `make client` and commit"


def test_the_generated_client_drives_the_whole_story(sandbox_stack: Stack) -> None:  # noqa: PLR0915 - one story
    """Submit, read, edit, approve (and replay), write, read status, finalize, audit."""
    base = str(sandbox_stack.api.base_url)
    scribe = AuthenticatedClient(base_url=base, token=sandbox_stack.scribe_token())
    clinician = AuthenticatedClient(base_url=base, token=sandbox_stack.clinician_token())
    auditor = AuthenticatedClient(
        base_url=base,
        token=sandbox_stack.sandbox.idp.mint(
            subject="auditor-1",
            scopes=["openid", "chartgate/audit.read"],
            tenant=sandbox_stack.tenant,
        ),
    )

    created = submit_draft.sync_detailed(
        client=scribe, body=DraftSubmission.from_dict(submission()), idempotency_key="story-1"
    )
    assert created.status_code == 201
    draft = created.parsed
    assert isinstance(draft, Draft)
    assert created.headers["Location"] == f"/v1/drafts/{draft.id}"
    models.Draft.model_validate(json.loads(created.content))  # strict: no field undocumented

    read_answer = get_draft.sync_detailed(draft.id, client=clinician)
    models.Draft.model_validate(json.loads(read_answer.content))
    read = read_answer.parsed
    assert isinstance(read, Draft)
    assert read.current_version == 1

    edit = submission()["note"]
    edit["text"] += "\nPlan reviewed with the patient."
    saved = save_version.sync(
        draft.id,
        client=clinician,
        body=VersionEdit.from_dict({"note": edit, "resources": []}),
        if_match='W/"1"',
    )
    assert isinstance(saved, Draft)
    assert saved.current_version == 2

    first = approve.sync_detailed(
        draft.id, client=clinician, if_match='W/"2"', idempotency_key="story-approve"
    )
    queued = first.parsed
    assert isinstance(queued, Queued), first.content
    again = approve.sync_detailed(
        draft.id, client=clinician, if_match='W/"2"', idempotency_key="story-approve"
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert isinstance(again.parsed, Queued)
    assert again.parsed.writeback.id == queued.writeback.id

    models.Queued.model_validate(json.loads(first.content))
    sandbox_stack.work()
    detailed = get_writeback.sync_detailed(queued.writeback.id, client=clinician)
    models.Writeback.model_validate(json.loads(detailed.content))
    status = detailed.parsed
    assert isinstance(status, Writeback)
    assert status.state == "committed"
    assert status.ehr_resource is not None

    final = finalize.sync(draft.id, client=clinician)
    assert isinstance(final, Queued), final
    sandbox_stack.work()
    finalized = get_writeback.sync(final.writeback.id, client=clinician)
    assert isinstance(finalized, Writeback)
    assert finalized.state == "committed"

    trail = audit_events.sync(client=auditor, correlation_id=draft.correlation_id)
    assert isinstance(trail, AuditEvents)
    types = [entry.event.additional_properties["type"] for entry in trail.events]
    assert "draft.approved" in types
    assert "request.replayed" in types

    missing = get_draft.sync_detailed(str(uuid.uuid4()), client=clinician)
    assert missing.status_code == 404
    assert isinstance(missing.parsed, OperationOutcome)
    assert missing.parsed.issue[0].code == "not-found"

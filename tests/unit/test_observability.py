"""Logs and metrics stay apart from PHI: the scrubbing chain and the metric labels."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog

from chartgate.adapters.storage.observed import ObservedEvent
from chartgate.domain.events import AuditRecord, EventType
from chartgate.observability import Metrics, configure_logging, logs, scrub_phi

TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture
def scrubbed_logging() -> Iterator[None]:
    """``configure_logging`` for one test, undone afterwards (root handler, structlog)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG")
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False
    structlog.reset_defaults()


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    "value",
    [
        "5358c77b-2801-41ae-a2e2-6a892ec04890",
        "2xx",
        "writeback.committed",
        f"x{TOKEN}",
        "bearer\tabc.def",
        "Basic\nQWxhZGRpbjpvcGVu",
        "see Encounter/enc-001",
        "Patient/pat-001",
        "a?b=c",
        "",
    ],
)
def test_a_value_scrubs_as_the_four_patterns_would(value: str) -> None:
    """The one-search shortcut for plain values leaves exactly what the four patterns leave."""
    expected = value
    for pattern, blank in (
        (logs._TOKEN, "[token]"),
        (logs._BEARER, r"\1 [token]"),
        (logs._REFERENCE, "[reference]"),
        (logs._QUERY, "?[query]"),
    ):
        expected = pattern.sub(blank, expected)
    assert scrub_phi(None, "info", {"url": value})["url"] == expected


def test_unknown_keys_are_dropped_and_tokens_references_and_queries_blanked() -> None:
    """Only allow-listed keys survive, and their text loses tokens, references and queries."""
    event = {
        "event": f"sent Bearer {TOKEN} for Patient/pat-001",
        "url": "http://ehr.test/fhir/R4/Encounter/enc-001?patient=Patient/pat-001",
        "note": "Synthetic patient reports three days of dry cough.",
        "route": "/v1/drafts/{draft_id}",
    }
    out = scrub_phi(None, "info", event)
    assert out["note"] == "[scrubbed]"
    assert TOKEN not in out["event"]
    assert "pat-001" not in out["event"]
    assert "enc-001" not in out["url"]
    assert "?[query]" in out["url"]
    assert out["route"] == "/v1/drafts/{draft_id}"


def test_a_stdlib_traceback_is_reduced_to_its_exception_type(
    capfd: pytest.CaptureFixture[str], scrubbed_logging: None
) -> None:
    """An exception message may quote SQL parameters: only its type is logged."""
    del scrubbed_logging
    try:
        raise ValueError("INSERT ... parameters: ('Patient/pat-001', 'dry cough')")  # noqa: TRY301
    except ValueError:
        logging.getLogger("chartgate.test").exception("could not store the draft")
    records = lines(capfd.readouterr().err)
    assert records[-1]["event"] == "could not store the draft"
    assert records[-1]["error"] == "ValueError"
    assert "pat-001" not in json.dumps(records)
    assert "dry cough" not in json.dumps(records)


def test_another_librarys_message_is_replaced_but_its_logger_kept(
    capfd: pytest.CaptureFixture[str], scrubbed_logging: None
) -> None:
    """Httpx logs request URLs; the line keeps its logger and level, not the URL."""
    del scrubbed_logging
    logging.getLogger("httpx").warning("HTTP Request: GET http://ehr/Patient/pat-001 200")
    logging.getLogger("uvicorn.access").warning('127.0.0.1 - "GET /x?patient=pat-001" 200')
    records = lines(capfd.readouterr().err)
    assert [r["logger"] for r in records] == ["httpx"]
    assert records[0]["event"] == "[scrubbed]"


def test_structlog_events_go_through_the_same_scrubbing(
    capfd: pytest.CaptureFixture[str], scrubbed_logging: None
) -> None:
    """A structlog call with a stray field and a token is scrubbed before it is rendered."""
    del scrubbed_logging
    structlog.get_logger().info(
        "draft.received", draft_id="d-1", patient="Patient/pat-001", authorization=f"Bearer {TOKEN}"
    )
    out = capfd.readouterr().err
    record = lines(out)[-1]
    assert record["draft_id"] == "d-1"
    assert record["patient"] == "[scrubbed]"
    assert TOKEN not in out


def test_metrics_have_no_patient_user_or_draft_labels() -> None:
    """Labels are bounded sets; no write-back, draft, correlation id or actor becomes a label."""
    metrics = Metrics(profiles={"clinic-a": "epic"})
    metrics.requests.labels("/v1/drafts/{draft_id}", "GET", "2xx").inc()
    metrics.latency.labels("/v1/drafts/{draft_id}").observe(0.01)
    ids = {"writeback_id": "wb-7f3a", "draft_id": "draft-9c1e", "correlation_id": "corr-41d2"}
    for event_type in EventType:
        metrics.observe(
            [
                ObservedEvent(
                    AuditRecord(
                        type=event_type,
                        tenant="clinic-a",
                        at=datetime(2026, 12, 1, tzinfo=UTC),
                        correlation_id=ids["correlation_id"],
                        actor="clinician:dr-secret",
                        draft_id=ids["draft_id"],
                        writeback_id=ids["writeback_id"],
                        patient="hmac-sha256:" + "0" * 64,
                        data={
                            "kind": "approve",
                            "status": 503,
                            "method": "POST",
                            "resource_type": "DocumentReference",
                            "document_found": True,
                        },
                    )
                )
            ]
        )
    samples = [
        s
        for family in metrics.registry.collect()
        if family.name.startswith("chartgate_")  # python_info carries the interpreter's version
        for s in family.samples
    ]
    labels = {name for sample in samples for name in sample.labels}
    assert labels <= {
        *("route", "method", "status", "outcome", "le", "kind", "tenant", "profile"),
        *("resource_type", "status_class", "result", "via", "rule", "accepted", "reason"),
        "logger",
    }
    values = " ".join(v for sample in samples for v in sample.labels.values())
    for secret in (*ids.values(), "dr-secret", "hmac-sha256"):
        assert secret not in values

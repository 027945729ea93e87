"""Logs and metrics stay apart from PHI: the scrubbing chain and the metric labels."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from chartgate.observability import Metrics, configure_logging, scrub_phi

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


def test_metrics_have_no_patient_user_or_tenant_labels() -> None:
    """Every metric's labels are a route template, a method or a status class."""
    metrics = Metrics()
    metrics.requests.labels("/v1/drafts/{draft_id}", "GET", "2xx").inc()
    metrics.latency.labels("/v1/drafts/{draft_id}").observe(0.01)
    labels = {
        name
        for family in metrics.registry.collect()
        for sample in family.samples
        for name in sample.labels
    }
    assert labels <= {"route", "method", "status", "outcome", "le"}

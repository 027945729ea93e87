"""The bad-draft corpus (tests/data/bad_drafts): loading, and the policy it is judged by.

Each corpus file is a scribe submission plus keys that start with ``_`` and are stripped
before it is sent: ``_expect`` (the exact finding codes ``chartgate validate`` reports),
``_stage`` (where the API refuses it: ``body`` 400, ``schema`` 422 at submit, ``submit``
422 with findings at submit, ``approve`` 422 with findings at approve), ``_comment`` and
``_encoding`` (send the body in this encoding instead of UTF-8). Synthetic data only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chartgate.policy import default_policy_bytes

DATA = Path(__file__).parent / "data"
BAD_DRAFTS = DATA / "bad_drafts"
GOOD_DRAFTS = DATA / "good_drafts"

AUTO_WRITE_IMMUNIZATION = {
    "description": "Corpus only: an auto-write type, to test field allowlists.",
    "mode": "auto-write",
    "auth": "mfa",
    "rollback": ["entered-in-error"],
    "allowed_fields": ["vaccineCode", "occurrence[x]", "lotNumber", "note"],
    "protected_fields": ["id", "meta", "patient", "encounter", "status", "performer"],
    "ehr_profiles": ["generic-r4", "sandbox"],
}


def corpus_policy(directory: Path) -> Path:
    """The shipped default policy plus an auto-write Immunization, written to ``directory``."""
    data = yaml.safe_load(default_policy_bytes())
    data["name"] = "corpus-default-plus-auto-write"
    data["resources"]["Immunization"] = AUTO_WRITE_IMMUNIZATION
    path = directory / "corpus-policy.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@dataclass(frozen=True)
class BadDraft:
    """One corpus entry."""

    name: str
    body: dict[str, Any]
    expect: frozenset[str]
    stage: str
    encoding: str = "utf-8"

    def raw(self) -> bytes:
        r"""The bytes a scribe would send (escapes kept: a lone surrogate stays ``\\ud800``)."""
        if self.encoding == "utf-8":
            return json.dumps(self.body, ensure_ascii=True).encode("ascii")
        return json.dumps(self.body, ensure_ascii=False).encode(self.encoding)


def load_corpus() -> list[BadDraft]:
    """Every corpus file, sorted by name."""
    out = []
    for path in sorted(BAD_DRAFTS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="ascii"))
        out.append(
            BadDraft(
                name=path.stem,
                body={k: v for k, v in doc.items() if not k.startswith("_")},
                expect=frozenset(doc["_expect"]),
                stage=doc["_stage"],
                encoding=doc.get("_encoding", "utf-8"),
            )
        )
    return out


def good_draft(name: str = "diabetes-visit") -> dict[str, Any]:
    """A valid submission with structured resources the narrative mentions."""
    body: dict[str, Any] = json.loads((GOOD_DRAFTS / f"{name}.json").read_text(encoding="utf-8"))
    return body

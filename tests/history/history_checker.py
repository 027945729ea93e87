"""The history checker: does what chartgate says agree with what the chart holds?

Given a ``History`` (every write-back the harness queued, chartgate's final state of each,
every DocumentReference and Provenance in the chart carrying ``urn:chartgate:writeback``, the
versions chartgate recorded, and the ledger's verification), it checks:

* each approval (approve, amend) ⇒ exactly one document carrying its identifier, or an
  explicit visible failure (``rejected``/``conflict`` with no document); the same for each
  structured write-back (issue 13 item 5) and its Condition, which may be in the chart only
  once its note is;
* committed ⇒ the DocumentReference id/version chartgate recorded is in the chart, carries the
  write-back's mark and the ``docStatus`` of its kind, and exactly one Provenance carrying the
  write-back's tag targets that version; ``partial`` ⇒ the note is there, no Provenance;
* every write-back is decided (no ``needs_person``, ``ambiguous``, ``queued``, ``sending``
  left once the harness settled everything the way a person would);
* for each draft, the chart's current version of its note is the one chartgate last wrote,
  with the ``docStatus`` chartgate shows;
* no chartgate-marked document or Provenance without a write-back that made it;
* the ledger of every tenant verifies.

A violation is a *duplicate* (two documents or two Provenances for one write-back), a *loss*
(chartgate says it landed, the chart does not hold it) or a *wrong state* (anything else that
disagrees). ``table`` turns a checked history into the soak table.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from history_harness import TERMINAL, WRITEBACK_SYSTEM, History

DOC_STATUS = {
    "approve": "preliminary",
    "finalize": "final",
    "amend": "amended",
    "retract": "entered-in-error",
}
CREATES = frozenset({"approve", "amend", "structured"})


@dataclass(frozen=True)
class Violation:
    """One way the history breaks the promise."""

    kind: str
    """``duplicate``, ``lost``, ``wrong_state``, ``orphan`` or ``ledger``."""
    writeback: str | None
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: write-back {self.writeback}: {self.detail}"


def _marks(resource: dict[str, Any]) -> list[str]:
    return [
        str(t.get("code"))
        for t in resource.get("meta", {}).get("tag", [])
        if t.get("system") == WRITEBACK_SYSTEM
    ]


def _identifiers(resource: dict[str, Any]) -> list[str]:
    return [
        str(i.get("value"))
        for i in resource.get("identifier", [])
        if i.get("system") == WRITEBACK_SYSTEM
    ]


def check(history: History) -> list[Violation]:  # noqa: C901 - one loop per resource kind
    """Every violation in ``history`` (empty: the promise held)."""
    found: list[Violation] = []
    docs_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    provs_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    current: dict[tuple[str, str], dict[str, Any]] = {}
    for ehr, documents in history.documents.items():
        structured = history.structured.get(ehr, [])
        for doc in [*documents, *structured]:
            if doc["resourceType"] == "DocumentReference":
                current[ehr, str(doc["id"])] = doc
            for value in _identifiers(doc):
                docs_of[value].append(doc)
                if history.writebacks.get(value) is None:
                    where = f"{ehr} {doc['resourceType']}/{doc['id']}"
                    found.append(Violation("orphan", value, where))
    for ehr, provenances in history.provenances.items():
        for prov in provenances:
            for code in _marks(prov):
                provs_of[code].append(prov)
                if history.writebacks.get(code) is None:
                    found.append(Violation("orphan", code, f"{ehr} Provenance/{prov['id']}"))
    for wb_id in history.writebacks:
        found.extend(_check_writeback(history, wb_id, docs_of[wb_id], provs_of[wb_id]))
    found.extend(_check_drafts(history, current))
    for tenant, problem in history.ledger_ok.items():
        if problem is not None:
            found.append(Violation("ledger", None, f"{tenant}: {problem}"))
    return found


def _check_writeback(  # noqa: C901, PLR0912 - one branch per rule, kept together
    history: History,
    wb_id: str,
    docs: list[dict[str, Any]],
    provs: list[dict[str, Any]],
) -> list[Violation]:
    tracked = history.writebacks[wb_id]
    row = history.chartgate[wb_id]
    state, kind = row["state"], row["kind"]
    out: list[Violation] = []

    def bad(what: str, detail: str) -> None:
        out.append(Violation(what, wb_id, f"[{tracked.ehr} {kind} {state}] {detail}"))

    if state not in TERMINAL:
        bad("wrong_state", "never decided")
    if len(docs) > 1:
        bad("duplicate", f"{len(docs)} documents: {sorted(str(d['id']) for d in docs)}")
    if len(provs) > 1:
        bad("duplicate", f"{len(provs)} Provenances: {sorted(str(p['id']) for p in provs)}")
    landed = state in ("committed", "partial")
    resource = row.get("resource_type", "DocumentReference")
    if kind in CREATES:
        if landed and not docs:
            bad("lost", f"chartgate says {resource}/{row['document_id']}, chart has none")
        elif landed and str(docs[0]["id"]) != row["document_id"]:
            bad("wrong_state", f"chartgate {row['document_id']}, chart {docs[0]['id']}")
        elif state in ("rejected", "conflict") and docs:
            bad("wrong_state", f"the chart holds {resource}/{docs[0]['id']}")
    if kind == "structured" and docs:
        note = history.chartgate.get(str(row.get("after")))
        first = [w for w, t in history.writebacks.items() if t.draft_id == tracked.draft_id]
        notes = [history.chartgate[w] for w in first if history.chartgate[w]["kind"] == "approve"]
        if not any(n["state"] in ("committed", "partial") for n in notes) or note is None:
            bad("wrong_state", f"{resource}/{docs[0]['id']} is in the chart, its note is not")
    if landed:
        key = (tracked.ehr, str(row["document_id"]), str(row["document_version"]))
        version = history.versions.get(key)
        if version is None:
            bad("lost", f"version {key[1:]} is not in the chart")
        elif wb_id not in _marks(version):
            bad("wrong_state", f"version {key[1:]} does not carry this write-back's mark")
        elif kind in DOC_STATUS and version.get("docStatus") != DOC_STATUS[kind]:
            bad("wrong_state", f"version {key[1:]} has docStatus {version.get('docStatus')}")
    if state == "committed":
        target = f"{resource}/{row['document_id']}/_history/{row['document_version']}"
        if not provs:
            bad("lost", "no Provenance in the chart")
        elif str(provs[0]["id"]) != row["provenance_id"]:
            bad(
                "wrong_state",
                f"Provenance chartgate {row['provenance_id']}, chart {provs[0]['id']}",
            )
        elif [t.get("reference") for t in provs[0].get("target", [])] != [target]:
            bad("wrong_state", f"Provenance targets {provs[0].get('target')}, not {target}")
    elif provs:
        bad("wrong_state", f"a Provenance is in the chart although {state}")
    return out


def _check_drafts(
    history: History, current: dict[tuple[str, str], dict[str, Any]]
) -> list[Violation]:
    """The chart's current version of each draft's note is the one chartgate wrote last."""
    out: list[Violation] = []
    by_draft: dict[str, list[str]] = defaultdict(list)
    for wb_id, tracked in history.writebacks.items():
        if not tracked.kind.startswith("structured"):  # the note's own write-backs
            by_draft[tracked.draft_id].append(wb_id)
    for draft_id, wb_ids in by_draft.items():
        draft = history.drafts[draft_id]
        ordered = sorted(wb_ids, key=lambda i: history.writebacks[i].queued_at)
        landed = [i for i in ordered if history.chartgate[i]["state"] in ("committed", "partial")]
        if not landed:
            if draft["doc_status"] is not None:
                out.append(
                    Violation(
                        "wrong_state",
                        ordered[0],
                        f"draft {draft_id}: docStatus {draft['doc_status']} with nothing landed",
                    )
                )
            continue
        last = history.chartgate[landed[-1]]
        doc = current.get((draft["ehr"], str(last["document_id"])))
        if doc is None:
            out.append(Violation("lost", landed[-1], f"draft {draft_id}: its note is gone"))
            continue
        expected = DOC_STATUS[last["kind"]]
        problems = []
        if str(doc.get("meta", {}).get("versionId")) != str(last["document_version"]):
            problems.append(
                f"chart version {doc.get('meta', {}).get('versionId')}, "
                f"chartgate {last['document_version']}"
            )
        if doc.get("docStatus") != expected or draft["doc_status"] != expected:
            problems.append(
                f"docStatus chart {doc.get('docStatus')}, chartgate {draft['doc_status']}, "
                f"expected {expected}"
            )
        if problems:
            out.append(
                Violation("wrong_state", landed[-1], f"draft {draft_id}: {'; '.join(problems)}")
            )
    return out


# -- the table ------------------------------------------------------------------------------------

COLUMNS = (
    "fault kind",
    "crash point",
    "store",
    "tried",
    "committed",
    "failed visibly",
    "duplicates",
    "lost",
    "wrong states",
    "needs a person",
    "settle p50 s",
    "settle p99 s",
)


def table(histories: list[History], violations: list[Violation]) -> list[tuple[str, ...]]:
    """One row per fault kind x crash point x store, plus a total row."""
    by_wb: dict[str, list[Violation]] = defaultdict(list)
    for violation in violations:
        if violation.writeback is not None:
            by_wb[violation.writeback].append(violation)
    cells: dict[tuple[str, str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for history in histories:
        for wb_id, tracked in history.writebacks.items():
            state = history.chartgate[wb_id]["state"]
            seconds = (
                (tracked.settled_at - tracked.queued_at).total_seconds()
                if tracked.settled_at is not None
                else None
            )
            kinds = [v.kind for v in by_wb.get(wb_id, [])]
            cells[tracked.cell].append(
                (
                    state,
                    "duplicate" in kinds,
                    "lost" in kinds,
                    "wrong_state" in kinds,
                    "needs_person" in tracked.states_seen,
                    seconds,
                )
            )
    rows = [_row(cell, entries) for cell, entries in sorted(cells.items())]
    everything = [e for entries in cells.values() for e in entries]
    rows.append(_row(("all", "all", "all"), everything))
    return rows


def _row(cell: tuple[str, str, str], entries: list[tuple[Any, ...]]) -> tuple[str, ...]:
    settle = sorted(e[5] for e in entries if e[5] is not None)
    p50 = statistics.median(settle) if settle else 0.0
    p99 = settle[min(len(settle) - 1, int(0.99 * len(settle)))] if settle else 0.0
    return (
        *cell,
        str(len(entries)),
        str(sum(e[0] == "committed" for e in entries)),
        str(sum(e[0] in ("rejected", "conflict", "partial") for e in entries)),
        str(sum(e[1] for e in entries)),
        str(sum(e[2] for e in entries)),
        str(sum(e[3] for e in entries)),
        str(sum(e[4] for e in entries)),
        f"{p50:.1f}",
        f"{p99:.1f}",
    )


def render(rows: list[tuple[str, ...]]) -> str:
    """The table as fixed-width text."""
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(
            v.ljust(w) if i < 3 else v.rjust(w)
            for i, (v, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
    return "\n".join(lines)

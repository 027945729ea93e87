"""docs/runbooks/bad-model-version.md, played end to end on SQLite and PostgreSQL.

The test reads the runbook's ``sh`` blocks marked ``<!-- step: NAME -->`` and runs each
command through the real ``chartgate`` entry point (as a separate process, as an operator
would), with the runbook's variables filled in. Between the steps it checks the chart (the
sandbox EHR) and the ledger; the clinician's correction is made on the reviewer page in a
real browser. A bad model version is detected -> write-back held and drafting stopped ->
impact report and plan -> the clinician amends on the page (held) -> release -> the chart has
the amendment, every note exactly once. Synthetic data only.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from sqlalchemy import select

from builders import ENCOUNTER, PATIENT, submission
from chartgate.adapters.storage import tables as t
from chartgate.api.app import create_app
from chartgate.bootstrap import Application, build
from chartgate.sandbox.server import SandboxServer
from chartgate.settings import CareTeamGrant, EhrSettings, Settings, TenantSettings
from chartgate.threaded_server import ThreadedServer
from required import missing

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "runbooks" / "bad-model-version.md"
CHARTGATE = str(Path(sys.executable).with_name("chartgate"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"]
TENANT = "clinic-a"
BAD = "2026.10.1"
GOOD = "2026.11.0"
WAIT_MS = 15_000
WRITEBACK_SYSTEM = "urn:chartgate:writeback"
expect.set_options(timeout=WAIT_MS)


def steps() -> dict[str, list[str]]:
    """The runbook's commands by step name (the sh block after ``<!-- step: NAME -->``)."""
    found: dict[str, list[str]] = {}
    for name, block in re.findall(
        r"<!-- step: ([a-z-]+) -->\s*```sh\n(.*?)```", RUNBOOK.read_text(), flags=re.DOTALL
    ):
        found[name] = [line for line in block.splitlines() if line.strip()]
    return found


@dataclass
class Incident:
    """chartgate (API + reviewer page) on one store, the sandbox (IdP + EHR), the operator."""

    app: Application
    base_url: str
    api: httpx.Client
    sandbox: SandboxServer
    workdir: Path

    def scribe(self) -> dict[str, str]:
        token = self.sandbox.idp.mint(
            subject="scribe-a",
            scopes=["chartgate/drafts.submit"],
            tenant=TENANT,
            amr=(),
            acr=None,
            extra_claims={"client_id": "scribe-a"},
        )
        return {"Authorization": f"Bearer {token}"}

    def clinician(self) -> dict[str, str]:
        token = self.sandbox.idp.mint(
            subject="clinician-dana",
            scopes=["openid", "fhirUser", "chartgate/drafts.approve"],
            tenant=TENANT,
            fhir_user="Practitioner/prac-001",
            patient=PATIENT.split("/")[1],
            encounter=ENCOUNTER.split("/")[1],
        )
        return {"Authorization": f"Bearer {token}"}

    def submit(self, version: str) -> Any:
        origin = submission()["origin"] | {
            "model": {"name": "example-scribe-llm", "version": version}
        }
        return self.api.post("/v1/drafts", json=submission(origin=origin), headers=self.scribe())

    def approve(self, draft_id: str) -> str:
        answer = self.api.post(
            f"/v1/drafts/{draft_id}/approve", headers={**self.clinician(), "If-Match": 'W/"1"'}
        )
        assert answer.status_code == 202, answer.text
        writeback_id: str = answer.json()["writeback"]["id"]
        return writeback_id

    def work(self) -> int:
        executor = self.app.executor(owner="runbook-worker")
        taken = 0
        for _ in range(20):
            done = executor.run_once()
            taken += done
            if done == 0:
                break
        return taken

    def documents(self) -> list[dict[str, Any]]:
        """Every DocumentReference in the chart."""
        with httpx.Client(base_url=self.sandbox.fhir_base, timeout=10) as ehr:
            bundle = ehr.get("/DocumentReference", headers={"Accept": "application/fhir+json"})
        return [e["resource"] for e in bundle.json().get("entry", [])]

    def ledger(self) -> list[tuple[str, str]]:
        """(type, actor) of every ledger event, in order."""
        with self.app.engine.connect() as conn:
            rows = conn.execute(
                select(t.audit_events.c.type, t.audit_events.c.actor).order_by(t.audit_events.c.seq)
            ).all()
        return [(r.type, r.actor) for r in rows]

    def play(
        self, step: str, *, only: int | None = None, **variables: str
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run one runbook step's commands (the first ``only``); every one must exit 0."""
        settings = self.app.settings
        tenants = [x.model_dump(mode="json", exclude_none=True) for x in settings.tenants]
        env = {
            **os.environ,
            "CHARTGATE_DATABASE_URL": settings.database_url,
            "CHARTGATE_KEY_FILE": settings.key_file,
            "CHARTGATE_TENANTS": json.dumps(tenants),
        }
        values = {
            "MODEL_VERSION": BAD,
            "OPERATOR": "alice",
            "PLAN": str(self.workdir / "plan.json"),
            **variables,
        }
        done = []
        for line in steps()[step][:only]:
            words = shlex.split(Template(line).substitute(values))
            assert words[0] == "chartgate", line
            ran = subprocess.run(
                [CHARTGATE, *words[1:]],
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
                env=env,
                cwd=self.workdir,
            )
            assert ran.returncode == 0, (line, ran.stdout, ran.stderr)
            done.append(ran)
        return done


@contextmanager
def incident(database_url: str, workdir: Path) -> Iterator[Incident]:
    """One tenant with a care-team grant for the demo clinician; the sandbox as IdP and EHR."""
    with SandboxServer(workdir / "sandbox.sqlite3") as sandbox:
        sandbox.idp.default_tenant = TENANT
        settings = Settings(
            database_url=database_url,
            key_file=str(workdir / "kek.key"),
            tenants=[
                TenantSettings(
                    id=TENANT,
                    issuers=[sandbox.issuer],
                    ehr=EhrSettings(
                        base_url=sandbox.fhir_base, vendor="sandbox", timeout_seconds=3
                    ),
                    scribe_clients=["scribe-a"],
                    care_team_grants=[
                        CareTeamGrant(fhir_user="Practitioner/prac-001", encounters=[ENCOUNTER])
                    ],
                )
            ],
        )
        app = build(settings, migrate=True)
        try:
            with (
                ThreadedServer(create_app(app)) as server,
                httpx.Client(base_url=server.base_url, timeout=30) as api,
            ):
                yield Incident(app, server.base_url, api, sandbox, workdir)
        finally:
            app.close()


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[Incident]:
    """The incident's stack on both stores."""
    with incident(database_url, tmp_path) as stack:
        yield stack


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, through Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"{CHROMIUM} is not installed (make install puts it there with apt-get)")
    driver: Playwright
    with sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def amend_on_the_page(page: Page, stack: Incident, draft_id: str) -> None:
    """The clinician opens the plan's link, sees the banner, and amends the note."""
    page.goto(f"{stack.base_url}/review/{draft_id}")
    page.get_by_role("button", name="Sign in as demo clinician").click()
    expect(page).to_have_url(f"{stack.base_url}/review/{draft_id}")
    expect(page.locator("#killswitch")).to_contain_text("Write-back held")
    expect(page.locator("#killswitch")).to_contain_text("model-version=2026.10.1")
    page.get_by_text("Amend the note in the chart").click()
    amended = page.locator("#amend-text")
    amended.fill(amended.input_value().replace("Lungs clear", "Lungs clear, corrected"))
    page.locator("#amend-confirm").check()
    page.get_by_role("button", name="Approve amendment for chart").click()
    expect(page.locator("#banner-title")).to_have_text("Approved — queued for the chart")


def test_the_bad_model_version_runbook_end_to_end(  # noqa: PLR0915 - one story, checked per step
    running: Incident, page: Page
) -> None:
    """Hold, impact, plan, amend on the page, release: the chart and ledger at every step."""
    stack = running
    # Before: two notes of the bad version and one of a good one are in the chart; one more
    # bad draft waits for review.
    bad_draft = stack.submit(BAD).json()["id"]
    bad_writeback = stack.approve(bad_draft)
    good_writeback = stack.approve(stack.submit(GOOD).json()["id"])
    waiting_draft = stack.submit(BAD).json()["id"]
    assert stack.work() == 2
    assert len(stack.documents()) == 2

    # 1. Hold write-back and stop drafting for the bad version.
    stack.play("hold")
    assert [e for e in stack.ledger() if e[0] == "killswitch.engaged"] == [
        ("killswitch.engaged", "operator:alice")
    ] * 2
    assert stack.submit(BAD).status_code == 409  # drafting stopped for that model
    assert stack.submit(GOOD).status_code == 201  # and only for that model
    held_writeback = stack.approve(waiting_draft)  # approvals still accepted...
    assert stack.work() == 0  # ...and held: nothing is sent
    assert len(stack.documents()) == 2

    # 3. Impact report and correction plan.
    csv_run, _json_run = stack.play("impact")
    assert bad_writeback in csv_run.stdout
    assert held_writeback in csv_run.stdout
    assert good_writeback not in csv_run.stdout
    assert PATIENT not in csv_run.stdout  # pseudonyms only
    plan = json.loads((stack.workdir / "plan.json").read_text())
    actions = {item["draft_id"]: item["action"] for item in plan["items"]}
    assert actions == {
        bad_draft: "amend or retract the note in the chart",
        waiting_draft: "wait: held or queued; amend or retract once it is in the chart",
    }
    assert [e[0] for e in stack.ledger()].count("impact.read") == 2

    # 4. The clinician corrects the committed note on the reviewer page (held until release).
    item = next(i for i in plan["items"] if i["draft_id"] == bad_draft)
    amend_on_the_page(page, stack, item["draft_id"])
    assert stack.work() == 0
    assert len(stack.documents()) == 2
    assert "draft.amend_approved" in [e[0] for e in stack.ledger()]
    # The clinician's worklist page lists the held notes and the engaged switches.
    page.goto(f"{stack.base_url}/review/")
    expect(page.locator("#killswitch")).to_contain_text("hold-write-back")
    for draft_id in (waiting_draft, bad_draft):
        expect(page.locator(f'#worklist-way a[href="/review/{draft_id}"]')).to_be_visible()
    stack.play("follow")

    # 6. Release every switch of the incident.
    remaining = ["first"]
    while remaining:
        # The step's first command lists what is engaged; its second clears one switch.
        listed = json.loads(stack.play("release", SWITCH_ID="-", only=1)[0].stdout)["switches"]
        remaining = [s["id"] for s in listed]
        if remaining:
            stack.play("release", SWITCH_ID=remaining[0])
    assert [e[0] for e in stack.ledger()].count("killswitch.released") == 2
    assert stack.work() >= 2
    documents = stack.documents()
    replacing = [d for d in documents if d.get("relatesTo")]
    assert len(replacing) == 1
    note = base64.b64decode(replacing[0]["content"][0]["attachment"]["data"]).decode()
    assert "Lungs clear, corrected" in note  # the amendment's text, as approved on the page
    assert len(documents) == 4
    for writeback_id in (bad_writeback, good_writeback, held_writeback):
        mine = [
            d
            for d in documents
            if {"system": WRITEBACK_SYSTEM, "value": writeback_id} in d.get("identifier", [])
        ]
        assert len(mine) == 1, writeback_id  # each note exactly once

    # 7. Verify: nothing engaged, the ledger verifies and tells the story in order.
    stack.play("verify")
    story = [
        e[0]
        for e in stack.ledger()
        if e[0]
        in ("killswitch.engaged", "impact.read", "draft.amend_approved", "killswitch.released")
    ]
    assert story[:5] == [
        "killswitch.engaged",
        "killswitch.engaged",
        "impact.read",
        "impact.read",
        "draft.amend_approved",
    ]
    assert story[5:7] == ["killswitch.released", "killswitch.released"]

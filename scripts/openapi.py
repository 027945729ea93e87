"""Print chartgate's OpenAPI document (the one ``/openapi.json`` serves) as JSON on stdout.

Used by ``make client`` to regenerate the typed client in ``tests/chartgate_client``. It
builds the app over a throwaway SQLite file; no tenant is contacted.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import date
from pathlib import Path

from chartgate.api.app import create_app
from chartgate.bootstrap import build
from chartgate.settings import EhrSettings, ProcessorSettings, Settings, TenantSettings


def main() -> None:
    """Build a chartgate on a temporary store and print its OpenAPI document."""
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(
            database_url=f"sqlite:///{Path(workdir) / 'openapi.sqlite3'}",
            key_file=str(Path(workdir) / "kek.key"),
            tenants=[
                TenantSettings(
                    id="example",
                    issuers=["https://idp.example/"],
                    ehr=EhrSettings(base_url="https://ehr.example/fhir/R4", vendor="sandbox"),
                )
            ],
            # Every outbound destination must be a registered processor (ADR 0021): the
            # example EHR and IdP, never contacted while the document is built.
            processors=[
                ProcessorSettings(
                    id="example-ehr",
                    legal_entity="Example EHR (synthetic)",
                    role="ehr",
                    purpose="the example tenant's chart",
                    endpoints=["https://ehr.example/", "https://idp.example/"],
                    phi_categories=["clinical-notes"],
                    baa_signed=date(2026, 1, 1),
                )
            ],
        )
        application = build(settings, migrate=True)
        try:
            document = create_app(application).openapi()
        finally:
            application.close()
    json.dump(document, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

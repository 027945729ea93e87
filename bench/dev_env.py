"""The benchmarks run chartgate as a dev deployment on loopback, as the test suite does.

Plain http to the stub and sandbox EHRs is allowed only in dev mode, and every destination
must be a registered processor (docs/compliance.md): the loopback test systems are one, with
synthetic data only. Imported first by every bench module; explicit settings win.
"""

from __future__ import annotations

import json
import os

LOOPBACK_PROCESSORS = [
    {
        "id": "loopback-bench-systems",
        "legal_entity": "chartgate benchmarks (synthetic data only)",
        "role": "ehr",
        "purpose": "stub and sandbox EHRs and the dev IdP on loopback",
        "endpoints": ["http://127.0.0.1", "http://localhost"],
        "phi_categories": ["synthetic-test-data"],
        "baa_signed": "2026-01-01",
    }
]
os.environ.setdefault("CHARTGATE_DEV_MODE", "true")
os.environ.setdefault("CHARTGATE_PROCESSORS", json.dumps(LOOPBACK_PROCESSORS))

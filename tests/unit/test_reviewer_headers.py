"""The reviewer page's security headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chartgate.settings import Settings
from chartgate.web.security import headers


def test_without_ehr_origins_the_page_cannot_be_framed() -> None:
    """No configured EHR origin: frame-ancestors 'none' and X-Frame-Options DENY."""
    sent = headers(issuers=["https://idp.clinic-a.example/realms/a"], frame_ancestors=[])
    csp = sent["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert sent["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    assert sent["Cache-Control"] == "no-store"


def test_only_the_configured_ehr_origins_may_frame_it() -> None:
    """SMART embedded launch: exactly the EHR origins, and no X-Frame-Options to contradict."""
    sent = headers(issuers=[], frame_ancestors=["https://ehr.clinic-a.example"])
    assert "frame-ancestors https://ehr.clinic-a.example;" in sent["Content-Security-Policy"]
    assert "X-Frame-Options" not in sent


def test_forms_may_go_to_ourselves_and_the_identity_providers_only() -> None:
    """A step-up redirects a form post to the IdP, so its origin (only) is allowed."""
    csp = headers(issuers=["https://idp.example:8443/realms/a"], frame_ancestors=[])[
        "Content-Security-Policy"
    ]
    assert "form-action 'self' https://idp.example:8443;" in csp


@pytest.mark.parametrize("origin", ["*", "https://*.example", "https://ehr.example/path", "ehr"])
def test_frame_ancestors_setting_takes_origins_only(origin: str) -> None:
    """Wildcards, paths and bare names are refused at start-up (fail closed)."""
    with pytest.raises(ValidationError):
        Settings(reviewer_frame_ancestors=[origin])

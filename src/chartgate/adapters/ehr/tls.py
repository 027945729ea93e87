"""Per-tenant TLS for the one client factory: private CA bundle and mTLS client certificate.

A tenant's EHR may sit behind a private CA and demand a client certificate (mutual TLS).
``EhrSettings.ca_bundle`` names the CA file, ``client_cert`` the certificate chain (PEM) and
``client_key`` a secret reference to its key. ``ssl`` loads a key only from a file, so a key
from ``secret:env:`` or ``secret:vault:`` is written to an owner-only temporary file for the
one ``load_cert_chain`` call and removed at once. Hostname checking and certificate
verification stay on (``ssl.create_default_context``); nothing here can turn them off.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from chartgate.adapters.keys.secrets import SecretProvider
from chartgate.domain.errors import TlsConfigError

if TYPE_CHECKING:
    from chartgate.settings import EhrSettings


def tls_context(ehr: EhrSettings, secrets: SecretProvider | None = None) -> ssl.SSLContext:
    """A verifying context with the tenant's CA bundle and client certificate, if any."""
    try:
        context = ssl.create_default_context(cafile=ehr.ca_bundle)
    except (OSError, ssl.SSLError) as e:
        msg = f"ehr.ca_bundle cannot be loaded ({type(e).__name__})"
        raise TlsConfigError(msg) from e
    if ehr.client_cert is not None and ehr.client_key is not None:
        key = (secrets or SecretProvider()).resolve(ehr.client_key).reveal()
        handle, name = tempfile.mkstemp(prefix="chartgate-mtls-", suffix=".pem")
        try:
            os.write(handle, key)
            os.close(handle)
            context.load_cert_chain(ehr.client_cert, Path(name))
        except (OSError, ssl.SSLError) as e:
            msg = f"ehr.client_cert/client_key cannot be loaded ({type(e).__name__})"
            raise TlsConfigError(msg) from e
        finally:
            Path(name).unlink(missing_ok=True)
    return context

"""The small public surface the hub offers plugin authors.

Import from here, never from hub internals: the hook marker, the error classes connectors raise,
signing helpers and the HTTP client factory. Anything not re-exported here may change.
"""

from __future__ import annotations

import pluggy

from contracts.hookspecs import PROJECT_NAME
from hub.errors import (
    AuthorizationError,
    BadInputError,
    HubError,
    NotFoundError,
    PartnerError,
    PermanentError,
    RetryableError,
    SignatureError,
    ThrottledError,
)
from hub.http import build_http_client, call_with_retries
from hub.signing import constant_time_equals, hmac_hex, md5_hex

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = [
    "AuthorizationError",
    "BadInputError",
    "HubError",
    "NotFoundError",
    "PartnerError",
    "PermanentError",
    "RetryableError",
    "SignatureError",
    "ThrottledError",
    "build_http_client",
    "call_with_retries",
    "constant_time_equals",
    "hmac_hex",
    "hookimpl",
    "md5_hex",
]

"""The AliExpress sandbox's API error: one exception the gateways render in the protocol's shape
(IOP ``{code, type, message}``, TOP ``error_response{code, msg, sub_code, sub_msg}``). Kept apart so
the sandbox's method modules (``sandbox_listings``, ``sandbox_issues``) raise it without importing
the gateway."""

from __future__ import annotations


class SandboxError(Exception):
    """An API error the gateway renders in the protocol's shape."""

    def __init__(self, kind: str, code: str, message: str, *, top_code: int = 50, sub_code: str = "") -> None:
        super().__init__(message)
        self.kind, self.code, self.message, self.top_code, self.sub_code = kind, code, message, top_code, sub_code

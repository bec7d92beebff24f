"""TOP calls that carry files (params typed ``byte[]``): one signed multipart/form-data request.

The shared ``TopClient`` posts form-urlencoded bodies only; a file param (``leave_message_pics``
of the ``tmall.exchange.*`` writes) needs multipart. File params are left out of the signature
(TOP signing rule, as ``plugins.taobao.signing.signable`` already does for bytes), so the text
params are signed by the client exactly as for any call and the files ride along as parts.
Answers are read by the client's own ``parse_response`` (same envelopes, same error classes).
Not retried here: the writes that upload are not safe to repeat blindly (the caller reads the
case first). Kept inside the Tmall plugin until the TOP client grows the same (then use it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from contracts import Proof
from hub.plugin_api import RetryableError, build_http_client
from plugins.taobao.client import TopClient


def proof_part(proof: Proof) -> tuple[str, bytes, str]:
    """A ``Proof`` as an httpx file part: (filename, content, content type)."""
    return proof.filename, proof.content, proof.content_type


async def call_with_files(client: TopClient, method: str, params: Mapping[str, Any],
                          files: Mapping[str, tuple[str, bytes, str]]) -> dict[str, Any]:
    """Call ``method`` with the text ``params`` signed and ``files`` (param name → part) as
    multipart parts; returns the inner response object like ``TopClient.call``. Without files
    it is an ordinary (form-urlencoded) call, not retried."""
    if not files:
        return await client.call(method, dict(params), retry=False)
    if client.throttle is not None:
        await client.throttle()
    form = client.request_params(method, dict(params))
    try:
        async with build_http_client(timeout=client.timeout) as http:
            response = await http.post(client.gateway_url, data=form, files=dict(files))
    except httpx.TransportError as exc:  # the answer may be lost after the write: the caller reads back
        raise RetryableError(f"shop '{client.label}': {method} upload failed ({type(exc).__name__}); "
                             "retry later") from exc
    return client.parse_response(method, response.status_code, response.content)

"""Tmall talks TOP exactly like Taobao: the client is shared from ``plugins.taobao`` (by design).

Re-exported here so every platform plugin has the same files. Not a second implementation.
"""

from plugins.taobao.client import TopClient, classify_error, response_key
from plugins.taobao.tmc import TmcConsumer

__all__ = ["TmcConsumer", "TopClient", "classify_error", "response_key"]

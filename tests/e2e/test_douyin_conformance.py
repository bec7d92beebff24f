"""The hub's channel conformance suite, run against the Douyin connector and its sandbox over
real HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

from hub.testing.conformance import ChannelConformance
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox


class TestDouyinConformance(ChannelConformance):
    connector_class = DouyinChannel
    sandbox_class = DouyinSandbox

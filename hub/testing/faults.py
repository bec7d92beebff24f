"""Faults to run the hub through, for fault tests and the fault benchmark: a broker that can crash
and come back empty, and partner faults at a steady rate. Not for production code.

- ``PrivateRedis``: a ``redis-server`` of its own on a free 127.0.0.1 port, with persistence off
  (``--save "" --appendonly no``), so ``kill()`` + ``start()`` is a broker restart that drops every
  queued message, as a Redis without persistence (or a lost volume) does. Never the shared server.
- ``PartnerFaults``: feeds a sandbox's ``inject_fault`` so that about ``rate`` of the partner calls
  it serves fail (``throttle``, ``unavailable``, ``slow``: the faults every sandbox knows); a thread
  of its own, stopped by ``stop()``.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.asgi_server import free_port

#: Faults every sandbox's ``inject_fault`` takes that the hub must ride out without pausing a shop.
RIDE_OUT_FAULTS = ("throttle", "unavailable", "slow")


class PrivateRedis:
    """A ``redis-server`` on 127.0.0.1 and a free port of its own, without persistence."""

    def __init__(self, *, binary: str = "redis-server", start_timeout_s: float = 10.0) -> None:
        found = shutil.which(binary)
        if found is None:
            raise RuntimeError(f"{binary!r} is not on PATH: the broker-restart fault needs a Redis server of its own")
        self.binary = found
        self.port = free_port()
        self.start_timeout_s = start_timeout_s
        self.directory = Path(tempfile.mkdtemp(prefix="hub-private-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        """Start (or start again, on the same port and empty); returns once it answers PING."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the private Redis is already running")
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self._wait_until_answering()
        return self

    def _wait_until_answering(self) -> None:
        import redis

        deadline = time.monotonic() + self.start_timeout_s
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1.0)
        try:
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} exited: "
                                       f"{(self.directory / 'redis.log').read_text(errors='replace')[-500:]}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} did not answer within "
                                       f"{self.start_timeout_s:g} s")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL (this pid only): the broker is gone with everything it held."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart_empty(self, down_s: float = 0.0) -> None:
        """Kill, stay down ``down_s`` seconds, start again empty on the same port."""
        self.kill()
        if down_s > 0:
            time.sleep(down_s)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def served_calls(sandbox: Any) -> int:
    """How many partner calls a sandbox has served so far (TOP gateways keep them on ``gateway``)."""
    calls = getattr(sandbox, "calls", None)
    if calls is None:
        calls = sandbox.gateway.calls
    return len(calls)


class PartnerFaults:
    """Keeps about ``rate`` (0 ≤ rate < 1) of the calls each sandbox serves failing.

    A sandbox serves injected faults in order, on its next calls, and does not count a faulted call
    as served; so for every call it served, one fault is queued with probability rate / (1 − rate),
    which makes faults ≈ ``rate`` of all calls. ``slow`` answers after ``slow_s`` seconds;
    ``throttle`` bans for ``ban_s`` on the TOP gateways. Counts what it injected in ``injected``.
    """

    def __init__(self, sandboxes: Sequence[Any], *, rate: float = 0.3, kinds: Sequence[str] = RIDE_OUT_FAULTS,
                 slow_s: float = 0.5, ban_s: float = 1.0, every_s: float = 0.02, seed: int = 7) -> None:
        if not 0 <= rate < 1:
            raise ValueError(f"rate must be in [0, 1), not {rate}")
        self.sandboxes = list(sandboxes)
        self.per_call = rate / (1 - rate)
        self.kinds = list(kinds)
        self.slow_s, self.ban_s, self.every_s = slow_s, ban_s, every_s
        self.injected: dict[str, int] = {kind: 0 for kind in self.kinds}
        self._rng = random.Random(seed)
        self.seen = [served_calls(s) for s in self.sandboxes]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="partner-faults", daemon=True)

    def start(self) -> PartnerFaults:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            for n, sandbox in enumerate(self.sandboxes):
                served = served_calls(sandbox)
                new, self.seen[n] = served - self.seen[n], served
                for _ in range(new):
                    if self._rng.random() < self.per_call:
                        kind = self._rng.choice(self.kinds)
                        seconds = self.slow_s if kind == "slow" else self.ban_s
                        sandbox.inject_fault(kind, 1, seconds=seconds)
                        self.injected[kind] += 1

    def __enter__(self) -> PartnerFaults:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

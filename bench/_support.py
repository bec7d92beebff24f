"""Shared benchmark instruments: an HTTP load generator, the bare-framework baseline server, CPU
accounting for a process, and a description of the machine. Used by ``bench/ingest.py``; other
benchmarks may import them. Not a test helper and not for the hub itself.

- ``post_load(url, make_body, total=…, concurrency=…, time_limit_s=…)``: ``concurrency`` keep-alive
  HTTP/1.1 connections on asyncio streams (uvloop via ``run_load``), each posting in a loop until
  ``total`` requests were sent or the time limit passed (bounded in count and in time).
- ``noop_server()``: a FastAPI app with one ``POST /noop`` returning ``{}``, under uvicorn in a
  subprocess (one process, like ``hub serve``): what the framework alone does on this machine.
- ``cpu_seconds(pid)``: user + system CPU a process has used (Linux ``/proc``), to tell whether a
  server or the load generator was the one saturated; ``CpuMeter``: the same for every process of
  the machine grouped by what it is (hub serve, hub workers, PostgreSQL, Redis, RabbitMQ, the bench
  itself, the rest), and the machine's busy share, over a phase.
- ``rabbitmq_vhost()``: a throw-away RabbitMQ virtual host (``rabbitmqctl``), deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
#: (body, headers, items carried) for request number ``n``.
BodyMaker = Callable[[int], tuple[bytes, dict[str, str], int]]


# --------------------------------------------------------------------------- the bare framework


def make_noop_app() -> Any:
    """The baseline: FastAPI, one ``POST /noop`` that ignores its body and returns ``{}``."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/noop")
    async def noop() -> dict[str, Any]:
        return {}

    return app


@contextmanager
def noop_server(port: int, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``uvicorn --factory bench._support:make_noop_app`` on 127.0.0.1:``port``, one process, no
    access log (as ``hub serve`` runs); stopped (this pid only) afterwards."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "bench._support:make_noop_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log", "--app-dir", str(REPO)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


# --------------------------------------------------------------------------- CPU accounting


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far; 0.0 if unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14, 15 of stat)


def _process_cpu() -> dict[int, tuple[str, str, float]]:
    """pid → (comm, command line, CPU seconds) of every process readable in /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
            fields = tail.split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        found[int(entry.name)] = (head.split("(", 1)[1], cmdline, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


#: ``CpuMeter``'s groups for a hub run, in report order: the two hub process kinds a bench names
#: (``CpuMeter({pid: "hub serve" | "hub workers"})``), then those it recognises by process name.
CPU_GROUPS = ("hub serve", "hub workers", "PostgreSQL", "Redis", "RabbitMQ", "bench (sandbox, counting)",
              "other processes")


class CpuMeter:
    """CPU used over a phase by every process, grouped: ``groups(pid → name)`` names the hub's own
    processes; PostgreSQL, Redis and RabbitMQ are recognised by their process names, everything
    else is "other" (the other sessions sharing the machine). Processes that end during the phase
    lose their share (none should)."""

    def __init__(self, named: dict[int, str]) -> None:
        self.named = dict(named)
        self.before = _process_cpu()
        self.machine_before = _machine_busy()
        self.started = time.perf_counter()

    def _group(self, pid: int, comm: str, cmdline: str) -> str:
        if pid in self.named:
            return self.named[pid]
        if pid == os.getpid():
            return "bench (sandbox, counting)"
        if comm.startswith("postgres") or cmdline.startswith("postgres"):
            return "PostgreSQL"
        if comm.startswith("redis-server"):
            return "Redis"
        if comm.startswith("beam.smp") or "rabbit" in cmdline.split(" ", 1)[0]:
            return "RabbitMQ"
        return "other processes"

    def stop(self) -> tuple[float, dict[str, float], float]:
        """(wall seconds, CPU seconds by group, the machine's busy share of all its CPUs)."""
        after = _process_cpu()
        busy0, total0 = self.machine_before
        busy1, total1 = _machine_busy()
        used: dict[str, float] = {}
        for pid, (comm, cmdline, cpu) in after.items():
            start = self.before.get(pid, (comm, cmdline, 0.0))[2]
            group = self._group(pid, comm, cmdline)
            used[group] = used.get(group, 0.0) + max(0.0, cpu - start)
        share = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
        return time.perf_counter() - self.started, used, share


@contextmanager
def rabbitmq_vhost(base_url: str = "amqp://guest:guest@127.0.0.1:5672") -> Iterator[str]:
    """``amqp://…/<vhost>`` on a fresh virtual host ``hub_bench_<hex>`` (``rabbitmqctl``, which must
    be allowed to run here), deleted with its queues afterwards."""
    import secrets

    if shutil.which("rabbitmqctl") is None:
        raise RuntimeError("rabbitmqctl is not on PATH: give --broker-url amqp://…/<vhost> of a virtual host to use")
    user = base_url.split("://", 1)[1].split(":", 1)[0] or "guest"
    vhost = f"hub_bench_{secrets.token_hex(4)}"

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    ctl("add_vhost", vhost)
    try:
        ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield f"{base_url.rstrip('/')}/{vhost}"
    finally:
        ctl("delete_vhost", vhost)


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------- the load generator


@dataclass
class LoadResult:
    """One load run: what was sent, what came back, how long it took, who burnt the CPU."""

    label: str
    concurrency: int
    sent: int = 0
    ok: int = 0
    items_ok: int = 0  # items (e.g. messages) carried by requests answered 200
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    generator_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    stopped_by_time: bool = False

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def item_rate(self) -> float:
        return self.items_ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def cpu_share(self, seconds: float) -> float:
        """CPU seconds as a share of one core over the run (1.0 = one core busy throughout)."""
        return seconds / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _Reply(Exception):
    """The server closed the connection or answered something that is not HTTP/1.1."""


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) of one HTTP/1.1 response; its body is read and dropped."""
    status_line = await reader.readline()
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise _Reply(f"bad status line {status_line[:80]!r}")
    status, length, chunked, keep = int(parts[1]), 0, False, True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep = False
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, keep


async def post_load(url: str, make_body: BodyMaker, *, total: int, concurrency: int, time_limit_s: float,
                    label: str = "", server_pid: int | None = None, first: int = 0) -> LoadResult:
    """POST ``total`` requests (numbered ``first``…) to ``url`` over ``concurrency`` keep-alive
    connections, stopping early at ``time_limit_s``. Only 127.0.0.1 targets.

    A minimal HTTP/1.1 client on asyncio streams rather than httpx: on this class of machine one
    ``httpx.AsyncClient`` tops out near 700 requests/s on a core of its own (and falls to ~200/s
    with 32 connections in its pool), well below what a bare uvicorn endpoint answers, so it would
    measure itself. Each request still goes over a real socket and is answered in full.
    """
    parsed = httpx.URL(url)
    if parsed.host != "127.0.0.1" or parsed.scheme != "http":
        raise ValueError(f"the load generator only drives http://127.0.0.1, not {url}")
    host, port = parsed.host, parsed.port or 80
    target = parsed.raw_path.decode("ascii")
    result = LoadResult(label, concurrency)
    counter = iter(range(first, first + total))
    started = time.perf_counter()
    deadline = started + time_limit_s
    cpu0, server0 = own_cpu_seconds(), cpu_seconds(server_pid) if server_pid else 0.0

    def request(body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {target} HTTP/1.1", f"host: {host}:{port}", f"content-length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def connection() -> None:
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for n in counter:
                if time.perf_counter() > deadline:
                    result.stopped_by_time = True
                    return
                body, headers, items = make_body(n)
                result.sent += 1
                try:
                    if streams is None:
                        streams = await asyncio.wait_for(asyncio.open_connection(host, port), 10.0)
                    reader, writer = streams
                    writer.write(request(body, headers))
                    status, keep = await asyncio.wait_for(_read_reply(reader), 30.0)
                except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, _Reply) as exc:
                    result.statuses[type(exc).__name__] += 1
                    if streams is not None:
                        streams[1].close()
                    streams = None
                    continue
                result.statuses[str(status)] += 1
                if status == 200:
                    result.ok += 1
                    result.items_ok += items
                if not keep:
                    writer.close()
                    streams = None
        finally:
            if streams is not None:
                streams[1].close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    result.generator_cpu_s = own_cpu_seconds() - cpu0
    if server_pid:
        result.server_cpu_s = cpu_seconds(server_pid) - server0
    return result


def run_load(coroutine: Any) -> Any:
    """Run a load coroutine on a uvloop loop when uvloop is installed (the generator's own cost
    matters), else on asyncio's default loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def wait_for_http(url: str, timeout_s: float = 30.0, alive: Callable[[], bool] | None = None) -> None:
    """Poll ``url`` (GET or POST answered < 500) until it answers; ``alive`` False → give up early."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"the server behind {url} exited before it answered")
        try:
            if httpx.post(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s")


# --------------------------------------------------------------------------- the machine


def machine_summary() -> dict[str, str]:
    """``nproc``, ``free -h`` and the CPU model, for the record next to the figures."""
    def run(*command: str) -> str:
        if shutil.which(command[0]) is None:
            return "(unavailable)"
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout.strip()

    model = "(unknown)"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": run("nproc"), "free -h": run("free", "-h"), "cpu": model,
            "python": sys.version.split()[0]}

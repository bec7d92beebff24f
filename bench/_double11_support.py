"""Instruments for ``bench/double11.py``: what a promotion-night replay needs on top of the
flash-sale plumbing (``bench/_flash_support``). Not a test helper and not for the hub itself.

- ``CreatedLog``: when each order was created in a sandbox, kept as two packed arrays per shop
  (16 bytes an order, no Python object per order) and copied into a temporary table of the hub's
  database at the end, so lost orders and end-to-end latencies are one set-based query.
- ``Sampler``: a thread that reads every hub process's VmRSS (``/proc/<pid>/status``) and the
  orders stored so far every ``every_s``, and drains the sandboxes' call logs into counters (the
  sandboxes append one entry per call served; left alone, a 1,000,000-order replay would hold
  millions of them).
- ``watch_stock``: timestamps what each shop shows for a few watched SKUs after every stock
  update the hub sends (the sandboxes' handlers wrapped, as ``_flash_support.instrument`` does for
  one SKU), read through O(1) getters so a call costs the same with 300 SKUs as with one.
- ``propagation``: ``bench/flash_sale.py``'s propagation measure for any SKU.
- ``scalable_taobao`` / ``scalable_aliexpress``: the sandboxes with their O(backlog) paths made
  O(page) for a backlog of hundreds of thousands of orders — same answers, see each function.
- ``rss_figures``: start, after warm-up, peak, end and the slope (MB per 10,000 orders stored)
  of one process's samples.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench._flash_support import StockWatch, after_stock_calls
from contracts.inventory import AllocationMode, StockPolicy
from hub.services.stock import allocation
from plugins.taobao.top_gateway import TmcQueue

# --------------------------------------------------------------------------- scalable sandboxes


@dataclass
class EarlyStopTmcQueue(TmcQueue):
    """``TmcQueue`` whose ``consume`` stops at ``quantity`` ready messages instead of listing every
    ready message of the backlog first (``[... for m in queue][:quantity]``): the same messages in
    the same order, but O(in flight + quantity) rather than O(backlog) per call, which at 200,000
    queued messages made the bench process, not the hub, the bottleneck."""

    def consume(self, app_key: str, group: str, quantity: int) -> list[dict[str, Any]]:
        now = self.clock()
        ready = []
        for message in self.queues.get((app_key, group), {}).values():
            if message.visible_at <= now and self._deliverable(message):
                ready.append(message)
                if len(ready) >= quantity:
                    break
        for message in ready:
            message.visible_at = now + self.redelivery_seconds
        return [{"id": m.id, "topic": m.topic, "content": m.content, "pub_time": m.pub_time,
                 "pub_app_key": m.pub_app_key, "user_nick": m.user_nick, "user_id": m.user_id} for m in ready]


def scalable_taobao(sandbox: Any, redelivery_seconds: float) -> Any:
    """Swap a fresh Taobao/Tmall sandbox's TMC queue for ``EarlyStopTmcQueue`` (before anything
    is published; bench code relying on the sandbox's internals)."""
    sandbox.gateway.tmc = EarlyStopTmcQueue(redelivery_seconds=redelivery_seconds,
                                            first_id=type(sandbox).first_message_id)
    return sandbox


def scalable_aliexpress(sandbox: Any, *, publish_tmc: bool) -> Any:
    """The AliExpress sandbox for a long replay.

    Its order list (``aliexpress.solution.order.get``) parses every order's modified time on every
    page (~11 µs each: 10,000 orders × 200 pages of a poll = 20 s of the bench's CPU); the parse is
    memoised here (times have one-second resolution, so few distinct strings) — same answers.
    With ``publish_tmc=False`` the sandbox queues no TMC messages: the shop's app has no order-topic
    subscription, so the hub's poll is what brings its orders in (the hub still drains the empty
    channel every second)."""
    import plugins.aliexpress.sandbox as ae_sandbox
    from plugins.aliexpress.mapping import parse_pacific

    if not hasattr(ae_sandbox.parse_pacific, "cache_info"):
        ae_sandbox.parse_pacific = functools.lru_cache(maxsize=1 << 16)(parse_pacific)
    if not publish_tmc:
        sandbox._publish = lambda order, status, last: None
    return sandbox


# --------------------------------------------------------------------------- created orders


class CreatedLog:
    """(external id, unix time of creation, phase) of every order a sandbox accepted, per shop,
    in packed arrays; ``copy_to`` puts them in a temporary table ``bench_created`` of a connection."""

    def __init__(self) -> None:
        self.ids: dict[str, array[int]] = {}
        self.times: dict[str, array[float]] = {}
        self.burst_end: dict[str, int] = {}  # per shop: orders created before the tail began

    def add(self, shop: str, external_id: str, at: float) -> None:
        ids = self.ids.get(shop)
        if ids is None:
            ids = self.ids[shop] = array("q")
            self.times[shop] = array("d")
        ids.append(int(external_id))
        self.times[shop].append(at)

    def count(self, shop: str) -> int:
        return len(self.ids.get(shop, ()))

    def total(self) -> int:
        return sum(len(ids) for ids in self.ids.values())

    def first_time(self) -> float | None:
        firsts = [times[0] for times in self.times.values() if times]
        return min(firsts) if firsts else None

    def mark_burst_end(self) -> None:
        self.burst_end = {shop: len(ids) for shop, ids in self.ids.items()}

    def records(self, chunk: int = 50_000) -> Iterator[list[tuple[str, str, float, bool]]]:
        for shop, ids in self.ids.items():
            times, burst = self.times[shop], self.burst_end.get(shop, len(ids))
            for first in range(0, len(ids), chunk):
                yield [(shop, str(ids[i]), times[i], i < burst) for i in range(first, min(first + chunk, len(ids)))]

    async def copy_to(self, connection: asyncpg.Connection) -> None:
        await connection.execute("CREATE TEMP TABLE bench_created (shop text, external_id text, "
                                 "created double precision, burst boolean)")
        for records in self.records():
            await connection.copy_records_to_table("bench_created", records=records)
        await connection.execute("CREATE INDEX ON bench_created (shop, external_id)")
        await connection.execute("ANALYZE bench_created")


# --------------------------------------------------------------------------- sampling


def rss_kb(pid: int) -> int | None:
    """VmRSS of ``pid`` in kB (Linux), None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass
class Sample:
    at: float
    created: int
    stored: int
    rss_kb: dict[str, int | None]


@dataclass
class CallSource:
    """A sandbox's call log (a list it appends to) and what its entries count as."""

    platform: str
    log: list[Any]
    key: Callable[[Any], str] = str


class Sampler(threading.Thread):
    """Every ``every_s``: VmRSS of each named process, orders stored (a ``count(*)`` on its own
    connection, every other tick) and the orders created so far (``created()``); drains the call
    logs into ``calls`` each tick so they stay short."""

    def __init__(self, pids: dict[str, int], dsn: str, created: Callable[[], int], sources: list[CallSource],
                 every_s: float = 0.5) -> None:
        super().__init__(name="double11-sampler", daemon=True)
        self.pids, self.dsn, self.created, self.sources, self.every_s = pids, dsn, created, sources, every_s
        self.samples: list[Sample] = []
        self.calls: dict[str, Counter[str]] = {s.platform: Counter() for s in sources}
        self.stored = 0
        self.error: str | None = None
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def drain(self) -> None:
        with self._lock:
            for source in self.sources:
                n = len(source.log)
                if n:
                    taken = source.log[:n]
                    del source.log[:n]  # appends made meanwhile land after index n and stay
                    self.calls[source.platform].update(source.key(entry) for entry in taken)

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        connection = None
        try:
            connection = loop.run_until_complete(asyncpg.connect(self.dsn, timeout=10))
            tick = 0
            while not self._halt.is_set():
                if tick % 2 == 0:
                    self.stored = int(loop.run_until_complete(connection.fetchval("SELECT count(*) FROM orders")))
                self.samples.append(Sample(time.time(), self.created(), self.stored,
                                           {name: rss_kb(pid) for name, pid in self.pids.items()}))
                self.drain()
                tick += 1
                self._halt.wait(self.every_s)
        except Exception as exc:  # reported, never kills the run
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if connection is not None:
                loop.run_until_complete(connection.close())
            loop.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(30)
        self.drain()


@dataclass
class RssFigures:
    start_mb: float | None = None
    warm_mb: float | None = None
    peak_mb: float | None = None
    end_mb: float | None = None
    slope_mb_per_10k: float | None = None  # least squares of RSS over orders stored, after warm-up
    slope_orders: int = 0  # the stored orders the slope spans
    #: The same over the second half of those orders: near the whole slope for a steady leak, well
    #: under it for growth that levels off (caches filling, the allocator settling).
    late_slope_mb_per_10k: float | None = None


def rss_figures(samples: list[Sample], name: str, warm_orders: int) -> RssFigures:
    """Start, after warm-up (the first sample with ``warm_orders`` stored), peak, end, and the
    slope of RSS against orders stored over the samples from warm-up until the last order was
    stored (while the hub worked); None where there are no samples."""
    points = [(s.stored, kb / 1024) for s in samples if (kb := s.rss_kb.get(name)) is not None]
    if not points:
        return RssFigures()
    figures = RssFigures(start_mb=points[0][1], peak_mb=max(mb for _, mb in points), end_mb=points[-1][1])
    warm = next((i for i, (stored, _) in enumerate(points) if stored >= warm_orders), None)
    if warm is None:
        return figures
    figures.warm_mb = points[warm][1]
    final = points[-1][0]
    last = next((i for i, (stored, _) in enumerate(points) if stored >= final), len(points) - 1)
    span = points[warm:last + 1]
    figures.slope_orders = span[-1][0] - span[0][0] if span else 0
    slope = least_squares_slope([x for x, _ in span], [y for _, y in span]) if len(span) >= 3 else None
    if slope is not None and figures.slope_orders > 0:
        figures.slope_mb_per_10k = slope * 10_000
    if span:
        middle = span[0][0] + figures.slope_orders / 2
        late = [(x, y) for x, y in span if x >= middle]
        late_slope = least_squares_slope([x for x, _ in late], [y for _, y in late]) if len(late) >= 3 else None
        if late_slope is not None:
            figures.late_slope_mb_per_10k = late_slope * 10_000
    return figures


def least_squares_slope(xs: list[float], ys: list[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def best_window_rate(samples: list[Sample], window_s: float = 10.0) -> float | None:
    """Most orders stored per second over any ``window_s`` of the samples (two pointers)."""
    best = None
    j = 0
    for i, sample in enumerate(samples):
        while samples[j].at < sample.at - window_s:
            j += 1
        span = sample.at - samples[j].at
        if span >= window_s * 0.9 and i > j:
            rate = (sample.stored - samples[j].stored) / span
            best = rate if best is None else max(best, rate)
    return best


# --------------------------------------------------------------------------- stock watch


def stock_getters(platform: str, sandbox: Any, shop: str, skus: list[str]) -> dict[str, Callable[[], int | None]]:
    """O(1) readers of what ``shop`` shows for each of ``skus`` (listings must exist already);
    bench code relying on each sandbox's internals."""
    getters: dict[str, Callable[[], int | None]] = {}
    for sku in skus:
        if platform in ("taobao", "tmall"):
            found = sandbox._find(shop, sku)
            item, entry = found
            target, attribute = (entry, "quantity") if entry is not None else (item, "num")
            getters[sku] = functools.partial(getattr, target, attribute)
        elif platform == "douyin":
            getters[sku] = functools.partial(getattr, sandbox.book.shop(shop).skus[sku], "stock")
        elif platform == "aliexpress":
            stock = next(s for s in sandbox._shop(shop).listings.values() if sku in s)
            getters[sku] = functools.partial(stock.get, sku)
        else:
            raise ValueError(f"no stock getter for platform {platform!r}")
    return getters


def watch_stock(platform: str, sandbox: Any, shop: str, getters: dict[str, Callable[[], int | None]],
                watches: dict[str, StockWatch]) -> Callable[[], None]:
    """Wrap the sandbox's stock-update handler(s) so that after each call every watched SKU's
    value in ``shop`` is noted (``StockWatch.saw`` keeps changes only); returns the undo."""

    def seen() -> None:
        for sku, get in getters.items():
            watches[sku].saw(shop, get())

    return after_stock_calls(platform, sandbox, seen)


@dataclass
class ShopRef:
    name: str
    platform: str


def targets_for(sku: str, mode: AllocationMode, shops: list[ShopRef], available: int) -> dict[str, int]:
    """What the hub wants each shop to show of ``sku`` at ``available`` (default policies)."""
    shares = [allocation.ShopShare(s.name, s.platform, StockPolicy()) for s in shops]
    return allocation.allocate(sku, available, shares, mode)


@dataclass
class Propagation:
    latencies: list[float] = field(default_factory=list)  # reservations that needed a push
    zero: int = 0  # every measured shop already showed no more than the target
    never: int = 0  # some shop never did before the end

    def add(self, other: Propagation) -> None:
        self.latencies += other.latencies
        self.zero += other.zero
        self.never += other.never


def propagation(sku: str, mode: AllocationMode, shops: list[ShopRef], measured: list[ShopRef], watch: StockWatch,
                ledger: list[tuple[float, int, int, str]], start: float) -> Propagation:
    """``bench/flash_sale.py``'s measure for one SKU: per reservation after ``start`` (ledger rows
    ``(at, on_hand_delta, reserved_delta, cause)`` in order), how long until every measured shop
    showed no more than the hub wants it to show after it (its own sales count)."""
    out = Propagation()
    on_hand = reserved = 0
    pointers = {s.name: 0 for s in shops}
    times = {s.name: [t for t, _ in watch.shown.get(s.name, [])] for s in shops}
    values = {s.name: [v for _, v in watch.shown.get(s.name, [])] for s in shops}
    for at, on_hand_delta, reserved_delta, cause in ledger:
        on_hand += on_hand_delta
        reserved += reserved_delta
        if cause != "order_reserved" or at < start:
            continue
        targets = targets_for(sku, mode, shops, on_hand - reserved)
        worst = 0.0
        for shop in measured:
            ts, vs = times[shop.name], values[shop.name]
            begin = max(pointers[shop.name], max(0, bisect.bisect_right(ts, at) - 1))
            j = begin
            while j < len(vs) and vs[j] > targets[shop.name]:
                j += 1
            if j == len(vs):
                pointers[shop.name] = begin
                worst = float("inf")
                break
            pointers[shop.name] = j
            worst = max(worst, ts[j] - at)
        if worst == float("inf"):
            out.never += 1
        elif worst <= 0:
            out.zero += 1
        else:
            out.latencies.append(worst)
    return out

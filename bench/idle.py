"""What an idle hub costs: the CPU of ``hub serve``, ``hub worker``, Redis and PostgreSQL while
nothing happens.

A hub that waits for orders should leave the machine to others (and, in the test suite, to the
tests: every end-to-end test runs hubs that are idle most of the time). The bench starts one
``hub serve`` and one ``hub worker`` on Redis and a throw-away PostgreSQL database, with no shop
configured (so the leader's schedule holds only the sweepers and housekeeping), waits
``--warmup`` seconds, then measures every process's CPU over ``--seconds`` with nothing sent.
``--shops`` adds that many Taobao sandbox shops (their TMC consume every second and their polls:
an idle merchant). The figures are shares of one core; the machine's own busy share is printed
beside them, so a run disturbed by other work shows.

Run: ``python bench/idle.py`` (``--seconds 30``). Results: bench/README.md, "An idle hub".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._flash_support import hub_processes, redis_namespace, throwaway_database, wait_http, write_toml
from bench._support import CPU_GROUPS, CpuMeter, machine_summary
from hub.asgi_server import BackgroundServer, free_port
from plugins.taobao.sandbox import TaobaoSandbox


def write_config(path: Path, api_port: int, threads: int, shops: dict[str, dict[str, Any]]) -> None:
    sections: dict[str, dict[str, Any]] = {
        "hub": {"api_host": "127.0.0.1", "api_port": api_port, "worker_threads": threads}}
    for shop, settings in shops.items():
        sections[f"shops.{shop}"] = {"platform": "taobao", "settings": settings}
    write_toml(path, sections)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to measure (default 30)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after start-up before measuring")
    parser.add_argument("--shops", type=int, default=0, help="Taobao sandbox shops to configure (default 0)")
    parser.add_argument("--threads", type=int, default=4, help="hub worker --threads (default 4)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_summary()
    print(f"machine: {machine}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with ExitStack() as stack:
        database_url = stack.enter_context(throwaway_database(prefix="hub_idle_"))
        redis_url = stack.enter_context(redis_namespace())
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hub-idle-")))
        shops: dict[str, dict[str, Any]] = {}
        if args.shops:
            sandbox = TaobaoSandbox()
            server = BackgroundServer(sandbox.app).start()
            stack.callback(server.stop)
            for n in range(args.shops):
                shop = f"idle-tb-{n + 1}"
                sandbox.add_listing(shop, ["IDLE-SKU"], stock=10)
                shops[shop] = sandbox.shop_settings(shop, server.base_url)
        api_port = free_port()
        config_path = workdir / "hub.toml"
        write_config(config_path, api_port, args.threads, shops)
        processes = stack.enter_context(hub_processes(config_path, database_url, redis_url, workers=1,
                                                      threads=args.threads))
        wait_http(f"http://127.0.0.1:{api_port}/healthz", timeout_s=180.0, processes=processes)
        time.sleep(args.warmup)
        pids = {p.proc.pid: ("hub serve" if p.name == "serve" else "hub workers")
                for p in processes if p.proc is not None}
        meter = CpuMeter(pids)
        time.sleep(args.seconds)
        wall_s, used, busy = meter.stop()
        if not all(p.alive() for p in processes):
            print("a hub process exited during the run", file=sys.stderr)
            return 1
    print(f"\nidle for {wall_s:.1f} s, {args.shops} shop(s), worker threads {args.threads}")
    print(f"{'process':<28}{'CPU-s':>8}{'% of a core':>14}")
    for group in (g for g in CPU_GROUPS if g != "RabbitMQ"):  # the idle hub runs on Redis
        seconds = used.get(group, 0.0)
        print(f"{group:<28}{seconds:>8.2f}{100 * seconds / wall_s:>13.1f}%")
    print(f"{'machine busy (all CPUs)':<28}{'':>8}{100 * busy:>13.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

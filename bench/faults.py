"""The standing fault suite: is anything lost or stuck when a worker is killed, the broker restarts
empty, or the partners fail 30% of their calls?

Per scenario (``bench/_faults_support.py`` has the steps), on a fresh PostgreSQL database, a
``redis-server`` of its own (never the shared one) and four sandbox shops (Taobao, Tmall, Douyin,
AliExpress), with the hub as real ``hub serve`` + ``hub worker`` processes: ``--orders`` paid
orders at ``--rate`` per second, ``--shipments`` shipments recorded over the API, the fault in the
middle, then a bounded wait until quiet. Prints a table — orders in the sandboxes vs stored,
reservations, shipments recorded vs confirmed vs shown shipped by the sandboxes, stock shown by
the shops vs expected, stuck rows, dead letters — where all must match.

Exit status 1 when anything is lost or stuck in any scenario, 0 when all match.
Run: ``python bench/faults.py [--scenarios broker-restart] [--orders 1200]``. Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._faults_support import SCENARIOS, STALL_S, Options, run_scenario, table


def _setting(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` (value parsed as TOML: 5, 2.5, true, "text") for the hub's config."""
    import tomllib

    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().rpartition(".")
    if not sep or not dot or not section or not key:
        raise argparse.ArgumentTypeError(f"expected section.key=value (e.g. queue.sweep_after_s=5), not {text!r}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return section, key, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {', '.join(SCENARIOS)}")
    parser.add_argument("--orders", type=int, default=1_200, help="paid orders per scenario (default 1,200)")
    parser.add_argument("--shipments", type=int, default=10, help="shipments recorded per scenario (default 10)")
    parser.add_argument("--rate", type=float, default=40.0, help="orders created per second (default 40)")
    parser.add_argument("--threads", type=int, default=2, help="threads per hub worker process (default 2)")
    parser.add_argument("--outage", type=float, default=3.0, help="broker-restart: seconds Redis stays down")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="partner-faults: share of calls failing")
    parser.add_argument("--stall", type=float, default=STALL_S,
                        help=f"give up when nothing moved for this long, s (default {STALL_S:g}: outlasts the "
                             "hub's 30 s inbox sweep, dramatiq's 60 s dead-worker timeout and the 150 s a "
                             "confirmation claimed by a killed worker waits)")
    parser.add_argument("--deadline", type=float, default=420.0, help="longest wait for quiet, s (default 420)")
    parser.add_argument("--set", dest="settings", type=_setting, action="append", default=[], metavar="S.K=V",
                        help="extra hub config, e.g. --set queue.sweep_after_s=5 (repeatable)")
    args = parser.parse_args(argv)
    args.scenario_list = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenario_list if s not in SCENARIOS]
    if unknown:
        parser.error(f"--scenarios: unknown {', '.join(unknown)}; expected {', '.join(SCENARIOS)}")
    if args.orders < 2:
        parser.error("--orders: at least 2 (half before the fault, half after)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    extra: dict[str, dict[str, Any]] = {}
    for section, key, value in args.settings:
        extra.setdefault(section, {})[key] = value
    options = Options(orders=args.orders, shipments=args.shipments, rate=args.rate, threads=args.threads,
                      outage_s=args.outage, fault_rate=args.fault_rate, stall_s=args.stall, deadline_s=args.deadline,
                      extra_config=extra, progress=lambda line: print(line, file=sys.stderr, flush=True))
    ledgers = []
    for scenario in args.scenario_list:
        started = time.monotonic()
        ledgers.append(run_scenario(scenario, options))
        print(f"{scenario}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"fault suite: {args.orders:,} paid orders per scenario over 4 shops at {args.rate:g}/s, "
          f"{args.shipments} shipments, hub: 1 serve + 1 worker x {args.threads} threads")
    print(table(ledgers))
    return 1 if any(ledger.problems() for ledger in ledgers) else 0


if __name__ == "__main__":
    raise SystemExit(main())

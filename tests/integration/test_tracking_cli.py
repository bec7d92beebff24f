"""``hub tracking`` against real databases: a parcel's scans oldest first, the exceptions queue,
and resolving one attributed to the person at the terminal (twice: refused, naming who did)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts.shipments import TrackingEvent, TrackingState
from hub.cli import app
from hub.services.fulfilment import tracking
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop
from hub.testing.hub import running_hub
from hub.testing.tracking import shipped_order, tracking_config

__all__ = ["clean_environment"]
T = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def _world(database_url: str) -> tuple[int, int]:
    """A shipped parcel with two scans, and another shipped long ago without any (not collected)."""
    config = tracking_config(database_url, sandbox_settings={"customer": "C", "key": "k"}, callback_base_url=None)

    async def build() -> tuple[int, int]:
        with running_hub(config, start_workers=False, relay=False) as hub:
            try:
                moving = await shipped_order(hub, ["ZTCLI1"])
                await shipped_order(hub, ["ZTCLI2"])
                events = [TrackingEvent(tracking_number="ZTCLI1", courier_code="zto", state=state, occurred_at=at,
                                        description=text)
                          for state, at, text in ((TrackingState.IN_TRANSIT, T + timedelta(hours=5), "到达上海"),
                                                  (TrackingState.COLLECTED, T + timedelta(hours=1), "已揽收"))]
                await tracking.record(hub, tracking.PushIn("ZTCLI1", "zto", events))
                await tracking.check_parcels(hub, now=datetime.now(UTC) + timedelta(days=30))
                return moving.parcel_ids[0], moving.order_id
            finally:
                await hub.close_loop_resources()

    return run_in_fresh_loop(build)


def test_show_list_and_resolve(database_url: str) -> None:
    parcel_id, _ = _world(database_url)
    env = {"HUB_DATABASE_URL": database_url}
    shown = runner.invoke(app, ["tracking", "show", str(parcel_id)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "in_transit" in shown.stdout and shown.stdout.index("已揽收") < shown.stdout.index("到达上海")
    assert runner.invoke(app, ["tracking", "show", "999999"], env=env).exit_code != 0

    listed = runner.invoke(app, ["tracking", "exceptions"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "not_collected" in listed.stdout and "stalled" in listed.stdout
    stalled = runner.invoke(app, ["tracking", "exceptions", "--kind", "stalled"], env=env)
    line = next(row for row in stalled.stdout.splitlines() if "stalled" in row and f"parcel:{parcel_id}" in row)
    exception_id = line.split("│")[1].strip()

    done = runner.invoke(app, ["tracking", "resolve", exception_id, "--note", "found at the depot"], env=env)
    assert done.exit_code == 0, done.output
    assert "resolved fulfilment exception" in done.stdout and "cli:" in done.stdout
    again = runner.invoke(app, ["tracking", "resolve", exception_id], env=env)
    assert again.exit_code != 0 and "already resolved by cli:" in again.output
    assert "no fulfilment exceptions" in runner.invoke(app, ["tracking", "exceptions", "--kind", "stalled"],
                                                        env=env).stdout
    everything = runner.invoke(app, ["tracking", "exceptions", "--all", "--kind", "stalled"], env=env)
    assert "cli:" in everything.stdout

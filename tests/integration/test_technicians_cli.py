"""``hub technicians`` against a real (SQLite) database: a technician added with their skills,
regions, days, hours and capacity, listed with their load, deactivated (out of the list, back
with ``--all``) and shown; a taken code or a bad value is one line naming the option, exit 2."""

from __future__ import annotations

from pathlib import Path

from hub.cli import app
from hub.testing.cli import clean_environment, runner
from hub.testing.db import sqlite_url

__all__ = ["clean_environment"]


def test_add_list_deactivate_and_bad_values(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(f'[hub]\ndatabase_url = "{sqlite_url(tmp_path / "hub.db")}"\n', encoding="utf-8")

    def hub(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, ["--config", str(config), *args])
        return result.exit_code, result.output

    assert hub("db", "upgrade")[0] == 0
    add = ("technicians", "add", "T01", "--name", "Wang", "--skill", "installation", "--skill", "repair",
           "--region", "杭州市", "--days", "1-5", "--hours", "08:30-17:30", "--capacity", "3")
    code, out = hub(*add)
    assert code == 0, out
    assert "skills: installation, repair" in out and "work days: 1,2,3,4,5" in out and "hours: 08:30-17:30" in out

    for bad, option in ((("--days", "0-8"), "--days"), (("--skill", "plumbing"), "--skill"),
                        (("--hours", "18:00-09:00"), "--hours"), (("--capacity", "101"), "--capacity")):
        code, out = hub("technicians", "add", "T02", "--name", "Li", "--skill", "installation", *bad)
        assert code == 2 and f"error: {option}:" in out, (bad, out)
    code, out = hub(*add)
    assert code == 2 and "'T01' is taken" in out

    code, out = hub("technicians", "list")
    assert code == 0 and "T01" in out and "杭州市" in out and "installation, repair" in out
    code, out = hub("technicians", "deactivate", "T01")
    assert code == 0 and "T01 deactivated; 0 open order(s) queued for reassignment" in out
    assert "T01" not in hub("technicians", "list")[1]
    code, out = hub("technicians", "list", "--all")
    assert code == 0 and "T01" in out and "no" in out.split("T01", 1)[1]
    code, out = hub("technicians", "update", "T01", "--everywhere", "--capacity", "6")
    assert code == 0 and "regions: everywhere" in out and "capacity: 6 a day" in out and "(deactivated)" in out
    code, out = hub("technicians", "show", "T99")
    assert code == 2 and "no technician 'T99'" in out

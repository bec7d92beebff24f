"""The operator's commands against real databases: ``hub db upgrade`` migrates and reports the
revision, ``hub apikey create`` prints a key once that then works against the API (and stops
working when revoked), and ``hub dlq`` lists, shows and replays dead letters."""

from __future__ import annotations

from pathlib import Path

from hub.api import create_app
from hub.cli import app
from hub.db import dead_letters
from hub.db.engine import database_for_loop, dispose_all_for_loop
from hub.db.migrate import head_revision
from hub.testing.cli import clean_environment, runner
from hub.testing.db import run_in_fresh_loop, sqlite_url
from tests.integration.test_api_support import bearer, client_for, make_hub

__all__ = ["clean_environment"]


def test_db_upgrade_migrates_a_new_database_and_prints_the_revision(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "fresh.db")
    result = runner.invoke(app, ["db", "upgrade"], env={"HUB_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert f"is at revision {head_revision()}" in result.stdout
    again = runner.invoke(app, ["db", "upgrade"], env={"HUB_DATABASE_URL": url})
    assert again.exit_code == 0, "upgrading an up-to-date database is a no-op"


def test_commands_on_an_unmigrated_database_say_to_run_db_upgrade(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "empty.db")
    result = runner.invoke(app, ["apikey", "list"], env={"HUB_DATABASE_URL": url})
    assert result.exit_code == 1 and "hub db upgrade" in result.output and "Traceback" not in result.output


def test_db_upgrade_on_an_unreachable_server_is_exit_1_without_the_password() -> None:
    url = "postgresql://hub:s3cretpw@127.0.0.1:1/hub"
    result = runner.invoke(app, ["db", "upgrade"], env={"HUB_DATABASE_URL": url})
    assert result.exit_code == 1
    assert "s3cretpw" not in result.output and "Traceback" not in result.output


async def _call(url: str, key: str, path: str) -> int:
    hub = make_hub(url)
    try:
        async with client_for(create_app(hub)) as client:
            return (await client.get(path, headers=bearer(key))).status_code
    finally:
        await hub.close_loop_resources()


def test_created_key_is_shown_once_works_and_is_refused_after_revoke(database_url: str) -> None:
    env = {"HUB_DATABASE_URL": database_url}
    created = runner.invoke(app, ["apikey", "create", "--name", "night-ops", "--role", "admin"], env=env)
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("chk_") and "\n" not in key, "stdout carries the key alone, for scripts"
    assert "will not be shown again" in created.stderr

    assert run_in_fresh_loop(lambda: _call(database_url, key, "/api/v1/dead-letters")) == 200

    listed = runner.invoke(app, ["apikey", "list"], env=env)
    prefix = key.split("_")[1]
    assert listed.exit_code == 0 and prefix in listed.stdout and "night-ops" in listed.stdout
    assert key not in listed.stdout, "lists never show the key itself"

    refused = runner.invoke(app, ["apikey", "revoke", prefix], env=env)
    assert refused.exit_code == 2, refused.output
    assert "last admin key" in refused.output and "--force" in refused.output
    assert run_in_fresh_loop(lambda: _call(database_url, key, "/api/v1/dead-letters")) == 200

    revoked = runner.invoke(app, ["apikey", "revoke", prefix, "--force"], env=env)
    assert revoked.exit_code == 0, revoked.output
    assert run_in_fresh_loop(lambda: _call(database_url, key, "/api/v1/dead-letters")) == 401
    again = runner.invoke(app, ["apikey", "revoke", prefix], env=env)
    assert again.exit_code == 2 and "no active API key" in again.output
    listed = runner.invoke(app, ["apikey", "list"], env=env)
    assert listed.stdout.count("cli:") >= 2, "who created and who revoked the key are listed"


def test_viewer_key_from_the_cli_is_refused_admin_routes(database_url: str) -> None:
    created = runner.invoke(app, ["apikey", "create", "--name", "dash", "--role", "viewer"],
                            env={"HUB_DATABASE_URL": database_url})
    key = created.stdout.strip()
    assert run_in_fresh_loop(lambda: _call(database_url, key, "/api/v1/orders")) == 200
    assert run_in_fresh_loop(lambda: _call(database_url, key, "/api/v1/dead-letters")) == 403


def _record_dead_letter(url: str, actor: str = "process_inbox_batch") -> int:
    async def record() -> int:
        try:
            async with database_for_loop(url).transaction() as session:
                return await dead_letters.record(
                    session, actor=actor, queue="ingest", args=[[987654]], kwargs={},
                    reason="PermanentError: shop 'tb' returned isv.invalid-parameter for buyer 13812345678",
                    error_class="PermanentError", attempts=4, inbox_id=987654,
                )
        finally:
            await dispose_all_for_loop()

    return run_in_fresh_loop(record)


def _replayed_at(url: str, dl_id: int) -> object:
    async def read() -> object:
        try:
            async with database_for_loop(url).session() as session:
                row = await dead_letters.get(session, dl_id)
                return row.replayed_at if row else None
        finally:
            await dispose_all_for_loop()

    return run_in_fresh_loop(read)


def test_dlq_list_show_and_replay(database_url: str) -> None:
    env = {"HUB_DATABASE_URL": database_url}
    dl_id = _record_dead_letter(database_url)

    listed = runner.invoke(app, ["dlq", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "process_inbox_batch" in listed.stdout and "isv.invalid-parameter" in listed.stdout
    assert "13812345678" not in listed.stdout, "reasons are shown with phone numbers masked"

    shown = runner.invoke(app, ["dlq", "show", str(dl_id)], env=env)
    assert shown.exit_code == 0 and "[[987654]]" in shown.stdout and "never" in shown.stdout

    missing = runner.invoke(app, ["dlq", "show", "999999"], env=env)
    assert missing.exit_code == 2 and "does not exist" in missing.output

    replayed = runner.invoke(app, ["dlq", "replay", str(dl_id)], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert f"dead letter {dl_id} replayed" in replayed.stdout
    assert _replayed_at(database_url, dl_id) is not None
    shown = runner.invoke(app, ["dlq", "show", str(dl_id)], env=env)
    assert "by: cli:" in shown.stdout, "the replay is attributed to the operator who ran it"
    assert "no dead letters" in runner.invoke(app, ["dlq", "list"], env=env).stdout


def test_dlq_replay_of_an_unknown_id_is_exit_2(database_url: str) -> None:
    result = runner.invoke(app, ["dlq", "replay", "424242"], env={"HUB_DATABASE_URL": database_url})
    assert result.exit_code == 2 and "424242" in result.output


def test_dlq_replay_of_an_actor_replays_its_open_letters_and_no_others(database_url: str) -> None:
    env = {"HUB_DATABASE_URL": database_url}
    first, second = _record_dead_letter(database_url), _record_dead_letter(database_url)
    other = _record_dead_letter(database_url, actor="no_such_actor_here")
    for wrong in (["dlq", "replay"], ["dlq", "replay", str(first), "--actor", "process_inbox_batch"],
                  ["dlq", "replay", str(first), "--up-to", str(first)]):
        refused = runner.invoke(app, wrong, env=env)
        assert refused.exit_code == 2 and "--actor" in refused.output, wrong

    up_to_first = runner.invoke(app, ["dlq", "replay", "--actor", "process_inbox_batch", "--up-to", str(first)],
                                env=env)
    assert up_to_first.exit_code == 0, up_to_first.output
    assert "1 dead letter(s) of 'process_inbox_batch' replayed" in up_to_first.stdout
    assert _replayed_at(database_url, first) is not None and _replayed_at(database_url, second) is None

    rest = runner.invoke(app, ["dlq", "replay", "--actor", "process_inbox_batch"], env=env)
    assert rest.exit_code == 0 and f"replayed (processed in this process): {second}" in rest.stdout, rest.output
    assert _replayed_at(database_url, other) is None, "another actor's letter waits"
    none_left = runner.invoke(app, ["dlq", "replay", "--actor", "process_inbox_batch"], env=env)
    assert none_left.exit_code == 0 and "no open dead letter of 'process_inbox_batch'" in none_left.stdout

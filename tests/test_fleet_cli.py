"""``migrate``/``showmigrations``/``check``/``history`` over many targets, through the real CLI boundary."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest
from support.databases import execute, sqlite_url_for
from support.fleets import make_schemas, migrate_target, workspace
from support.running import cli, main_exit


@pytest.mark.postgres
def test_migrate_show_check_and_history_over_schemas(project: Path, postgres_url: str,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _ok, failing = make_schemas(postgres_url, ["cli_ok", "cli_failing"])
    migrate_target(workspace(project, postgres_url), failing, "auth")
    execute(postgres_url, 'CREATE TABLE "cli_failing".memos (id integer)')

    ran = cli(capsys, monkeypatch, project, postgres_url, "migrate", "--schemas", "cli_%", "--concurrency", "2",
              "--json")
    assert ran.code == 1, ran  # a target failed
    rows = {r["target"].rsplit("=", 1)[-1]: r for r in json.loads(ran.out)}
    assert rows["cli_ok"]["status"] == "applied" and rows["cli_failing"]["status"] == "failed"
    assert set(rows["cli_ok"]) >= {"target", "status", "applied", "error", "seconds", "fleet_run"}
    run_id = rows["cli_ok"]["fleet_run"]

    shown = cli(capsys, monkeypatch, project, postgres_url, "showmigrations", "--schemas", "cli_%", "--json")
    assert shown.code == 0, shown
    statuses = {r["target"].rsplit("=", 1)[-1]: r["status"] for r in json.loads(shown.out)}
    assert statuses == {"cli_ok": "up_to_date", "cli_failing": "behind"}
    checked = cli(capsys, monkeypatch, project, postgres_url, "check", "--schemas", "cli_%")
    assert checked.code == 1 and "behind" in checked.out and "cli_failing" in checked.out, checked

    told = cli(capsys, monkeypatch, project, postgres_url, "history", "--schemas", "cli_%", "--fleet", run_id,
               "--json")
    assert told.code == 0, told
    events = json.loads(told.out)
    assert {e["fleet_run"] for e in events} == {run_id}
    assert any(e["target"].endswith("cli_failing") and e["event"] == "failure" for e in events)
    assert any(e["target"].endswith("cli_ok") and e["event"] == "apply" for e in events)


def test_targets_from_stdin_split_by_an_indexed_job(project: Path, tmp_path: Path, migrated_sqlite_url: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    template = Path(migrated_sqlite_url.removeprefix("sqlite:///"))
    urls = []
    for i in range(8):
        shutil.copyfile(template, tmp_path / f"t{i}.db")
        urls.append(sqlite_url_for(tmp_path, f"t{i}.db"))
    listing = "# tenants\n" + "\n".join(urls) + "\n"
    seen: list[str] = []
    monkeypatch.setenv("MEMSTACK_SHARD_COUNT", "4")
    for index in range(4):
        monkeypatch.setenv("JOB_COMPLETION_INDEX", str(index))
        monkeypatch.setattr(sys, "stdin", io.StringIO(listing))
        result = main_exit(capsys, "--project-dir", str(project), "--database-url", migrated_sqlite_url, "migrate",
                           "--targets", "-", "--json")
        assert result.code == 0, result
        statuses = {r["target"]: r["status"] for r in json.loads(result.out)}
        assert set(statuses.values()) <= {"up_to_date"}
        seen += statuses
    assert sorted(seen) == sorted(urls)  # the four shards: disjoint, together every target


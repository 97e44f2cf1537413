"""A revision that fails, a process killed inside a revision, and ``--atomic``: what stays applied,
what is rolled back, what is recorded, and how the next run behaves (marks on MariaDB)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support.databases import backend_of, execute
from support.inspect import columns, history_rows, marks, snapshot, tables, version_rows
from support.revisions import Chain, chain_component
from support.running import cli, manage, spawn_manage
from support.waiting import WRITE_ATOMICALLY, wait_for_file, wait_for_migration_lock_free

FAILING = 'op.execute("INSERT INTO no_such_table_here (id) VALUES (1)")'


def _make_failing(make_component, project: Path) -> Chain:
    """Four revisions; the third creates its table, adds a column to the first one's, then fails."""
    return chain_component(make_component, project, 4, prefix="fails", bodies={3: "\n".join([
        "op.add_column('{label}_t1', sa.Column('extra', sa.Integer(), nullable=True))",
        FAILING,
    ])})


def _fix_revision(chain: Chain, number: int) -> None:
    path = chain.path(number)
    path.write_text(path.read_text(encoding="utf-8").replace(FAILING, "pass"), encoding="utf-8")


def test_failing_revision_k_of_n(project: Path, db_url: str, make_component, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    chain = _make_failing(make_component, project)
    kind = backend_of(db_url)

    result = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert result.code == 1, result
    assert f"step 3 of 4 failed: {chain.label} 0003_step3 (up)" in result.err
    assert "no_such_table_here" in result.err  # the database's own error
    assert f"Applying {chain.label} 0003_step3 ... FAILED" in result.err
    assert "Traceback" not in result.err

    # 1..k-1 stay applied, k is not recorded as applied, n never ran
    assert version_rows(db_url) == {chain.ids[1]}
    assert {chain.table(1), chain.table(2)} <= tables(db_url)
    assert chain.table(4) not in tables(db_url)
    events = [(r["event"], r["name"], bool(r["success"])) for r in history_rows(db_url)]
    assert events == [("apply", "0001_step1", True), ("apply", "0002_step2", True), ("failure", "0003_step3", False)]
    assert "no_such_table_here" in history_rows(db_url)[-1]["error"]

    if kind != "mariadb":
        # the failed step's DDL is gone: its table and the column it added
        assert chain.table(3) not in tables(db_url)
        assert "extra" not in columns(db_url, chain.table(1))
        assert "steps 1..2 stayed applied; this step was rolled back" in result.err
        assert marks(db_url) == []
        _fix_revision(chain, 3)
        again = cli(capsys, monkeypatch, project, db_url, "migrate")
        assert again.code == 0, again
        assert [line.split()[2] for line in again.err.splitlines() if "Applying" in line] == \
            ["0003_step3", "0004_step4"]
    else:
        # MariaDB committed the DDL before the failure: a failed mark says so
        assert chain.table(3) in tables(db_url)
        assert [(m["revision"], m["state"]) for m in marks(db_url)] == [(chain.ids[2], "failed")]
        assert "no_such_table_here" in marks(db_url)[0]["error"]
        assert "half-applied" in result.err
        assert "repair" in result.err and f"migrate --fake {chain.label} 0003_step3" in result.err

        # the next migrate refuses until the mark is dealt with, even with the file fixed
        _fix_revision(chain, 3)
        before = snapshot(db_url)
        refused = cli(capsys, monkeypatch, project, db_url, "migrate")
        assert refused.code == 1, refused
        assert f"revision {chain.label} 0003_step3 (up) failed" in refused.err
        assert "repair" in refused.err and "migrate --fake" in refused.err
        assert "Applying" not in refused.err
        assert snapshot(db_url) == before

        # undo the half-applied effect by hand, clear the mark, and the run completes
        execute(db_url, f"DROP TABLE {chain.table(3)}", f"ALTER TABLE {chain.table(1)} DROP COLUMN extra")
        repaired = cli(capsys, monkeypatch, project, db_url, "repair", "--yes")
        assert repaired.code == 0, repaired
        assert f"cleared the failure mark of {chain.label} 0003_step3" in repaired.err
        assert marks(db_url) == []
        assert history_rows(db_url)[-1]["event"] == "repair"
        again = cli(capsys, monkeypatch, project, db_url, "migrate")
        assert again.code == 0, again

    assert version_rows(db_url) == {chain.ids[3]}
    assert {chain.table(n) for n in range(1, 5)} <= tables(db_url)
    assert "extra" in columns(db_url, chain.table(1))
    applies = [r["name"] for r in history_rows(db_url) if r["event"] == "apply"]
    assert applies == ["0001_step1", "0002_step2", "0003_step3", "0004_step4"]


def test_failure_in_the_first_step_changes_nothing_but_history(project: Path, db_url_no_mariadb: str,
                                                               make_component, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    chain = chain_component(make_component, project, 2, prefix="first", bodies={1: FAILING})
    result = cli(capsys, monkeypatch, project, url, "migrate")
    assert result.code == 1
    assert f"step 1 of 2 failed: {chain.label} 0001_step1" in result.err
    assert "this step was rolled back; nothing changed" in result.err
    assert version_rows(url) == set()
    assert {chain.table(1), chain.table(2)} & tables(url) == set()
    assert [(r["event"], r["name"]) for r in history_rows(url)] == [("failure", "0001_step1")]


def test_atomic_rolls_back_the_whole_plan(project: Path, db_url_no_mariadb: str, make_component,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    chain = _make_failing(make_component, project)
    result = cli(capsys, monkeypatch, project, url, "migrate", "--atomic")
    assert result.code == 1, result
    assert f"step 3 of 4 failed: {chain.label} 0003_step3" in result.err
    assert "no_such_table_here" in result.err
    assert "the whole plan was rolled back" in result.err
    assert version_rows(url) == set()
    assert {chain.table(n) for n in range(1, 5)} & tables(url) == set()
    # only the failure is recorded: the applies went with the rolled-back transaction
    assert [(r["event"], r["name"], bool(r["success"])) for r in history_rows(url)] == \
        [("failure", "0003_step3", False)]

    _fix_revision(chain, 3)
    ok = cli(capsys, monkeypatch, project, url, "migrate", "--atomic")
    assert ok.code == 0, ok
    assert version_rows(url) == {chain.ids[3]}
    assert [r["name"] for r in history_rows(url) if r["event"] == "apply"] == \
        ["0001_step1", "0002_step2", "0003_step3", "0004_step4"]


@pytest.mark.mariadb
def test_atomic_refused_on_mariadb(project: Path, mariadb_url: str, make_component,
                                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    chain = chain_component(make_component, project, 2, prefix="atomic")
    before = snapshot(mariadb_url)
    result = cli(capsys, monkeypatch, project, mariadb_url, "migrate", "--atomic")
    assert result.code == 1, result
    assert "--atomic needs transactional DDL" in result.err
    assert "run without --atomic" in result.err
    assert "Applying" not in result.err
    assert snapshot(mariadb_url) == before
    assert chain.table(1) not in tables(mariadb_url)


#: inside the revision: the pid written whole (the test reads it as soon as the file exists), then
#: sleep until killed (the sleep is far longer than any wait; the test never relies on its length)
SLEEPER = WRITE_ATOMICALLY + """
inside = os.environ.get("SAFETY_INSIDE")
if inside:
    _write_atomically(inside, str(os.getpid()))
    time.sleep(600)
"""


def test_sigkill_inside_a_revision(project: Path, db_url: str, make_component, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    chain = chain_component(make_component, project, 3, prefix="killed", bodies={2: SLEEPER})
    sentinel = tmp_path / "inside"
    proc = spawn_manage(project, db_url, "migrate", pythonpath=[chain.packages_dir], SAFETY_INSIDE=str(sentinel))
    try:
        pid = wait_for_file(sentinel, what="the revision to start (its pid file)", proc=proc)
        assert int(pid) == proc.pid
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    assert version_rows(db_url) == {chain.ids[0]}
    assert [r["name"] for r in history_rows(db_url)] == ["0001_step1"]
    # the server ends the dead client's session (and its lock) when it sees the socket close
    wait_for_migration_lock_free(db_url, what="the server to end the killed process's session")

    if backend_of(db_url) != "mariadb":
        # the open transaction died with the process: the next run completes (and the lock is free)
        assert chain.table(2) not in tables(db_url)
        result = manage(project, db_url, "migrate", "--lock-timeout", "15", pythonpath=[chain.packages_dir])
        assert result.code == 0, result
        assert "Waiting" not in result.err
    else:
        # the CREATE TABLE committed itself; the running mark of the dead process stays
        assert chain.table(2) in tables(db_url)
        assert [(m["revision"], m["state"]) for m in marks(db_url)] == [(chain.ids[1], "running")]
        assert marks(db_url)[0]["pid"] == proc.pid
        before = snapshot(db_url)
        refused = manage(project, db_url, "migrate", "--lock-timeout", "15", pythonpath=[chain.packages_dir])
        assert refused.code == 1, refused
        assert f"revision {chain.label} 0002_step2 (up) was interrupted" in refused.err
        assert "repair" in refused.err
        assert f"migrate --fake {chain.label} 0002_step2" in refused.err
        assert snapshot(db_url) == before

        # the revision's effect is complete (its table exists): record it as applied, then go on
        faked = cli(capsys, monkeypatch, project, db_url, "migrate", "--fake", chain.label, "0002_step2")
        assert faked.code == 0, faked
        assert marks(db_url) == []
        result = cli(capsys, monkeypatch, project, db_url, "migrate")
        assert result.code == 0, result

    assert version_rows(db_url) == {chain.ids[2]}
    assert {chain.table(1), chain.table(2), chain.table(3)} <= tables(db_url)
    events = [(r["event"], r["name"]) for r in history_rows(db_url)]
    expected_second = "fake" if backend_of(db_url) == "mariadb" else "apply"
    assert events == [("apply", "0001_step1"), (expected_second, "0002_step2"), ("apply", "0003_step3")]

"""``migrate --dry-run --locks`` (PostgreSQL) against a corpus of DDL forms whose locks and rewrites
PostgreSQL's documentation states (ALTER TABLE's notes, "Explicit Locking" 13.3): each statement's
strongest new lock on its table and whether it rewrote the table must be what the docs say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.databases import query
from support.revisions import new_id, write_revision
from support.running import cli

from memstack.engine.run.blockers import MODES

AE, SUE, S, SRE, RS, RE = ("AccessExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock",
                           "RowShareLock", "RowExclusiveLock")

# (statement, {table: strongest new lock}, tables rewritten); table cN is set up before the run
CORPUS: list[tuple[str, dict[str, str], set[str]]] = [
    ("ALTER TABLE c1 ADD COLUMN x int", {"c1": AE}, set()),
    ("ALTER TABLE c2 ADD COLUMN x int DEFAULT 0", {"c2": AE}, set()),  # PG 11+: a constant default, no rewrite
    ("ALTER TABLE c3 ADD COLUMN x float DEFAULT random()", {"c3": AE}, {"c3"}),  # volatile default: rewrite
    ("ALTER TABLE c4 ADD COLUMN x timestamptz DEFAULT clock_timestamp()", {"c4": AE}, {"c4"}),
    ("ALTER TABLE c5 ALTER COLUMN a TYPE bigint", {"c5": AE}, {"c5"}),
    ("ALTER TABLE c6 ALTER COLUMN b TYPE varchar(20)", {"c6": AE}, set()),  # longer varchar: binary coercible
    ("ALTER TABLE c7 ALTER COLUMN b TYPE text", {"c7": AE}, set()),
    ("ALTER TABLE c8 ALTER COLUMN n TYPE numeric(12,2)", {"c8": AE}, set()),  # more precision, same scale
    ("ALTER TABLE c9 ALTER COLUMN a TYPE text", {"c9": AE}, {"c9"}),
    ("ALTER TABLE c10 ALTER COLUMN a SET NOT NULL", {"c10": AE}, set()),  # a scan, no rewrite
    ("ALTER TABLE c11 ALTER COLUMN a DROP NOT NULL", {"c11": AE}, set()),
    ("ALTER TABLE c12 ALTER COLUMN a SET DEFAULT 1", {"c12": AE}, set()),
    ("ALTER TABLE c13 DROP COLUMN a", {"c13": AE}, set()),
    ("ALTER TABLE c14 RENAME COLUMN a TO a2", {"c14": AE}, set()),
    ("ALTER TABLE c15 RENAME TO c15_renamed", {"c15_renamed": AE}, set()),
    ("ALTER TABLE c16 ADD CONSTRAINT c16_fk FOREIGN KEY (a) REFERENCES p16 (id)", {"c16": SRE, "p16": SRE}, set()),
    ("ALTER TABLE c17 ADD CONSTRAINT c17_fk FOREIGN KEY (a) REFERENCES p17 (id) NOT VALID",
     {"c17": SRE, "p17": SRE}, set()),
    ("ALTER TABLE c18 VALIDATE CONSTRAINT c18_fk", {"c18": SUE, "p18": RS}, set()),
    ("ALTER TABLE c19 ADD CONSTRAINT c19_ck CHECK (a > 0)", {"c19": AE}, set()),
    ("ALTER TABLE c20 ADD CONSTRAINT c20_ck CHECK (a > 0) NOT VALID", {"c20": AE}, set()),
    ("ALTER TABLE c21 VALIDATE CONSTRAINT c21_ck", {"c21": SUE}, set()),
    ("ALTER TABLE c22 ADD CONSTRAINT c22_uq UNIQUE (a)", {"c22": AE}, set()),
    ("ALTER TABLE c23 SET (fillfactor = 70)", {"c23": SUE}, set()),
    ("ALTER TABLE c24 ALTER COLUMN a SET STATISTICS 500", {"c24": SUE}, set()),
    ("CREATE INDEX ix25 ON c25 (a)", {"c25": S}, set()),
    ("CREATE UNIQUE INDEX ix26 ON c26 (a)", {"c26": S}, set()),
    ("DROP INDEX ix27", {"c27": AE}, set()),
    ("DROP TABLE c28", {"c28": AE}, set()),
    ("TRUNCATE c29", {"c29": AE}, {"c29"}),
    ("CREATE TRIGGER t30 BEFORE INSERT ON c30 FOR EACH ROW EXECUTE FUNCTION guard_noop()", {"c30": SRE}, set()),
    ("ALTER TABLE c31 DISABLE TRIGGER ALL", {"c31": SRE}, set()),
    ("ALTER TABLE c32 SET UNLOGGED", {"c32": AE}, {"c32"}),
    ("CLUSTER c33 USING c33_pkey", {"c33": AE}, {"c33"}),
    ("LOCK TABLE c34 IN SHARE MODE", {"c34": S}, set()),
    ("UPDATE c35 SET a = a + 1", {"c35": RE}, set()),
    ("ALTER TABLE c36 ADD COLUMN g int GENERATED ALWAYS AS (id * 2) STORED", {"c36": AE}, {"c36"}),
    ("ALTER TABLE c37 ADD COLUMN x int NOT NULL DEFAULT 0", {"c37": AE}, set()),
    ("ALTER TABLE c38 ALTER COLUMN a TYPE smallint", {"c38": AE}, {"c38"}),
    ("ALTER TABLE c39 ALTER COLUMN a SET DATA TYPE integer", {"c39": AE}, set()),  # the same type
]
CONCURRENT = "CREATE INDEX CONCURRENTLY ix40 ON c40 (a)"  # not rehearsed: SHARE UPDATE EXCLUSIVE, documented


def _setup(url: str) -> None:
    from sqlalchemy import text
    from support.databases import connect

    with connect(url) as connection, connection.begin():
        connection.execute(text("CREATE FUNCTION guard_noop() RETURNS trigger LANGUAGE plpgsql "
                                "AS $$ BEGIN RETURN NEW; END $$"))
        for number in range(1, 41):
            connection.execute(text(f"CREATE TABLE p{number} (id int PRIMARY KEY)"))
            connection.execute(text(f"INSERT INTO p{number} SELECT g FROM generate_series(1, 20) g"))
            connection.execute(text(f"CREATE TABLE c{number} (id int PRIMARY KEY, a int, b varchar(10), "
                                    "n numeric(10,2))"))
            connection.execute(text(f"INSERT INTO c{number} SELECT g, g, 'x', 1 FROM generate_series(1, 20) g"))
        connection.execute(text("ALTER TABLE c18 ADD CONSTRAINT c18_fk FOREIGN KEY (a) REFERENCES p18 (id) NOT VALID"))
        connection.execute(text("ALTER TABLE c21 ADD CONSTRAINT c21_ck CHECK (a > 0) NOT VALID"))
        connection.execute(text("CREATE INDEX ix27 ON c27 (a)"))


@pytest.mark.postgres
def test_dry_run_locks_agree_with_the_documentation(project: Path, postgres_url: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate").code == 0
    _setup(url)
    folder = project / "migrations" / "task"
    head = [r["version_num"] for r in query(url, "SELECT version_num FROM alembic_version")]
    down = next(v for v in head if (folder / "0005_merge_legacy_task_columns.py").read_text().count(v))
    first, second = new_id(), new_id()
    body = "\n".join(f"op.execute({statement!r})" for statement, _, _ in CORPUS)
    write_revision(folder, "0006_corpus", first, down, upgrade=body)
    write_revision(folder, "0007_concurrent", second, first, module="atomic = False\n", upgrade=f"""
with op.get_context().autocommit_block():
    op.execute({CONCURRENT!r})
""")
    result = cli(capsys, monkeypatch, project, url, "migrate", "--dry-run", "--locks", "--json")
    assert result.code == 1, result  # the rehearsal stops before the atomic = False revision
    report = json.loads(result.out)["locks"]
    by_statement = {item["statement"]: item for item in report}
    assert len(CORPUS) >= 30
    disagreements = []
    for statement, expected, rewritten in CORPUS:
        item = by_statement[statement]
        assert item["rehearsed"] is True
        for table, mode in expected.items():
            modes = [lock["mode"] for lock in item["locks"] if lock["relation"] == table and lock["kind"] == "table"]
            strongest = max(modes, key=MODES.index) if modes else None
            if strongest != mode:
                disagreements.append((statement, table, mode, strongest))
        if set(item["rewrites"]) != rewritten:
            disagreements.append((statement, "rewrite", sorted(rewritten), item["rewrites"]))
    assert disagreements == []
    flagged = [item["statement"] for item in report if item["flags"]]
    assert flagged == [s for s, _, rewritten in CORPUS if rewritten]  # the tables are small: only rewrites
    concurrent = by_statement[CONCURRENT]
    assert concurrent["rehearsed"] is False
    assert [(lock["relation"], lock["mode"]) for lock in concurrent["locks"]] == [("c40", SUE)]
    # everything was rolled back
    assert query(url, "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = 'c1' "
                      "AND column_name = 'x'") == [{"n": 0}]


@pytest.mark.postgres
def test_dry_run_locks_text_report_and_usage(project: Path, postgres_url: str,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, project, postgres_url, "migrate", "--locks").code == 2
    result = cli(capsys, monkeypatch, project, postgres_url, "migrate", "--dry-run", "--locks")
    assert result.code == 0, result
    assert "AccessExclusiveLock on table" in result.out and "task 0002_add_progress" in result.out


# --------------------------------------------------------------------------- lint knows what apply knows


def test_lint_reports_timeout_rules_only_where_memstack_sets_no_timeout(project: Path,
                                                                        capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from support.revisions import revision_id

    folder = project / "migrations" / "task"
    guarded = new_id()
    write_revision(folder, "0006_guarded", guarded, revision_id("task", "0005_merge_legacy_task_columns"),
                   upgrade="op.add_column('task_logs', sa.Column('x', sa.Integer()))")
    write_revision(folder, "0007_unguarded", new_id(), guarded, module="guard = {'ddl_lock_timeout': 0}\n",
                   upgrade="op.create_index('ix_x', 'task_logs', ['x'])")

    def rules(*env: tuple[str, str]) -> dict[str, set[str]]:
        for name, value in env:
            monkeypatch.setenv(name, value)
        result = cli(capsys, monkeypatch, project, None, "lintmigrations", "--json", "task")
        found: dict[str, set[str]] = {}
        for finding in json.loads(result.out)["findings"]:
            found.setdefault(finding["revision"], set()).add(finding["rule"])
            if finding["rule"] == "require-concurrent-index-creation" and finding["revision"] == "0007_unguarded":
                assert "autocommit_block()" in finding["message"] and "atomic = False" in finding["message"]
        return found

    found = rules()
    assert "require-lock-timeout" not in found.get("0006_guarded", set())
    assert "require-statement-timeout" not in found.get("0006_guarded", set())
    assert "require-lock-timeout" in found["0007_unguarded"]  # its guard turns the lock timeout off
    assert "require-statement-timeout" not in found["0007_unguarded"]
    off = rules(("MEMSTACK_DISABLE_GUARD", "1"))
    assert {"require-lock-timeout", "require-statement-timeout"} <= off["0006_guarded"]


@pytest.mark.mariadb
def test_mariadb_locks_probe_algorithms_on_empty_copies(project: Path, mariadb_url: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = mariadb_url
    assert cli(capsys, monkeypatch, project, url, "migrate").code == 0
    folder = project / "migrations" / "task"
    head = [r["version_num"] for r in query(url, "SELECT version_num FROM alembic_version")]
    down = next(v for v in head if (folder / "0005_merge_legacy_task_columns.py").read_text().count(v))
    write_revision(folder, "0006_alters", new_id(), down, upgrade="""
op.execute("ALTER TABLE task_logs ADD COLUMN probe_a INT NULL")
op.execute("ALTER TABLE task_logs ADD INDEX ix_probe_a (probe_a)")
op.execute("ALTER TABLE task_logs MODIFY probe_a BIGINT NULL")
op.execute("CREATE TABLE probe_new (id INT PRIMARY KEY)")
op.execute("ALTER TABLE probe_new ADD COLUMN x INT")
""")
    before = query(url, "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()")
    result = cli(capsys, monkeypatch, project, url, "migrate", "--dry-run", "--locks", "--json")
    assert result.code == 0, result
    report = {item["statement"]: item["algorithm"] for item in json.loads(result.out)["locks"]}
    assert report["ALTER TABLE task_logs ADD COLUMN probe_a INT NULL"] == "INSTANT"
    assert report["ALTER TABLE task_logs ADD INDEX ix_probe_a (probe_a)"] == "INPLACE, LOCK=NONE"
    assert report["ALTER TABLE task_logs MODIFY probe_a BIGINT NULL"] == "COPY"
    assert report["ALTER TABLE probe_new ADD COLUMN x INT"] == "new table"
    # nothing changed: no probe copy left, the revision not applied
    after = query(url, "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = DATABASE()")
    assert after == before

"""The habits Django users bring (issue 24, point 3): a data migration from ``makemigrations --empty``,
a failing revision's code named by file and line, ``--name``, ``showmigrations --plan``, the
unmigrated-changes warning of ``migrate`` and Alembic's post-write hooks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support.projects import MEMORY_LINKS_MODELS, REPO_ROOT, set_components
from support.revisions import revision_files, ruff_check
from support.running import Result, call, cli, manage, ok, subprocess_env

DATA_STEP = 'op.execute(sa.text("UPDATE memos SET id = id"))'


def _fill_upgrade(path: Path, body: str) -> None:
    """The author's edit of an empty revision: ``body`` in place of the upgrade's ``pass``."""
    text = path.read_text(encoding="utf-8")
    head, tail = text.split("def upgrade() -> None:", 1)
    _upgrade, rest = tail.split("\n\n\ndef downgrade", 1)
    path.write_text(f"{head}def upgrade() -> None:\n    {body}\n\n\ndef downgrade{rest}", encoding="utf-8")


# --------------------------------------------------------------------------- makemigrations --empty


def test_an_empty_revision_imports_op_and_sa_and_passes_ruff(project: Path) -> None:
    call(project, "sqlite://", "makemigrations", "memo", empty=True, message="backfill titles")
    path = revision_files(project, "memo")[-1]
    text = path.read_text(encoding="utf-8")
    assert "import sqlalchemy as sa" in text and "from alembic import op" in text
    assert ruff_check([path]).returncode == 0, ruff_check([path]).stdout


def test_a_data_migration_written_into_an_empty_revision_runs(project: Path, db_url: str) -> None:
    call(project, db_url, "migrate", yes=True)
    call(project, db_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, DATA_STEP)
    done = call(project, db_url, "migrate", yes=True)
    assert ("Applying", "memo", path.stem) in done.steps()


def test_a_missing_import_names_the_file_line_and_the_line_to_add(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    text = path.read_text(encoding="utf-8").replace("from alembic import op  # noqa: F401\n", "")
    path.write_text(text, encoding="utf-8")
    _fill_upgrade(path, DATA_STEP)
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if DATA_STEP in text)
    error, fix = [line for line in err.splitlines() if line.startswith(("error:", "  fix:"))]
    assert f"NameError: name 'op' is not defined (in {path}:{line})" in error
    assert f"add 'from alembic import op' at the top of {path}" in fix
    assert "Traceback" not in err and "unexpected" not in err


def test_any_other_failure_of_the_revision_code_names_file_and_line(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, "sa.no_such_function()")
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1
    assert f"AttributeError: module 'sqlalchemy' has no attribute 'no_such_function' (in {path}:" in err
    assert f"fix the code at {path}:" in err


def test_a_database_error_names_no_code_location(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, 'op.execute(sa.text("UPDATE no_such_table SET x = 1"))')
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1 and "no such table" in err
    assert f"(in {path}" not in err  # the data's fault, not the code's: the usual wording


# --------------------------------------------------------------------------- makemigrations --name


def test_name_names_the_file_as_djangos_does(project: Path) -> None:
    call(project, "sqlite://", "makemigrations", "memo", "--name", "backfill_titles", empty=True)
    path = revision_files(project, "memo")[-1]
    assert path.name == "0002_backfill_titles.py"
    assert path.read_text(encoding="utf-8").startswith('"""backfill titles\n')  # the message, unless -m says
    call(project, "sqlite://", "makemigrations", "memo", "-n", "Fix_2", empty=True, message="fix the titles again")
    newest = revision_files(project, "memo")[-1]
    assert newest.name == "0003_Fix_2.py" and '"""fix the titles again' in newest.read_text(encoding="utf-8")


@pytest.mark.parametrize("bad", ["add summary", "0002_x", "a-b", "é", "x" * 101, ""])
def test_a_name_that_is_no_identifier_is_refused_before_anything_is_written(
        project: Path, bad: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    before = revision_files(project, "memo")
    code, _, err = cli(capsys, monkeypatch, project, "sqlite://", "makemigrations", "memo", "--empty", "--name", bad)
    assert code == 2 and "--name" in err and "Python identifier" in err
    assert revision_files(project, "memo") == before


def test_name_names_a_merge_revision(project: Path) -> None:
    from support.revisions import new_id, write_revision

    first = revision_files(project, "memo")[0]
    head = first.read_text(encoding="utf-8").split("revision: str = '", 1)[1].split("'", 1)[0]
    write_revision(first.parent, "0002_left", new_id(), head)
    write_revision(first.parent, "0002_right", new_id(), head)
    call(project, "sqlite://", "makemigrations", "memo", "--name", "join_left_and_right", merge=True)
    assert revision_files(project, "memo")[-1].name == "0003_join_left_and_right.py"


# --------------------------------------------------------------------------- showmigrations --plan


def _plan(project: Path, url: str, *args: str) -> list[dict[str, object]]:
    import json

    return json.loads(call(project, url, "showmigrations", *args, plan=True, json=True).out)  # type: ignore[no-any-return]


def _migrate_plan(project: Path, url: str, *args: str) -> list[tuple[object, object]]:
    import json

    steps = json.loads(call(project, url, "migrate", *args, plan=True, json=True).out)
    return [(s["component"], s["name"]) for s in steps]


def test_the_plan_is_the_order_migrate_applies_applied_first(project: Path, db_url: str) -> None:
    everything = _plan(project, db_url)
    assert not any(row["applied"] for row in everything)
    assert [(r["component"], r["name"]) for r in everything] == _migrate_plan(project, db_url)
    position = {row["revision"]: n for n, row in enumerate(everything)}
    for row in everything:  # every revision after what it needs
        for parent in [*row["down_revisions"], *row["depends_on"]]:  # type: ignore[misc]
            assert position[parent] < position[row["revision"]]

    call(project, db_url, "migrate", "memo", yes=True)  # memo and what it needs elsewhere
    after = _plan(project, db_url)
    applied = [row for row in after if row["applied"]]
    pending = [(r["component"], r["name"]) for r in after if not r["applied"]]
    assert after[: len(applied)] == applied and {r["component"] for r in applied} >= {"memo", "auth"}
    assert pending == _migrate_plan(project, db_url) and pending
    assert sorted(r["revision"] for r in after) == sorted(r["revision"] for r in everything)


def test_the_plan_of_named_components_holds_what_they_need(project: Path, sqlite_url: str) -> None:
    shown = {(r["component"], r["name"]) for r in _plan(project, sqlite_url, "memo")}
    assert ("memo", "0001_initial") in shown and ("auth", "0001_initial") in shown
    assert not any(component == "task" for component, _ in shown)
    assert [(c, n) for c, n in _migrate_plan(project, sqlite_url, "memo")] == [
        (r["component"], r["name"]) for r in _plan(project, sqlite_url, "memo")]


def test_the_plan_in_text_marks_applied_and_shows_dependencies_at_v2(project: Path, sqlite_url: str) -> None:
    call(project, sqlite_url, "migrate", "auth", yes=True)
    plain = call(project, sqlite_url, "showmigrations", plan=True).out.splitlines()
    assert plain[0] == "[X]  auth 0001_initial" and "[ ]  memo 0001_initial" in plain
    verbose = call(project, sqlite_url, "showmigrations", plan=True, verbosity=2).out.splitlines()
    assert "[X]  auth 0001_initial ... (start of the branch)" in verbose
    assert "[ ]  memo 0001_initial ... (auth 0001_initial)" in verbose


def test_plan_and_graph_are_not_asked_together(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli(capsys, monkeypatch, project, "sqlite://", "showmigrations", "--plan", "--graph")
    assert code == 2 and "choose one" in err


# --------------------------------------------------------------------------- migrate: unmigrated model changes


def _uncovered_component(project: Path, make_component: Callable[..., str]) -> str:
    """A component whose models have no revision yet; returns its label."""
    package = make_component({"models.py": MEMORY_LINKS_MODELS}, prefix="links")
    set_components(project, package)
    return package


def run_python(code: str, cwd: Path, pythonpath: list[Path]) -> Result:
    """``python -c CODE`` with memstack's environment as the test set it."""
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=subprocess_env(None, pythonpath),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
    return Result(done.returncode, done.stdout, done.stderr)


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def test_migrate_warns_once_per_change_and_compares_once_per_change(
        project: Path, sqlite_url: str, tmp_path: Path, make_component: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "1")
    label = _uncovered_component(project, make_component)
    packages = [tmp_path / "packages"]

    def migrate_v2() -> tuple[list[str], str]:
        code, _, err = ok(manage(project, sqlite_url, "migrate", "-v", "2", pythonpath=packages))
        assert code == 0
        compared = "compared now" if "models compared with the revisions: compared now" in err else "kept"
        return _warnings(err), compared

    warned, how = migrate_v2()
    assert how == "compared now" and len(warned) == 1
    assert f"your models in {label} have changes that are not yet reflected in a revision" in warned[0]
    assert f"run 'manage.py makemigrations {label}', then 'manage.py migrate'" in warned[0]
    assert migrate_v2() == (warned, "kept")  # nothing changed: the kept answer, no comparison

    ok(manage(project, sqlite_url, "makemigrations", pythonpath=packages))
    assert migrate_v2() == ([], "compared now")  # the tree changed
    assert migrate_v2() == ([], "kept")

    models = tmp_path / "packages" / label / "models.py"
    models.write_text(models.read_text(encoding="utf-8") + LINK_TAG, encoding="utf-8")
    warned, how = migrate_v2()  # the models' source changed
    assert how == "compared now" and len(warned) == 1 and label in warned[0]


LINK_TAG = "    tag: Mapped[str | None] = mapped_column(String(20), nullable=True)\n"


@pytest.mark.postgres
def test_switching_between_sqlite_and_a_server_compares_once_on_each(
        project: Path, sqlite_url: str, postgres_url: str, tmp_path: Path, make_component: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "1")
    label = _uncovered_component(project, make_component)

    def compared(url: str) -> bool:
        code, _, err = ok(manage(project, url, "migrate", "-v", "2", pythonpath=[tmp_path / "packages"]))
        assert code == 0 and [label in line for line in _warnings(err)] == [True]
        return "models compared with the revisions: compared now" in err

    assert [compared(sqlite_url), compared(postgres_url)] == [True, True]  # each dialect's answer of its own
    assert [compared(sqlite_url), compared(postgres_url), compared(sqlite_url)] == [False, False, False]


def test_migrate_warns_on_every_backend(project: Path, db_url: str, make_component: Callable[..., str],
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "1")
    label = _uncovered_component(project, make_component)
    code, out, err = cli(capsys, monkeypatch, project, db_url, "migrate", "--json")
    assert code == 0 and out.strip().startswith("[")  # the warning is chatter: stdout stays JSON
    assert [label in line for line in _warnings(err)] == [True]
    call(project, db_url, "makemigrations", label)
    code, _, err = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert code == 0 and _warnings(err) == []
    code, _, err = cli(capsys, monkeypatch, project, db_url, "migrate")  # the no-op path: the kept answer
    assert code == 0 and "No migrations to apply." in err and _warnings(err) == []


@pytest.mark.parametrize("quiet", [("-v", "0"), ("MEMSTACK_MODEL_CHECK", "0"), ("MEMSTACK_MODEL_CHECK", "off")])
def test_no_comparison_at_v0_or_when_turned_off(
        project: Path, sqlite_url: str, make_component: Callable[..., str], quiet: tuple[str, str],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "1")
    _uncovered_component(project, make_component)
    args: tuple[str, ...] = ()
    if quiet[0] == "-v":
        args = quiet
    else:
        monkeypatch.setenv(*quiet)
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, *args, "migrate")
    assert code == 0 and _warnings(err) == []
    assert not (project / ".memstack-cache" / "model-changes.json").exists()


def test_a_bad_model_check_setting_is_refused(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "sometimes")
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1 and "MEMSTACK_MODEL_CHECK must be 1 or 0" in err and "unexpected" not in err


def test_migrate_names_its_database_masked_at_v1(
        project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    with_password = make_url(postgres_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    code, _, err = cli(capsys, monkeypatch, project, with_password, "migrate")
    assert code == 0 and "s3cret-pw" not in err
    database = make_url(postgres_url).database
    assert err.splitlines()[0] == f"Database: postgresql+psycopg://postgres:***@{make_url(postgres_url).host}" \
        f"{':' + str(make_url(postgres_url).port) if make_url(postgres_url).port else ''}/{database}"
    code, _, err = cli(capsys, monkeypatch, project, with_password, "-v", "0", "migrate")
    assert code == 0 and "Database:" not in err


def test_the_start_up_call_never_compares(project: Path, sqlite_url: str, tmp_path: Path,
                                          make_component: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "1")
    _uncovered_component(project, make_component)
    code = ("import sys, memstack\n"
            f"memstack.migrate_on_startup({sqlite_url!r}, project_dir={str(project)!r})\n"
            "print(sorted(m for m in sys.modules if m.endswith(('model_changes', 'autodetect'))))")
    done = ok(run_python(code, project, [tmp_path / "packages", REPO_ROOT]))
    assert done.out.strip().splitlines()[-1] == "[]"
    assert not (project / ".memstack-cache" / "model-changes.json").exists()


# --------------------------------------------------------------------------- Alembic's post_write_hooks

RUFF = Path(sys.executable).parent / "ruff"

PYPROJECT_HOOK = f'''
[[tool.alembic.post_write_hooks]]
name = "ruff"
type = "exec"
executable = "{RUFF}"
options = "format --no-cache REVISION_SCRIPT_FILENAME"
'''

INI_HOOK = f"""[alembic]
script_location = migrations

[post_write_hooks]
hooks = ruff
ruff.type = exec
ruff.executable = {RUFF}
ruff.options = format --no-cache REVISION_SCRIPT_FILENAME
"""


def _formatted(path: Path) -> bool:
    """ruff format's mark on a memstack revision: its ids in double quotes (memstack writes single ones)."""
    text = path.read_text(encoding="utf-8")
    return 'revision: str = "' in text and "revision: str = '" not in text


def test_a_pyproject_hook_formats_every_revision_makemigrations_writes(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(PYPROJECT_HOOK)
    before = set(revision_files(project, "memo"))
    code, out, _ = cli(capsys, monkeypatch, project, "sqlite://", "makemigrations", "memo", "--empty", "--json")
    assert code == 0 and out.lstrip().startswith("[")  # the hook's chatter is on stderr
    import json

    assert len(json.loads(out)) == 1
    written = [p for p in revision_files(project, "memo") if p not in before]
    assert len(written) == 1 and _formatted(written[0])
    assert not _formatted(sorted(before)[0])  # only what memstack wrote
    assert "post_write_hooks" in (project / "pyproject.toml").read_text(encoding="utf-8")  # kept by the sync


def test_an_alembic_ini_hook_formats_merge_revisions(project: Path) -> None:
    from support.revisions import new_id, write_revision

    (project / "alembic.ini").write_text(INI_HOOK, encoding="utf-8")
    first = revision_files(project, "memo")[0]
    head = first.read_text(encoding="utf-8").split("revision: str = '", 1)[1].split("'", 1)[0]
    write_revision(first.parent, "0002_left", new_id(), head)
    write_revision(first.parent, "0002_right", new_id(), head)
    call(project, "sqlite://", "makemigrations", "memo", merge=True)
    merge = revision_files(project, "memo")[-1]
    assert merge.name == "0003_merge.py" and _formatted(merge)


def test_a_console_scripts_hook_runs_through_alembic(project: Path, tmp_path: Path) -> None:
    """Alembic's ``console_scripts`` type: an installed entry point, found by its metadata."""
    site = tmp_path / "site"
    (site / "stampfmt").mkdir(parents=True)
    (site / "stampfmt" / "__init__.py").write_text(
        "import sys\n\ndef main() -> None:\n    path = sys.argv[1]\n"
        "    text = open(path, encoding='utf-8').read()\n"
        "    open(path, 'w', encoding='utf-8').write('# stamped\\n' + text)\n", encoding="utf-8")
    (site / "stampfmt-1.0.dist-info").mkdir()
    (site / "stampfmt-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: stampfmt\nVersion: 1.0\n",
                                                               encoding="utf-8")
    (site / "stampfmt-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\nstampfmt = stampfmt:main\n",
                                                                       encoding="utf-8")
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[[tool.alembic.post_write_hooks]]\nname = "stamp"\ntype = "console_scripts"\n'
                     'entrypoint = "stampfmt"\n')
    done = ok(manage(project, "sqlite://", "makemigrations", "memo", "--empty", pythonpath=[site]))
    assert "Running post write hook 'stamp'" in done.err and "Running post write hook" not in done.out
    assert revision_files(project, "memo")[-1].read_text(encoding="utf-8").startswith("# stamped\n")


def test_a_failing_hook_names_the_file_and_the_fix(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(PYPROJECT_HOOK.replace(str(RUFF), "/no/such/formatter"))
    code, _, err = cli(capsys, monkeypatch, project, "sqlite://", "makemigrations", "memo", "--empty")
    written = revision_files(project, "memo")[-1]
    assert code == 1 and "Traceback" not in err and "unexpected" not in err
    error, fix = [line for line in err.splitlines() if line.startswith(("error:", "  fix:"))]
    assert f"post-write hook failed on {written}" in error and "/no/such/formatter" in error
    assert "post_write_hooks" in fix and written.is_file()


def test_takeover_runs_the_hooks_on_the_revisions_it_writes(project: Path, sqlite_url: str, tmp_path: Path) -> None:
    from support.foreign import write_foreign_project

    write_foreign_project(tmp_path / "billing", sqlite_url, count=3)
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(PYPROJECT_HOOK)
    ok(manage(project, sqlite_url, "takeover", str(tmp_path / "billing"), "--component", "billing",
              "--package", "billing_app", pythonpath=[project]))
    taken = [p.read_text(encoding="utf-8") for p in revision_files(project, "billing")]
    assert len(taken) == 3
    assert all('revision = "' in text and "revision = '" not in text for text in taken)


def test_a_comparison_that_cannot_be_made_leaves_migrate_alone(
        project: Path, sqlite_url: str, make_component: Callable[..., str],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A scratch database that is not empty (here: the database itself) makes no comparison: exit 0, no
    warning; -v 2 says why; the reason is kept like an answer, and a new scratch URL asks again."""
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "1")
    call(project, sqlite_url, "migrate", yes=True)
    label = _uncovered_component(project, make_component)
    monkeypatch.setenv("MEMSTACK_SCRATCH_URL", sqlite_url)
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate", "-v", "2")
    assert code == 0 and _warnings(err) == []
    assert "models not compared with the revisions: the scratch database" in err and "is not empty" in err
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate", "-v", "2")
    assert code == 0 and "is not empty" in err and "(the answer kept)" in err
    monkeypatch.delenv("MEMSTACK_SCRATCH_URL")
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 0 and [label in line for line in _warnings(err)] == [True]


def test_model_check_follows_the_settings_chain(tmp_path: Path) -> None:
    from support.projects import write_pyproject

    from memstack.core.errors import ConfigurationError
    from memstack.core.settings import load_settings

    root = tmp_path / "chain"
    write_pyproject(root)
    assert load_settings(project_dir=root, environ={}).model_check is True
    write_pyproject(root, extra="model_check = false")
    settings = load_settings(project_dir=root, environ={})
    assert settings.model_check is False and settings.sources["model_check"] == "[tool.memstack] model_check"
    (root / ".env").write_text("MEMSTACK_MODEL_CHECK=yes\n", encoding="utf-8")
    assert load_settings(project_dir=root, environ={}).model_check is True  # .env over pyproject
    assert load_settings(project_dir=root, environ={"MEMSTACK_MODEL_CHECK": "OFF"}).model_check is False
    write_pyproject(root, extra='model_check = "no"')
    (root / ".env").unlink()
    with pytest.raises(ConfigurationError, match="model_check must be true or false"):
        load_settings(project_dir=root, environ={})

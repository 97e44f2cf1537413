"""No password in any output, error, traceback, history row, JSON or SQL script.

The password holds a raw ``/``, ``#``, ``?`` and ``@`` and is made of distinctive pieces, so a
leak of any piece (what a parser cut at one of those characters would show) is caught.
PostgreSQL here trusts every local connection, so a URL carrying the password connects and
whole runs can be checked; MariaDB's root has no password, so there it is a wrong one.
Everything runs through the real ``manage.py`` in a subprocess, ``-v 3`` and ``--traceback``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy.engine import make_url
from support.databases import query, temporary_database
from support.projects import MANAGE_PY
from support.running import Result, subprocess_env

import memstack
from memstack.core.errors import MemstackError
from memstack.core.settings import mask_url, normalize_url, redact

PIECES = ("Kq7vPW", "Jx4mPW", "Zr8nPW", "Lt2bPW", "Hs5cPW")
PASSWORD = "Kq7vPW/Jx4mPW#Zr8nPW?Lt2bPW@Hs5cPW"


def leaks(text: str) -> list[str]:
    """The pieces of the password (raw or percent-encoded) found in ``text``."""
    found = [piece for piece in PIECES if piece in text]
    return found + ([quote(PASSWORD, safe="")] if quote(PASSWORD, safe="") in text else [])


def with_password(url: str, password: str = PASSWORD) -> str:
    """``url`` with ``password`` written raw into it, as a person would type it."""
    u = make_url(url)
    return f"{u.drivername}://{u.username}:{password}@{u.host}:{u.port}/{u.database}"


def manage(project: Path, *args: str, **env: str) -> Result:
    proc = subprocess.run([sys.executable, str(MANAGE_PY), "--project-dir", str(project), *args], cwd=project,
                          env=subprocess_env(None, **env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=180, check=False)
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert not leaks(proc.stdout + proc.stderr), f"password leaked by {args}: {result!r}"
    return result


# --------------------------------------------------------------------------- pure


@pytest.mark.parametrize("password", ["plain-secret", "a/b#c?d@e", "p@ss", "50%off", "Kq7v PW"])
def test_mask_and_normalize_keep_the_password_whole(password: str, tmp_path: Path) -> None:
    url = f"postgresql://alice:{password}@db.example:5432/memstack?sslmode=require"
    assert mask_url(url) == "postgresql://alice:***@db.example:5432/memstack?sslmode=require"
    normalized = normalize_url(url, tmp_path)
    parsed = make_url(normalized)
    assert (parsed.password, parsed.host, parsed.port, parsed.database) == (password, "db.example", 5432, "memstack")
    assert mask_url(normalized) == "postgresql+psycopg://alice:***@db.example:5432/memstack?sslmode=require"


def test_mask_without_scheme_and_in_free_text(tmp_path: Path) -> None:
    assert mask_url(f"alice:{PASSWORD}@db/memstack") == "alice:***@db/memstack"
    with pytest.raises(MemstackError) as excinfo:
        normalize_url(f"alice:{PASSWORD}@db/memstack", tmp_path)
    assert not leaks(str(excinfo.value)) and "no scheme" in str(excinfo.value)
    # once seen, the password is scrubbed from any text, e.g. a driver's error or a traceback
    assert not leaks(redact(f"FATAL: something echoed {PASSWORD} and {PIECES[2]}?Lt2bPW@Hs5cPW"))
    assert redact("see mysql://root:hunter22@h/x for details") == "see mysql://root:***@h/x for details"


def test_legacy_postgres_password_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from memstack.core.settings import legacy_postgres_url

    url = legacy_postgres_url({"POSTGRES_HOST": "db", "POSTGRES_PASSWORD": PASSWORD})
    assert url is not None and not leaks(mask_url(url))
    assert make_url(normalize_url(url, tmp_path)).password == PASSWORD


# --------------------------------------------------------------------------- whole runs


@pytest.mark.postgres
def test_no_password_in_any_command_output_on_postgresql(project: Path, tmp_path: Path) -> None:
    with temporary_database("postgres") as plain:
        url = with_password(plain)
        base = ("--database-url", url)
        assert manage(project, *base, "migrate", "--plan", "-v", "3").code == 0
        sql = manage(project, *base, "migrate", "--sql", "-v", "3")
        assert sql.code == 0 and "-- memstack plan for postgresql+psycopg://postgres:***@" in sql.out
        assert manage(project, *base, "migrate", "memo", "-v", "3", "--traceback").code == 0
        assert manage(project, *base, "migrate", "--json", "-v", "2").code == 0
        for args in (("showmigrations", "--json"), ("showmigrations", "-v", "3"), ("history", "--json"),
                     ("history", "-v", "3"), ("doctor",), ("doctor", "--json"), ("check", "--database"),
                     ("sqlmigrate", "memo", "0001"), ("components", "--json")):
            manage(project, *base, *args)
        # the legacy variables, with the database named in POSTGRES_DB
        parsed = make_url(plain)
        legacy = {"POSTGRES_HOST": str(parsed.host), "POSTGRES_PORT": str(parsed.port),
                  "POSTGRES_DB": str(parsed.database), "POSTGRES_USER": str(parsed.username),
                  "POSTGRES_PASSWORD": PASSWORD}
        assert manage(project, "showmigrations", "-v", "3", **legacy).code == 0
        assert manage(project, "doctor", "--json", **legacy).code in (0, 1)
        assert manage(project, "migrate", "-v", "3", **legacy).code == 0
        # nothing in the bookkeeping rows either
        rows = json.dumps(query(plain, "SELECT * FROM memstack_history"), default=str)
        assert rows != "[]" and not leaks(rows)
        result = memstack.migrate_on_startup(url, project_dir=project, verify_only=True)
        assert not leaks(result.database_url) and "***" in result.database_url


@pytest.mark.postgres
@pytest.mark.mariadb
def test_no_password_in_failures(project: Path) -> None:
    """Wrong password, refused connection, unknown scheme, no scheme: each error masks it, also with
    --traceback and -v 3."""
    with temporary_database("mariadb") as plain:
        wrong = with_password(plain)
        for extra in ((), ("--traceback",), ("-v", "3", "--traceback")):
            failed = manage(project, "--database-url", wrong, "migrate", *extra)
            assert failed.code == 1
            failed = manage(project, "--database-url", wrong, "doctor", *extra)
            assert failed.code == 1
    refused = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/memstack"
    for args in (("showmigrations", "--traceback", "-v", "3"), ("migrate", "--sql", "--traceback"),
                 ("history", "--json")):
        assert manage(project, "--database-url", refused, *args).code == 1
    for bad in (f"postgresx://postgres:{PASSWORD}@127.0.0.1/memstack", f"postgres:{PASSWORD}@127.0.0.1/memstack"):
        result = manage(project, "--database-url", bad, "migrate")
        assert result.code == 1 and "Traceback" not in result.err
        assert result.err.count("\n") <= 2, result.err
        assert manage(project, "--database-url", bad, "migrate", "--traceback").code == 1
        assert manage(project, "--database-url", bad, "doctor").code == 1


def test_startup_error_masks_the_password(project: Path) -> None:
    with pytest.raises(MemstackError) as excinfo:
        memstack.migrate_on_startup(f"postgresql://u:{PASSWORD}@127.0.0.1:1/memstack", project_dir=project)
    assert not leaks(str(excinfo.value))

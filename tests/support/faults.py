"""Real faults for tests: a TCP proxy that can go silent, a private PostgreSQL cluster to kill,
a reader that holds a table, a server that accepts and never answers.

No mocks: everything here is a real socket, process or session.

* :class:`TcpProxy` -- ``with TcpProxy("127.0.0.1", 5432) as proxy:`` then connect to
  ``proxy.port``; ``proxy.silence()`` stops moving bytes both ways while keeping every socket
  open (the peers see silence, not a reset; their kernels still ACK), ``proxy.resume()``
  moves them again, ``proxy.close()`` ends it all.
* :func:`silent_server` -- a listening socket that accepts connections and never says a word.
* :func:`private_postgres` -- ``initdb`` + ``postgres`` in a temporary folder on a free port,
  as the ``postgres`` OS user when run as root; yields a :class:`PrivateServer` (``url``,
  ``pid``, ``kill9()``); always stopped afterwards. Never touches the machine's own servers.
  Skips (with the reason) only when ``initdb`` cannot be found.
* :func:`reader_holding` -- a session holding ACCESS SHARE on a table in an open
  transaction until the block ends (or ``.release()``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

# --------------------------------------------------------------------------- TCP proxy


class TcpProxy:
    """A threaded TCP proxy on 127.0.0.1 (ephemeral port) forwarding to ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.host, self.port = self._listener.getsockname()[:2]
        self._silent = threading.Event()
        self._closed = threading.Event()
        self._guard = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.connections = 0  # accepted so far
        self._start(self._accept_loop)

    # -- public
    def url_for(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        return make_url(url).set(host=self.host, port=self.port).render_as_string(hide_password=False)

    def silence(self) -> None:
        """Stop reading and writing on every connection, existing and new; keep every socket open."""
        self._silent.set()

    def resume(self) -> None:
        self._silent.clear()

    @property
    def silent(self) -> bool:
        return self._silent.is_set()

    def close(self) -> None:
        self._closed.set()
        with self._guard:
            sockets, self._sockets = self._sockets, []
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- threads
    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="test-tcp-proxy")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with self._guard:
                self._sockets.append(client)
            self._start(self._connect_and_pump, client)

    def _connect_and_pump(self, client: socket.socket) -> None:
        while self._silent.is_set() and not self._closed.is_set():  # accepted, and then nothing
            time.sleep(0.05)
        try:
            upstream = socket.create_connection(self.target, timeout=10)
        except OSError:
            with contextlib.suppress(OSError):
                client.close()
            return
        with self._guard:
            self._sockets.append(upstream)
        self._pump(client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self._closed.is_set():
            if self._silent.is_set():
                time.sleep(0.05)  # neither read nor write: the bytes wait in the kernels' buffers
                continue
            try:
                readable, _, _ = select.select([a, b], [], [], 0.05)
            except (OSError, ValueError):
                return
            for sock in readable:
                if self._silent.is_set():
                    break
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:  # one side closed: close both, as a proxy does
                    for s in (a, b):
                        with contextlib.suppress(OSError):
                            s.close()
                    return
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return


# --------------------------------------------------------------------------- a server that never answers


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[str, int]]:
    """(host, port) of a listening socket whose connections are accepted and never answered."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    accepted: list[socket.socket] = []
    stop = threading.Event()
    listener.settimeout(0.1)

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True, name="test-silent-server")
    thread.start()
    try:
        yield "127.0.0.1", listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        for sock in [listener, *accepted]:
            with contextlib.suppress(OSError):
                sock.close()


# --------------------------------------------------------------------------- a private PostgreSQL


def postgres_bin() -> Path | None:
    """The folder of the newest installed PostgreSQL server's programs (``initdb``, ``postgres``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateServer:
    """A PostgreSQL cluster of the test's own."""

    url: str  # postgresql+psycopg://postgres@127.0.0.1:<port>/postgres
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill9(self) -> None:
        """SIGKILL the postmaster, as a crash would; its backends notice and exit (or are killed after 5 s)."""
        children = _children(self.process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        _reap(children)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


def _postgres_user() -> dict[str, Any]:
    """Popen arguments running a program as ``postgres`` when we are root (PostgreSQL refuses root).

    Python switches user in the child itself (no ``runuser`` in between), so the Popen's pid is
    the postmaster's.
    """
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no 'postgres' OS user to run a private PostgreSQL as")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _give_to(path: Path, owner: dict[str, Any]) -> None:
    """Make ``path`` (and what is in it) the postgres user's, and its parents traversable."""
    if not owner:
        return
    for folder in path.parents:  # pytest's base folder is 0700: the postgres user needs to pass through
        if folder in (Path("/"), Path("/tmp"), Path("/var/tmp")):
            break
        os.chmod(folder, os.stat(folder).st_mode | 0o011)
    for root, dirs, files in os.walk(path):
        os.chown(root, owner["user"], owner["group"])
        for name in files:
            os.chown(os.path.join(root, name), owner["user"], owner["group"])
        del dirs  # (os.walk visits them as roots)


@contextlib.contextmanager
def private_postgres(tmp_path: Path, *, settings: dict[str, str] | None = None) -> Iterator[PrivateServer]:
    """A fresh PostgreSQL cluster on 127.0.0.1 and a free port, trust auth, fsync off; always stopped."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server programs (initdb) installed: apt-get install postgresql")
    owner = _postgres_user()
    root = tmp_path / "private-pg"
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    _give_to(root, owner)
    environment = {**os.environ, "LC_ALL": "C"}
    init = subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                           "--no-sync", "-E", "UTF8", "--locale=C"], cwd=root, env=environment,
                          capture_output=True, text=True, timeout=120, check=False, **owner)
    if init.returncode != 0:
        raise AssertionError(f"initdb failed ({init.returncode}):\n{init.stdout}\n{init.stderr}")
    port = free_port()
    log = root / "postgres.log"
    options = {"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off",
               "full_page_writes": "off", "shared_buffers": "16MB", "max_connections": "40", **(settings or {})}
    argv = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sockets)]
    for name, value in options.items():
        argv += ["-c", f"{name}={value}"]
    with open(log, "wb") as log_handle:
        process = subprocess.Popen(argv, cwd=root, env=environment, stdout=log_handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, **owner)
    server = PrivateServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", port, data, process, log)
    try:
        _wait_until_accepting(server)
        yield server
    finally:
        if server.alive():
            children = _children(process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGQUIT)  # immediate shutdown
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill9()
            _reap(children)


def _wait_until_accepting(server: PrivateServer, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not server.alive():
            raise AssertionError(f"the private PostgreSQL exited ({server.process.returncode}):\n{server.log_text()}")
        try:
            engine = create_engine(server.url, poolclass=NullPool, connect_args={"connect_timeout": 2})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise AssertionError(f"the private PostgreSQL did not start:\n{server.log_text()}") from None
            time.sleep(0.1)


def _children(pid: int) -> list[int]:
    """The postmaster's children (its backends and helpers), from /proc."""
    found: list[int] = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in Path(task).read_text().split()]
    return found


def _reap(pids: list[int], grace: float = 5) -> None:
    """Wait for ``pids`` to exit by themselves, then SIGKILL what is left."""
    deadline = time.monotonic() + grace
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            still_postgres = Path(f"/proc/{pid}/comm").read_text().strip().startswith("postgres")
        except OSError:
            continue  # gone
        if still_postgres:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- a reader holding a table


class HeldReader:
    """A session in an open transaction holding ACCESS SHARE on a table."""

    def __init__(self, connection: Connection, pid: int | None) -> None:
        self.connection = connection
        self.pid = pid  # the server's backend pid / connection id (None on SQLite)
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            with contextlib.suppress(Exception):
                self.connection.rollback()
            with contextlib.suppress(Exception):
                self.connection.close()


@contextlib.contextmanager
def reader_holding(url: str, table: str) -> Iterator[HeldReader]:
    """A session holding ACCESS SHARE on ``table`` (``SELECT`` in an open transaction) until released.

    PostgreSQL: ``LOCK TABLE ... IN ACCESS SHARE MODE``; MariaDB: a ``SELECT`` in a transaction
    (a metadata lock, which blocks DDL on the table the same way); SQLite: a read transaction.
    """
    engine = create_engine(url, poolclass=NullPool)
    connection = engine.connect()
    backend = engine.dialect.name
    quoted = engine.dialect.identifier_preparer.quote(table)
    try:
        if backend == "sqlite":  # pysqlite begins nothing for a SELECT: begin by hand, keep the SHARED lock
            connection.connection.driver_connection.isolation_level = None  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN")
            connection.exec_driver_sql(f"SELECT count(*) FROM {quoted}").all()
            pid = None
        else:
            if backend == "postgresql":
                connection.exec_driver_sql(f"LOCK TABLE {quoted} IN ACCESS SHARE MODE")
                pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            else:
                connection.exec_driver_sql(f"SELECT count(*) FROM {quoted}").all()
                pid = connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        reader = HeldReader(connection, int(pid) if pid is not None else None)
        yield reader
    finally:
        with contextlib.suppress(Exception):
            connection.rollback()
        with contextlib.suppress(Exception):
            connection.close()
        engine.dispose()


def postgres_locks_on(admin_url: str, table: str, database: str | None = None) -> list[tuple[int, str, str]]:
    """(pid, mode, state) of every session holding a lock on ``table`` (read from a direct connection)."""
    engine = create_engine(admin_url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT l.pid, l.mode, coalesce(a.state, '') FROM pg_locks l "
                "JOIN pg_class c ON c.oid = l.relation "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE c.relname = :t AND l.granted AND l.pid <> pg_backend_pid()"
                + (" AND l.database = (SELECT oid FROM pg_database WHERE datname = :d)" if database else "")),
                {"t": table, "d": database}).all()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
    finally:
        engine.dispose()

"""The fault harness itself (tests/support/faults.py): each fault is real and behaves as described."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from support.faults import TcpProxy, postgres_locks_on, private_postgres, reader_holding, silent_server


def _echo_server() -> tuple[socket.socket, int]:
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return

            def echo(c: socket.socket = conn) -> None:
                with c:
                    while data := c.recv(4096):
                        c.sendall(data)

            threading.Thread(target=echo, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def test_proxy_forwards_goes_silent_without_a_reset_and_resumes() -> None:
    listener, port = _echo_server()
    with listener, TcpProxy("127.0.0.1", port) as proxy, socket.create_connection(("127.0.0.1", proxy.port)) as c:
        c.settimeout(2)
        c.sendall(b"hello")
        assert c.recv(100) == b"hello"
        proxy.silence()
        time.sleep(0.1)
        c.sendall(b"lost?")  # accepted by the kernel: no reset, no error
        c.settimeout(0.5)
        with pytest.raises(TimeoutError):
            c.recv(100)  # silence, not end of stream
        proxy.resume()
        c.settimeout(2)
        assert c.recv(100) == b"lost?"  # nothing was dropped, only held
    assert proxy.connections == 1


def test_proxy_close_ends_connections() -> None:
    listener, port = _echo_server()
    with listener:
        proxy = TcpProxy("127.0.0.1", port)
        c = socket.create_connection(("127.0.0.1", proxy.port))
        c.sendall(b"x")
        c.settimeout(2)
        assert c.recv(10) == b"x"
        proxy.close()
        assert c.recv(10) == b""
        c.close()


def test_silent_server_accepts_and_never_answers() -> None:
    with silent_server() as (host, port), socket.create_connection((host, port), timeout=2) as c:
        c.settimeout(0.3)
        c.sendall(b"anyone?")
        with pytest.raises(TimeoutError):
            c.recv(10)


def test_private_postgres_starts_answers_and_dies_on_kill9(tmp_path: Path) -> None:
    with private_postgres(tmp_path) as server:
        engine = create_engine(server.url, poolclass=NullPool)
        with engine.connect() as connection:
            assert connection.execute(text("SHOW fsync")).scalar() == "off"
            assert connection.execute(text("SELECT inet_server_port()")).scalar() == server.port
        server.kill9()
        assert not server.alive()
        with pytest.raises(OperationalError), engine.connect():
            pass
        engine.dispose()


@pytest.mark.postgres
def test_reader_holding_holds_access_share(postgres_url: str) -> None:
    engine = create_engine(postgres_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE held (id int)"))
    database = engine.url.database
    with reader_holding(postgres_url, "held") as reader:
        held = postgres_locks_on(postgres_url, "held", database)
        assert (reader.pid, "AccessShareLock", "idle in transaction") in held
        reader.release()
        assert postgres_locks_on(postgres_url, "held", database) == []
    engine.dispose()


def test_reader_holding_on_sqlite_blocks_a_writer_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE held (id int)"))
        connection.execute(text("INSERT INTO held VALUES (1)"))
    with reader_holding(url, "held"):
        import sqlite3

        other = sqlite3.connect(tmp_path / "r.db", timeout=0.1, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError):  # a reader keeps an exclusive lock from being taken
            other.execute("BEGIN EXCLUSIVE")
        other.close()
    engine.dispose()

"""Count round trips and statements of `migrate` and `alembic upgrade heads` from empty on PostgreSQL.

    .venv/bin/python bench/roundtrips.py                 # 200 revisions, 20 components
    .venv/bin/python bench/roundtrips.py 1000 50 --log /tmp/statements.txt

Both tools connect through a TCP proxy in this process that reads PostgreSQL's frontend
protocol: a *round trip* is each time a client sends after the server has answered (whatever
it pipelines in between counts once), and the statements are the simple queries (``Q``) and the
extended protocol's ``Parse`` and ``Execute`` messages. Every connection of the process counts
(the lock session, the heartbeat, the steps). Nothing here is timed; see ``run.py`` for time.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree import write_projects

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = ("127.0.0.1", 5432)


class Proxy:
    """Forwards every connection to PostgreSQL and counts what the clients send."""
    def __init__(self, log: Path | None) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.log = log.open("w") if log else None
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> Counter[str]:
        with self.lock:
            counts, self.counts = self.counts, Counter()
        return counts

    def _accept(self) -> None:
        while True:
            client, _ = self.server.accept()
            upstream = socket.create_connection(UPSTREAM)
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, "client")
        selector.register(upstream, selectors.EVENT_READ, "server")
        last, buffer, started = "server", b"", False
        counts: Counter[str] = Counter({"connections": 1})
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    if key.data == "client":
                        (upstream if key.data == "client" else client).sendall(data)
                        if last == "server":
                            counts["round trips"] += 1
                        last = "client"
                        buffer += data
                        buffer, started = self._messages(buffer, started, counts)
                    else:
                        client.sendall(data)
                        last = "server"
        except OSError:
            return
        finally:
            client.close()
            upstream.close()
            with self.lock:
                self.counts.update(counts)

    def _messages(self, buffer: bytes, started: bool, counts: Counter[str]) -> tuple[bytes, bool]:
        while True:
            if not started:  # untyped: SSL/GSS requests, then the startup message
                if len(buffer) < 4 or len(buffer) < struct.unpack("!I", buffer[:4])[0]:
                    return buffer, started
                length, code = struct.unpack("!II", buffer[:8])
                buffer = buffer[length:]
                started = code not in (80877103, 80877104)
                continue
            if len(buffer) < 5:
                return buffer, started
            kind, length = chr(buffer[0]), struct.unpack("!I", buffer[1:5])[0]
            if len(buffer) < 1 + length:
                return buffer, started
            body, buffer = buffer[5:1 + length], buffer[1 + length:]
            if kind in "QPE":
                counts[{"Q": "simple queries", "P": "parses", "E": "executes"}[kind]] += 1
                if self.log and kind in "QP":
                    text = body[body.index(b"\0") + 1:] if kind == "P" else body
                    statement = text.split(b"\0")[0].decode(errors="replace")[:3000]
                    self.log.write(f"{kind} {statement}\n")
                    self.log.flush()


def psql(sql: str) -> None:
    subprocess.run(["psql", "-q", "-h", UPSTREAM[0], "-U", "postgres", "-d", "postgres", "-c", sql], check=True,
                   capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revisions", type=int, nargs="?", default=200)
    parser.add_argument("components", type=int, nargs="?", default=20)
    parser.add_argument("--log", type=Path, help="write each statement sent (memstack's run) to this file")
    parser.add_argument("--only", choices=("memstack", "alembic"), help="count one tool only")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="memstack-roundtrips-"))
    ours, plain = write_projects(root, args.revisions, args.components)
    python, bindir = Path(sys.executable), Path(sys.executable).parent
    proxy = Proxy(args.log)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMSTACK_")}
    runs = {"memstack": ([str(python), str(REPO / "manage.py"), "migrate", "-v", "0"], ours),
            "alembic": ([str(bindir / "alembic"), "upgrade", "heads"], plain)}
    print(f"{args.revisions} revisions, {args.components} components")
    for name, (argv, cwd) in runs.items():
        if args.only and name != args.only:
            continue
        database = f"bench_rt_{uuid.uuid4().hex[:10]}"
        psql(f"CREATE DATABASE {database}")
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{database}?sslmode=disable"
        try:
            proxy.reset()
            subprocess.run(argv, cwd=cwd, check=True, env={**env, "PYTHONPATH": f"{cwd}{os.pathsep}{REPO}",
                                                           "MEMSTACK_DATABASE_URL": url, "BENCH_DATABASE_URL": url})
            time.sleep(0.5)  # each connection's thread adds its counts as it closes
            counts = proxy.reset()
            per = {k: v / args.revisions for k, v in counts.items()}
            print(f"{name:9} " + ", ".join(f"{k} {counts[k]} ({per[k]:.2f}/rev)" for k in sorted(counts)))
        finally:
            psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Database URLs as a person may type them: every supported scheme and some that are not, hosts
(names, IPv4, IPv6 with and without brackets), ports (numbers, out of range, not numbers), passwords
holding URL delimiters, databases, and query options of each driver (known, unknown, bad values).

Hosts are local or malformed only: a URL that parses connects to 127.0.0.1 (a refused port or a
database that does not exist), so no example waits on the network or on DNS.
"""

from __future__ import annotations

from hypothesis import strategies as st

SERVER_SCHEMES = ["postgres", "postgresql", "postgresql+psycopg", "postgresql+asyncpg", "postgresql+psycopg2",
                  "mysql", "mariadb", "mysql+pymysql", "mysql+aiomysql", "mysql+asyncmy"]
OTHER_SCHEMES = ["oracle", "mssql+pyodbc", "http", "", "POSTGRESQL", "sqlite3", "postgresql+nosuch"]

HOSTS = ["127.0.0.1", "localhost", "[::1]", "[::1", "::1", "[zz]", "[127.0.0.1]", "h[o]st", "[::1]x", "", "127.0.0.1,"]
#: ports that refuse at once, the real servers' ports, and ones that are not ports at all
PORTS = st.one_of(st.sampled_from(["", "1", "5432", "3306", "0", "65536", "99999", "-1", "abc", "5432x", "٣٣٠٦",
                                   " 5432", "1e3"]),
                  st.integers(min_value=0, max_value=200_000).map(str))
#: no database of this name exists on the test servers
DATABASES = st.sampled_from(["", "memstack_inputs_nosuch", "memstack inputs", "db/extra", "%41", "ü"])
PASSWORD_CHARS = st.text(st.sampled_from("ab1/#?@:%+ é"), max_size=8)

#: query options: each driver's real ones with good and bad values, and names no driver knows
OPTION_NAMES = ["charset", "connect_timeout", "read_timeout", "ssl_ca", "local_infile", "compress", "sslmode",
                "application_name", "options", "client_encoding", "keepalives", "timeout", "uri", "mode",
                "check_same_thread", "foo", "ssl", "collation", "host", "port", "dbname", "cursorclass"]
OPTION_VALUES = ["utf8mb4", "latin1", "nosuch", "10", "abc", "-1", "", "true", "maybe", "/nonexistent/ca.pem",
                 "require", "bogus", "ro", "1.5", "nan", "ü"]
QUERIES = st.lists(st.tuples(st.sampled_from(OPTION_NAMES), st.sampled_from(OPTION_VALUES)), max_size=3).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@st.composite
def server_urls(draw: st.DrawFn) -> str:
    """A server URL (or something that looks like one), pointing at 127.0.0.1 when it parses."""
    scheme = draw(st.sampled_from(SERVER_SCHEMES + OTHER_SCHEMES))
    user = draw(st.sampled_from(["postgres", "root", "", "u%20x"]))
    password = draw(st.none() | PASSWORD_CHARS)
    credentials = f"{user}:{password}@" if password is not None else (f"{user}@" if user else "")
    host = draw(st.sampled_from(HOSTS))
    port = draw(st.none() | PORTS)
    location = host + (f":{port}" if port is not None else "")
    database = draw(DATABASES)
    query = draw(st.none() | QUERIES)
    separator = draw(st.sampled_from(["://", "://", ":/", ""]))
    return f"{scheme}{separator}{credentials}{location}/{database}" + (f"?{query}" if query else "")


@st.composite
def sqlite_urls(draw: st.DrawFn, folder: str) -> str:
    """A SQLite URL: in ``folder``, relative, in a folder that does not exist, in memory; with options."""
    scheme = draw(st.sampled_from(["sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"]))
    path = draw(st.sampled_from([f"/{folder}/inputs.db", "/inputs.db", f"/{folder}/no/such/folder/x.db",
                                 "/:memory:", "", f"/{folder}", f"/{folder}/not-a-db.txt",
                                 f"/file:{folder}/inputs.db"]))
    query = draw(st.none() | QUERIES)
    return f"{scheme}://{path}" + (f"?{query}" if query else "")


def any_url(folder: str) -> st.SearchStrategy[str]:
    """Any of the above, and arbitrary text."""
    return st.one_of(server_urls(), sqlite_urls(folder), st.text(max_size=30))

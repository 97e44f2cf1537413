"""TARGET strings (``migrate COMPONENT TARGET``, ``stamp``, ``sqlmigrate``) and ``--targets`` lists.

TARGET forms (contract, TARGET): ``zero``, ``head``, digits matched against file numbers, a file
name or its slug, a revision id or a unique prefix; here with every near miss: other components'
ids, prefixes shared by several ids, case, whitespace, signs, huge numbers, paths, text.

``--targets`` files (a URL a line, ``URL#schema=NAME``, ``-`` for stdin; issue 23): :data:`TARGET_LISTS`.
"""

from __future__ import annotations

from hypothesis import strategies as st

from support.strategies.urls import server_urls

TARGETS = st.one_of(
    st.sampled_from(["zero", "head", "heads", "ZERO", "Head", " head", "0", "00", "0001", "1", "2", "0002", "9999",
                     "-1", "+1", "1e3", "99999999999999999999", "0001_initial", "initial", "0001_initial.py",
                     "migrations/memo/0001_initial.py", "bc9a7cdd598c", "bc9a", "b", "e", "c24e8d933ed5",
                     "BC9A7CDD598C", "bc9a7cdd598c ", "base", "@head", "memo@head", "head-1", "head+1", "", " ",
                     "a" * 33, "\u0661", "..", "*", "%"]),
    st.text(st.sampled_from("0123456789abcdef_ -"), max_size=14),
    st.text(max_size=10),
)
COMPONENTS = st.sampled_from(["memo", "task", "auth", "nosuch", "", "MEMO", "memo ", "*"])

#: lines of a --targets file: URLs, schema fragments, comments, blanks, duplicates, garbage
TARGET_LINES = st.one_of(
    server_urls(),
    st.sampled_from(["", "   ", "# a comment", "-", "sqlite://", "sqlite:///{data}/inputs.db",
                     "sqlite:///{data}/inputs.db#schema=x", "postgresql://postgres@127.0.0.1/x#schema=",
                     "postgresql://postgres@127.0.0.1/x#schema=a;drop", "postgresql://postgres@127.0.0.1/x#nosuch=1",
                     "#schema=x", "\ufeffsqlite://"]),
    st.text(max_size=20),
)
TARGET_LISTS = st.lists(TARGET_LINES, max_size=5).map("\n".join)

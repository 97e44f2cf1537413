"""Revision files as they may be found in a migrations folder: a coding line or none, bytes in
UTF-8, Latin-1, UTF-16 or none at all, revision ids of every shape (valid, too long, empty, not a
string, computed, shared with another file), down revisions (the head, nothing, nowhere, a tuple,
a number), depends_on and branch_labels, and bodies that are valid, broken or fail when run."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

MEMO_HEAD = "bc9a7cdd598c"  # memo's head in the committed tree (support/revisions.py reads the same)

IDS = st.one_of(st.sampled_from(["'a1b2c3d4e5f6'", "'" + "a" * 33 + "'", "''", "None", "42", "'a' + 'b'",
                                 f"'{MEMO_HEAD}'", "'é1b2c3d4e5f6'", "'001'", "('a1', 'b2')", "'a b'",
                                 "'a1b2c3d4e5f6' if True else 'x'"]),
                st.text(st.sampled_from("abcdef0123456789"), min_size=1, max_size=40).map(repr))
DOWNS = st.sampled_from([f"'{MEMO_HEAD}'", "None", "'ffff0000ffff'", f"('{MEMO_HEAD}',)", "1", "''",
                         f"['{MEMO_HEAD}']", f"'{MEMO_HEAD[:4]}'", "'a1b2c3d4e5f6'", "(None,)"])
EXTRAS = st.lists(st.sampled_from(["depends_on = 'eeee0000eeee'", "depends_on = None", "branch_labels = ('task',)",
                                   "branch_labels = ('memo',)", "branch_labels = 5", "irreversible = 'yes'",
                                   "atomic = None", "guard = {'ddl_lock_timeout': 'x'}", "guard = 5",
                                   "guard = {'nosuch': 1}", "depends_on = ('task',)"]), max_size=2)
BODIES = st.sampled_from(["pass", "op.execute('SELECT 1')", "raise RuntimeError('boom')", "undefined_name()",
                          "pass\n  pass", "return (", "op.create_table('t_inputs', sa.Column('id', sa.Integer()))",
                          "x = 'caf\u00e9'"])
CODINGS = st.sampled_from([None, "utf-8", "latin-1", "nosuch-codec", "utf-16", "ascii"])
ENCODINGS = st.sampled_from(["utf-8", "latin-1", "utf-16", "utf-8-sig", "raw"])


@dataclass(frozen=True)
class RevisionSource:
    """One revision file: its bytes, and what it was made from (shown when an example fails)."""
    name: str
    data: bytes
    revision: str  # the id's source text


@st.composite
def revision_files(draw: st.DrawFn) -> RevisionSource:
    coding = draw(CODINGS)
    revision = draw(IDS)
    lines = [f"# -*- coding: {coding} -*-"] if coding else []
    lines += ['"""An input of issue 24."""', "from alembic import op", "import sqlalchemy as sa", "",
              f"revision = {revision}", f"down_revision = {draw(DOWNS)}", *draw(EXTRAS), "",
              "def upgrade():", f"    {draw(BODIES)}", "", "def downgrade():", "    pass", ""]
    text = "\n".join(lines)
    encoding = draw(ENCODINGS)
    if encoding == "raw":
        data = text.encode("utf-8") + draw(st.binary(min_size=1, max_size=8))
    else:
        data = text.encode(encoding, errors="replace")
    name = draw(st.sampled_from(["0002_inputs.py", "0002_caf\u00e9.py", "0002.py", "inputs.py", "0002_a-b.py"]))
    return RevisionSource(name, data, revision)

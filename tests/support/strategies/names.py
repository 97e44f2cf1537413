"""Names a person gives: component names (``startcomponent``), revision messages (``makemigrations
-m``, which become file names and docstrings) and tag names, including names longer than memstack's
bookkeeping columns (64 for labels, 128 for tags) or a file name (255 bytes)."""

from __future__ import annotations

from hypothesis import strategies as st

_IDENTIFIER = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
_LONG = st.sampled_from([65, 100, 128, 129, 255, 256, 400]).map(lambda n: "w" * n)

COMPONENT_NAMES = st.one_of(
    _IDENTIFIER,
    _LONG,
    st.sampled_from(["", "Billing", "class", "match", "memo", "auth", "a-b", "a.b", "../x", "/abs", "~x", "1abc",
                     "caf\u00e9", "_x", "x" * 64, "con", "nul", "a b", "\u0430bc"]),
    st.text(max_size=20),
)
MESSAGES = st.one_of(
    st.text(max_size=60),
    _LONG,
    st.sampled_from(['"""', "'''", "\\", "a\\nb", "\x00", "{{ x }}", "{% if %}", "\u2028", "caf\u00e9 \U0001f600",
                     "-", "--check", "\r\n"]),
)
TAG_NAMES = st.one_of(
    _IDENTIFIER,
    _LONG,
    st.sampled_from(["", " ", "v1.0", "release/2026", "-x", "--list", "a" * 128, "caf\u00e9", "\x00", "a\nb"]),
    st.text(max_size=20),
)

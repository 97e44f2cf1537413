"""Every setting of the chain, as it can be written in each of its places: ``[tool.memstack]`` values
of any TOML type, ``.env`` lines and environment variables of any text; and broken files
(``pyproject.toml`` that is not TOML or not UTF-8, a ``.env`` that is not UTF-8)."""

from __future__ import annotations

from typing import Any

import tomlkit
from hypothesis import strategies as st

#: [tool.memstack] keys (and MEMSTACK_<KEY> variables) that hold one value
SETTINGS = ["lock_timeout", "ddl_lock_timeout", "statement_timeout", "lock_retries", "lock_retry_max_wait",
            "blocker_policy", "connect_timeout", "tcp_keepalives", "tcp_user_timeout", "idle_in_transaction_timeout",
            "scratch_url", "database_url", "components"]
PLACES = ["pyproject", "dotenv", "environment"]

NUMBERS_AS_TEXT = ["0", "1", "60", "-1", "nan", "inf", "-inf", "1e308", "1e999", "abc", "", " ", "10,5,3", "off",
                   "true", "0x10", "\u0661\u0660", "ladder", "wait", "refuse", "nope", "sqlite://", "memstack.auth"]

#: TOML values of every type, nested a little
TOML_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
              st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(NUMBERS_AS_TEXT), st.text(max_size=12)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["package", "label", "x"]), inner,
                                                                 max_size=2),
    max_leaves=4,
)
#: text for a .env line or a variable (no NUL: the OS refuses it in the environment)
ENV_TEXT = st.one_of(st.sampled_from(NUMBERS_AS_TEXT), st.text(st.characters(blacklist_characters="\x00",
                                                                              blacklist_categories=("Cs",)),
                                                               max_size=12))


@st.composite
def one_setting(draw: st.DrawFn) -> tuple[str, str, Any]:
    """(setting, place, value): a TOML value for ``pyproject``, text for ``dotenv`` and ``environment``."""
    name = draw(st.sampled_from(SETTINGS))
    place = draw(st.sampled_from(PLACES))
    value = draw(TOML_VALUES if place == "pyproject" else ENV_TEXT)
    return name, place, value


def toml_line(name: str, value: Any) -> str:
    """``name = value`` in TOML."""
    document = tomlkit.document()
    document[name] = value
    return tomlkit.dumps(document).strip()


def dotenv_line(name: str, value: str) -> str:
    """``MEMSTACK_NAME="value"`` as a .env line (quotes and backslashes escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'MEMSTACK_{name.upper()}="{escaped}"'


#: whole files broken as files: not TOML, not UTF-8, empty, binary
BROKEN_PYPROJECTS = st.sampled_from([
    b"[tool.memstack]\ncomponents = [\n",
    b"[tool.memstack]\nlock_timeout = 60\nlock_timeout = 61\n",
    b"[tool.memstack]\n# caf\xe9\nlock_timeout = 60\n",
    b"\xff\xfe[\x00t\x00o\x00o\x00l\x00]\x00",
    b"[tool]\nmemstack = 1\n",
    b"[tool.memstack]\ncomponents = \"memstack.auth\"\n",
    b"[tool.memstack]\ncomponents = [1, 2]\n",
    b"[tool.memstack]\ncomponents = [{ package = 1 }]\n",
    b"[tool.memstack]\ncomponents = [{ package = \"memstack.auth\", label = 5 }]\n",
    b"[tool.memstack]\ncomponents = [{ package = \"memstack.auth\", migrations = [\"x\"] }]\n",
    b"[tool.memstack]\ncomponents = [\"\"]\n",
    b"[tool.memstack]\ncomponents = [\"no such package\"]\n",
])
BROKEN_DOTENVS = st.sampled_from([
    b"MEMSTACK_LOCK_TIMEOUT=caf\xe9\n",
    b"\xff\xfe\x00\x00",
    b"MEMSTACK_LOCK_TIMEOUT\n",
    b"=5\n",
    b"MEMSTACK_LOCK_TIMEOUT='unterminated\n",
    b"export MEMSTACK_LOCK_TIMEOUT=5\n",
])

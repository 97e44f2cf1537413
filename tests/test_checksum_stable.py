"""Checksums pinned to golden values: the same on every Python 3.11+ (issue 10, item 3).

Needs only the standard library and ``memstack/engine/tree/checksum.py``, because ``.ci/run``
also runs it under every other installed Python, where pytest may be missing:

    PYTHONPATH=. python3.12 tests/test_checksum_stable.py
"""

from __future__ import annotations

import ast
import hashlib
import sys

from memstack.engine.tree import checksum

SAMPLE = '''
"""Module docstring: ignored."""
# a comment: ignored
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0a1b2c3d4e5f"
down_revision: str | Sequence[str] | None = None
branch_labels = ("memory",)
depends_on: str | Sequence[str] | None = ("auth@0001",)


@decorated(level=2)
class Helper(Base, metaclass=Meta):
    """Class docstring."""

    limit: int = 10

    async def fetch(self, *args: int, key: str = "k", **rest: object) -> list[int]:
        async with lock() as held, other():
            return [x * 2 for x in args if x > 0] + [await held]


def upgrade() -> None:
    """Create the table."""
    op.create_table(
        "memories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text(), nullable=False, server_default=f"{revision!r:>12}"),
    )
    for number, name in enumerate(("a", "b"), start=1):
        try:
            op.execute(f"COMMENT ON TABLE memories IS '{name} {number}'")
        except (ValueError, KeyError) as exc:
            raise RuntimeError("no") from exc
        finally:
            pass
    match branch_labels:
        case ("memory", *rest) if rest:
            value = {1: b"x", **{}} | {2: 3.5j}
        case _:
            value = lambda y=None: y[1:-1:2] if y else ...  # noqa: E731
    del value
    global counter
    assert counter is not None, "set"
    while False:
        break
    else:
        counter += 1


def downgrade() -> None:
    op.drop_table("memories")
'''

GOLDEN = "9563daeb0ed56e9b7a905706fb805aea12af2ac88852b65ac1af489b17984b81"
"""Algorithm 2 of SAMPLE: never change it; a new serialisation is a new ALGORITHM."""

GOLDEN_LEGACY = {  # algorithm 1 (ast.dump) of SAMPLE, as each Python really computed it
    "3.11": "841a5ad46ee229cb72efa3108fb59e621ef41aa8ffacecb0018aef7f51058131",
    "3.12": "a80cdd8f5c8eac78545adef6f6b50e0f13a186e395a676c2106d1cf6de117bf3",
    "3.13": "206f6166b5bc9b82e70b95574590b652faeb9ffc592617b3f5ae2fb3123ac1c2",
}


def test_golden_checksum() -> None:
    assert checksum.checksum_source(SAMPLE) == GOLDEN


def test_comments_docstrings_and_formatting_do_not_count() -> None:
    reformatted = SAMPLE.replace('"""Create the table."""', '"""Other words."""').replace(
        "# a comment: ignored", "# another comment").replace(
        'op.drop_table("memories")', 'op.drop_table("memories")  # bye')
    reformatted = reformatted.replace('op.create_table(\n        "memories",', 'op.create_table("memories",')
    assert reformatted != SAMPLE
    assert checksum.checksum_source(reformatted) == GOLDEN
    assert checksum.checksum_source(SAMPLE.replace('"memories"', '"memory"')) != GOLDEN
    assert checksum.checksum_source(SAMPLE.replace("start=1", "start=2")) != GOLDEN
    assert checksum.checksum_source(SAMPLE.replace("b\"x\"", "\"x\"")) != GOLDEN  # bytes vs str


def test_legacy_checksums_of_every_python_are_recognised() -> None:
    assert checksum.legacy_checksums(SAMPLE) == set(GOLDEN_LEGACY.values())
    for recorded in GOLDEN_LEGACY.values():
        assert checksum.verify(recorded, SAMPLE) is checksum.Verdict.LEGACY_MATCH
    assert checksum.verify(GOLDEN, SAMPLE) is checksum.Verdict.MATCH
    changed = SAMPLE.replace("start=1", "start=2")
    for recorded in GOLDEN_LEGACY.values():
        assert checksum.verify(recorded, changed) is checksum.Verdict.CHANGED


def test_this_python_dump_is_the_one_emulated() -> None:
    """The emulation of this interpreter's ast.dump is exact (so the other two are checked on theirs)."""
    flavour = f"{sys.version_info.major}.{sys.version_info.minor}"
    tree = checksum._without_docstrings(ast.parse(SAMPLE))
    real = hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()
    if flavour in GOLDEN_LEGACY:
        assert real == GOLDEN_LEGACY[flavour]
        assert checksum._legacy_dump(tree, flavour) == ast.dump(tree, include_attributes=False)


if __name__ == "__main__":  # the stdlib-only runner .ci/run uses for the other interpreters
    tests = [value for name, value in sorted(globals().items()) if name.startswith("test_")]
    for test in tests:
        test()
    print(f"checksum stable on Python {sys.version.split()[0]}: {len(tests)} checks passed")

"""Every private Alembic or SQLAlchemy name memstack uses, behind functions named for what they do.

Alembic and SQLAlchemy may rename or drop these in any release: nothing else in memstack touches
a private name of theirs, and tests/test_alembic_compat.py pins each function's behaviour (CI runs it
against the oldest Alembic and SQLAlchemy that pyproject.toml allows and against the newest).
Alembic and SQLAlchemy are imported inside the functions: the modules that use them import this one,
and some of them (offline SQL, the half-applied check) are on paths kept light.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from alembic import context as context_module
from alembic import op as op_module
from alembic.autogenerate import compare as alembic_compare
from alembic.autogenerate import produce_migrations, render
from alembic.autogenerate.api import AutogenContext
from alembic.autogenerate.render import _repr_type
from alembic.operations import ops as alembic_ops

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations import Operations
    from alembic.operations import ops as alembic_ops
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import MetaData
    from sqlalchemy.types import TypeEngine

#: what MigrationContext.run_migrations iterates: (current heads, the context) -> the steps to run
StepsFunction = Callable[[Any, Any], Iterable[Any]]


# --------------------------------------------------------------------------- running (alembic.runtime)


def wrap_steps(migration_context: MigrationContext, wrap: Callable[[StepsFunction], StepsFunction]) -> None:
    """Have ``run_migrations`` iterate ``wrap(original)``: Alembic has no "before each step" hook."""
    original: StepsFunction = migration_context._migrations_fn  # type: ignore[assignment]
    migration_context._migrations_fn = wrap(original)


def environment_behind(context: Any) -> Any:
    """The EnvironmentContext that ``alembic.context`` (a proxy module) stands for, or ``context`` itself."""
    return getattr(context, "_proxy", None) or context


@contextmanager
def installed_as_op(operations: Operations) -> Iterator[None]:
    """``alembic.op`` calls go to ``operations`` inside the block; whatever ``op`` was before comes back."""
    previous: Operations | None = getattr(op_module, "_proxy", None)
    operations._install_proxy()
    try:
        yield
    finally:
        operations._remove_proxy()
        if previous is not None:
            previous._install_proxy()


@contextmanager
def environment_kept() -> Iterator[None]:
    """Whatever ``alembic.context`` stands for comes back after the block (an offline
    EnvironmentContext entered inside a running one removes it on exit: Alembic's proxies do not nest)."""

    previous: Any = getattr(context_module, "_proxy", None)
    try:
        yield
    finally:
        if previous is not None:
            previous._install_proxy()


# --------------------------------------------------------------------------- autogenerate


def upgrade_ops_of(context: MigrationContext, metadata: MetaData) -> alembic_ops.UpgradeOps:
    """The operations that bring the database of ``context`` to ``metadata``, without their reverse.

    ``produce_migrations`` also computes the downgrade, which memstack discards and computes again
    once the upgrade is final (reversing 200 tables costs 0.15 s); Alembic versions without the
    private step fall back to it.
    """

    net_changes = getattr(alembic_compare, "_produce_net_changes", None)
    if net_changes is None:
        script = produce_migrations(context, metadata)
        assert script.upgrade_ops is not None
        return script.upgrade_ops
    upgrade = alembic_ops.UpgradeOps(ops=[])
    net_changes(AutogenContext(context, metadata=metadata), upgrade)
    return upgrade


def can_skip_reverse() -> bool:
    """Whether :func:`upgrade_ops_of` takes the fast path on this Alembic."""
    return hasattr(alembic_compare, "_produce_net_changes")


def table_dropped_by(op: alembic_ops.DropTableOp) -> alembic_ops.CreateTableOp | None:
    """The CREATE TABLE that would undo ``op`` (its columns, constraints, ...), when autogenerate kept one."""
    reverse: alembic_ops.CreateTableOp | None = op._reverse
    return reverse


def render_body(ops: alembic_ops.UpgradeOps | alembic_ops.DowngradeOps, autogen: AutogenContext) -> str:
    """The Python of ``ops`` as autogenerate writes it into ``upgrade()``, indented one level."""
    return str(render._indent(render._render_cmd_body(ops, autogen)))


def render_type(type_: TypeEngine[Any], autogen: AutogenContext) -> str:
    """A column type as autogenerate writes it (``sa.String(length=20)``), its imports added to ``autogen``."""
    return str(_repr_type(type_, autogen))


def type_variants(type_: TypeEngine[Any]) -> Mapping[str, TypeEngine[Any]]:
    """The per-dialect variants of a type made with ``with_variant`` ({} for a plain type)."""
    mapping: Mapping[str, TypeEngine[Any]] | None = getattr(type_, "_variant_mapping", None)
    return dict(mapping) if mapping else {}


# --------------------------------------------------------------------------- writing revisions (alembic.script)


def run_post_write_hooks(path: str, hooks: Iterable[Mapping[str, str]]) -> None:
    """Alembic's runner of ``post_write_hooks`` (what ``alembic revision`` runs after writing a file), on ``path``.

    ``hooks``: ``Config.get_hooks_list()``, each with its ``_hook_name``. Alembic has no public
    name for the runner itself: ``alembic.script.write_hooks._run_hooks``.
    """
    from alembic.script import write_hooks  # lazy: only where revisions are written

    write_hooks._run_hooks(path, list(hooks))


# --------------------------------------------------------------------------- the revision map (alembic.script)


def present_revisions(script_directory: Any, keep: Callable[[Any], bool]) -> None:
    """Give ``script_directory`` a revision map built from the scripts ``keep`` accepts (it may also
    change their ``down_revision`` and ``dependencies``): ``_load_revisions`` is the generator
    ``ScriptDirectory`` builds its own map from. Call it before the map is first used."""
    from alembic.script.revision import RevisionMap

    from memstack.alembic_placement import loaded_by_memstack

    def scripts() -> Iterator[Any]:
        with loaded_by_memstack():  # a squash file need not read its folder: this map is memstack's
            yield from (s for s in script_directory._load_revisions() if keep(s))

    script_directory.revision_map = RevisionMap(scripts)


@contextmanager
def revisions_from_source(load: Callable[[str, Path], ModuleType]) -> Iterator[None]:
    """Inside the block, Alembic reads each revision's ``.py`` file through ``load(module_id, path)``.

    ``ScriptDirectory`` imports revision files with ``alembic.util.pyfiles.load_module_py``
    (importlib's file loader, which runs a ``__pycache__`` entry while the file's size and
    whole-second mtime match it, even when its text changed). Alembic has no hook for this; a
    sourceless tree (``.pyc`` files only) is still loaded Alembic's way.
    """
    from alembic.util import pyfiles

    original = pyfiles.load_module_py

    def loading(module_id: str, path: str | os.PathLike[str]) -> ModuleType:
        return load(module_id, Path(path)) if str(path).endswith(".py") else original(module_id, path)

    pyfiles.load_module_py = loading
    try:
        yield
    finally:
        pyfiles.load_module_py = original


def set_branch_labels(script: Any, labels: tuple[str, ...]) -> None:
    """Give a script branch labels before its revision map is built (``_orig_branch_labels`` is what
    the map reads them from)."""
    script._orig_branch_labels = labels
    script.branch_labels = set(labels)

"""Keeps ``[tool.alembic]`` in ``pyproject.toml`` in step with the components.

The plain ``alembic`` command reads its version folders from there (its listing commands never
run ``env.py``), so every component's folder must be listed. Edits keep comments and layout
(tomlkit).
"""

from __future__ import annotations

from pathlib import Path

from memstack.core.components import Registry


def wanted_locations(registry: Registry, project_dir: Path) -> list[str]:
    locations = []
    for component in registry:
        try:
            relative = component.migrations_path.relative_to(project_dir).as_posix()
            locations.append(f"%(here)s/{relative}")
        except ValueError:
            locations.append(component.migrations_path.as_posix())
    return locations


def sync_alembic_config(registry: Registry, pyproject: Path) -> bool:
    """Rewrite ``[tool.alembic]`` script_location/version_locations when needed; True if changed."""
    import tomlkit

    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    tool = document.setdefault("tool", tomlkit.table())
    alembic = tool.get("alembic")
    if alembic is None:
        alembic = tomlkit.table()
        alembic.add(tomlkit.comment("The plain `alembic` command reads this; memstack keeps it in step."))
        tool["alembic"] = alembic
    wanted = wanted_locations(registry, pyproject.parent)
    current = [str(v) for v in alembic.get("version_locations", [])]
    changed = False
    if "script_location" not in alembic:
        alembic["script_location"] = "%(here)s/migrations"
        changed = True
    if current != wanted:
        array = tomlkit.array()
        array.multiline(True)
        for location in wanted:
            array.append(location)
        alembic["version_locations"] = array
        changed = True
    if changed:
        pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    return changed

"""Where memstack's configuration comes from: one precedence chain per setting.

command-line option > ``MEMSTACK_<NAME>`` in the environment > the project root's ``.env``
> ``[tool.memstack]`` in ``pyproject.toml`` > built-in default. The database URL has a longer
chain (see :func:`raw_database_url`). Nothing here imports SQLAlchemy, so ``--help`` stays
fast.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memstack.core.errors import ConfigurationError
from memstack.core.guardsettings import DEFAULT_GUARD, GuardSettings, guard_settings
from memstack.core.networksettings import DEFAULT_NETWORK, NetworkSettings, network_settings, parse_seconds
from memstack.core.redaction import mask_url as mask_url  # re-exported: callers import it from here
from memstack.core.redaction import redact as redact
from memstack.core.urls import SUPPORTED_URL_FORMS as SUPPORTED_URL_FORMS
from memstack.core.urls import legacy_postgres_url as legacy_postgres_url
from memstack.core.urls import normalize_url as normalize_url

DEFAULT_LOCK_TIMEOUT = 60.0
DEFAULT_COMPONENTS: tuple[str, ...] = (
    "memstack.auth",
    "memstack.tenant",
    "memstack.project",
    "memstack.memory",
    "memstack.ontology",
    "memstack.memo",
    "memstack.task",
)





@dataclass(frozen=True)
class ComponentEntry:
    """One item of ``[tool.memstack] components`` as written, before anything is imported."""
    package: str
    label: str | None = None
    migrations: str | None = None
    env_hook: str | None = None  # "pkg.module:function" run where env.py would (engine/run/envhooks.py)
    baseline: str | None = None  # what exists before the first revision (engine/run/baseline.py)


@dataclass(frozen=True)
class Settings:
    """Resolved settings; ``sources`` says where each value came from (for ``doctor``)."""
    project_dir: Path
    database_url_as_given: str
    components: tuple[ComponentEntry, ...]
    lock_timeout: float
    sources: Mapping[str, str] = field(default_factory=dict)
    scratch_url: str | None = None  # an existing empty database for check/makemigrations (no CREATE DATABASE)
    model_check: bool = True  # migrate warns about model changes no revision covers (cli/commands/migrate.py)
    # a read-only installed tree (wheel, container image): the no-op start trusts the revision index's
    # folder summaries by file names alone, without a stat a file (engine/tree/index.py)
    installed_tree: bool = False
    network: NetworkSettings = DEFAULT_NETWORK  # connect_timeout, tcp_keepalives, ... (see NetworkSettings)
    guard: GuardSettings = DEFAULT_GUARD  # ddl_lock_timeout, statement_timeout, lock_retries, ... (guardsettings)
    tenant_components: tuple[str, ...] | None = None  # fleets: migrated in every target (None: every component)

    @property
    def database_url(self) -> str:
        """The URL for schema work; checked only when used, so commands that never touch the
        database (``components``, ``--help``) work with a bad one."""
        return normalize_url(self.database_url_as_given, self.project_dir)

    @property
    def scratch_database_url(self) -> str | None:
        """``scratch_url`` normalized like the database URL (None: create a throw-away database)."""
        return normalize_url(self.scratch_url, self.project_dir) if self.scratch_url else None

    @property
    def migrations_dir(self) -> Path:
        return self.project_dir / "migrations"

    @property
    def templates_dir(self) -> Path:
        """The project's ``templates/``; an installed memstack's own when the project has none."""
        own = self.project_dir / "templates"
        bundled = bundled_dir()
        return bundled / "templates" if not own.is_dir() and bundled is not None else own

    def default_migrations_path(self, label: str, package: str) -> Path:
        """``migrations/<label>`` of the project; for memstack's own components, the revisions an
        installed memstack ships when the project has no copy."""
        own = self.migrations_dir / label
        if not package.startswith("memstack.") or own.is_dir():
            return own
        bundled = bundled_revisions()
        if bundled is None:
            return own
        shipped = bundled / label
        return shipped if shipped.is_dir() else own

    @property
    def pyproject_path(self) -> Path:
        return self.project_dir / "pyproject.toml"

    @property
    def masked_database_url(self) -> str:
        return mask_url(self.database_url)


def refuse_missing_own_migrations(components: Iterable[tuple[str, Path]]) -> None:
    """memstack's own components always have revisions: a missing folder means an installation
    without them, which would otherwise "migrate" an empty tree and report success."""
    for package, folder in components:
        if package.startswith("memstack.") and not folder.exists() and not folder.is_symlink():
            # (a file or a broken link in its place is worded by the loader)
            raise ConfigurationError(
                f"no migrations found for {package}: {folder} does not exist",
                hint="install memstack from its wheel (which ships them in the package, memstack/_revisions), "
                f'or set {{ package = "{package}", migrations = "<folder>" }} in [tool.memstack] components',
            )


# --------------------------------------------------------------------------- project root


def bundled_dir() -> Path | None:
    """``<prefix>/share/memstack`` of an installed memstack (its templates), if any."""
    import site  # lazy: kept off the no-op path and --help
    import sys  # lazy: kept off the no-op path and --help
    import sysconfig  # lazy: kept off the no-op path and --help

    for prefix in (sysconfig.get_path("data"), sys.prefix, site.USER_BASE or ""):
        candidate = Path(prefix) / "share" / "memstack"
        if prefix and (candidate / "templates").is_dir():
            return candidate
    return None


BUNDLED_REVISIONS = "memstack:_revisions"  # Alembic's package:path form (the wheel's copy of migrations/)


def bundled_revisions() -> Path | None:
    """``memstack/_revisions`` of an installed memstack (its own revisions and env.py), if shipped."""
    folder = Path(__file__).resolve().parent.parent / "_revisions"
    return folder if (folder / "env.py").is_file() else None


def _text_of(path: Path) -> str:
    """A configuration file's text: TOML and .env files are UTF-8; other bytes are refused by name."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint="save the file as UTF-8",
        ) from exc


def _has_memstack_table(pyproject: Path) -> bool:
    try:
        text = _text_of(pyproject)
    except OSError:
        return False
    except ConfigurationError:  # not UTF-8: refused when it is ours, passed over when it is not
        if b"[tool.memstack]" in pyproject.read_bytes():
            raise
        return False
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if "[tool.memstack]" in text:  # our project, broken: say so instead of "no project found"
            raise ConfigurationError(f"{pyproject} is not valid TOML: {exc}", hint="fix the file's syntax") from exc
        return False
    return isinstance(data.get("tool", {}).get("memstack"), dict)


def find_project_root(start: Path | None = None, explicit: str | os.PathLike[str] | None = None,
                      environ: Mapping[str, str] | None = None) -> Path:
    """The folder holding ``pyproject.toml`` with ``[tool.memstack]``: explicit, env, or upwards."""
    environ = os.environ if environ is None else environ
    given = explicit if explicit is not None else environ.get("MEMSTACK_PROJECT_DIR") or None
    if given is not None:
        root = Path(given).expanduser().resolve()
        if not (root / "pyproject.toml").is_file() or not _has_memstack_table(root / "pyproject.toml"):
            raise ConfigurationError(
                f"{root} is not a memstack project: it has no pyproject.toml with a [tool.memstack] table",
                hint="point --project-dir (or MEMSTACK_PROJECT_DIR) at the folder holding it",
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _has_memstack_table(candidate):
            return folder
    raise ConfigurationError(
        f"no memstack project found in {here} or any folder above it",
        hint="run from the project root (the folder holding pyproject.toml with [tool.memstack]), "
        "or pass --project-dir / set MEMSTACK_PROJECT_DIR",
    )


def read_project_config(project_dir: Path) -> dict[str, Any]:
    """The ``[tool.memstack]`` table of the project's pyproject.toml."""
    path = project_dir / "pyproject.toml"
    try:
        data = tomllib.loads(_text_of(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}", hint="fix the file's syntax") from exc
    table = data.get("tool", {}).get("memstack", {})
    if not isinstance(table, dict):
        raise ConfigurationError(f"[tool.memstack] in {path} must be a table",
                                 hint="write it as a [tool.memstack] section of key = value lines")
    return table


def read_dotenv(project_dir: Path) -> dict[str, str]:
    """The project root's ``.env`` file, if any (values never override the real environment)."""
    path = project_dir / ".env"
    if not path.is_file():
        return {}
    import io  # lazy: kept off the no-op path and --help

    from dotenv import dotenv_values  # lazy: kept off the no-op path and --help

    return {k: v for k, v in dotenv_values(stream=io.StringIO(_text_of(path))).items() if v is not None}




def raw_database_url(option: str | None, env: Mapping[str, str], config: Mapping[str, Any]) -> tuple[str, str]:
    """(URL as given, where it came from): the first link of the chain that is set."""
    chain: list[tuple[str, str | None]] = [
        ("--database-url", option),
        ("MEMSTACK_DATABASE_URL", env.get("MEMSTACK_DATABASE_URL")),
        ("DATABASE_URL", env.get("DATABASE_URL")),
        ("POSTGRES_* variables", legacy_postgres_url(env)),
        ("[tool.memstack] database_url", config.get("database_url")),
    ]
    if option is not None and not option.strip():
        raise ConfigurationError(
            "--database-url is empty (an unset shell variable?)",
            hint="pass a URL such as postgresql://user@localhost/memstack, or leave the option out",
        )
    for source, value in chain:
        if value:
            return str(value), source
    return "sqlite:///memstack.db", "default"


# --------------------------------------------------------------------------- settings


_ENTRY_HINT = ('components = ["pkg", ...]: each entry a package name or a table { package = "pkg", label = "...", '
               'migrations = "folder", env_hook = "module:function", baseline = "..." } of strings')


def _parse_components(raw: Any, path: Path) -> tuple[ComponentEntry, ...]:
    if raw is None:
        return tuple(ComponentEntry(p) for p in DEFAULT_COMPONENTS)
    if not isinstance(raw, list):
        raise ConfigurationError(f"[tool.memstack] components in {path} must be a list", hint=_ENTRY_HINT)
    entries: list[ComponentEntry] = []
    for item in raw:
        if isinstance(item, str):
            entries.append(ComponentEntry(item))
        elif isinstance(item, dict) and isinstance(item.get("package"), str):
            unknown = set(item) - {"package", "label", "migrations", "env_hook", "baseline"}
            if unknown:
                raise ConfigurationError(
                    f"component entry {item!r} has unknown keys {sorted(unknown)}",
                    hint="an entry is a package name or a table: package, label, migrations, env_hook, baseline",
                )
            for key in ("label", "migrations", "env_hook", "baseline"):
                if key in item and not isinstance(item[key], str):
                    raise ConfigurationError(f"{key} of component entry {item['package']!r} in {path} must be a "
                                             f"string, not {item[key]!r}", hint=_ENTRY_HINT)
            entries.append(ComponentEntry(item["package"], item.get("label"), item.get("migrations"),
                                          item.get("env_hook"), item.get("baseline")))
        else:
            raise ConfigurationError(
                f"component entry {item!r} in {path} is neither a package name nor a table with 'package'",
                hint=_ENTRY_HINT,
            )
    return tuple(entries)


def load_settings(
    project_dir: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    lock_timeout: float | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting through its precedence chain."""
    real_env = dict(os.environ if environ is None else environ)
    root = find_project_root(cwd, project_dir, real_env)
    env = {**read_dotenv(root), **real_env}
    config = read_project_config(root)
    url, url_source = raw_database_url(database_url, env, config)

    timeout_chain: list[tuple[str, Any]] = [
        ("--lock-timeout", lock_timeout),
        ("MEMSTACK_LOCK_TIMEOUT", env.get("MEMSTACK_LOCK_TIMEOUT") or None),
        ("[tool.memstack] lock_timeout", config.get("lock_timeout")),
    ]
    timeout, timeout_source = DEFAULT_LOCK_TIMEOUT, "default"
    for source, value in timeout_chain:
        if value is not None:
            timeout, timeout_source = parse_seconds(value, source), source
            break

    scratch_url, scratch_source = _scratch_url(env, config)
    model_check, model_check_source = _switch(env, config, "model_check", True)
    installed_tree, installed_tree_source = _switch(env, config, "installed_tree", False)
    network_sources: dict[str, str] = {}
    network = network_settings(env, config, network_sources)
    guard_sources: dict[str, str] = {}
    guard = guard_settings(env, config, guard_sources)

    components_env = env.get("MEMSTACK_COMPONENTS")
    if components_env:
        components = tuple(ComponentEntry(p.strip()) for p in components_env.split(",") if p.strip())
        components_source = "MEMSTACK_COMPONENTS"
    else:
        components = _parse_components(config.get("components"), root / "pyproject.toml")
        components_source = "[tool.memstack] components" if "components" in config else "default"

    return Settings(
        project_dir=root,
        database_url_as_given=url,
        components=components,
        lock_timeout=timeout,
        sources={"database_url": url_source, "lock_timeout": timeout_source, "components": components_source,
                 "scratch_url": scratch_source, "model_check": model_check_source,
                 "installed_tree": installed_tree_source, **network_sources,
                 **guard_sources},
        scratch_url=scratch_url,
        model_check=model_check,
        installed_tree=installed_tree,
        network=network,
        guard=guard,
        tenant_components=_tenant_components(config.get("tenant_components"), root / "pyproject.toml"),
    )


def _tenant_components(raw: Any, path: Path) -> tuple[str, ...] | None:
    """``[tool.memstack] tenant_components``: component labels a fleet migrates in every target."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(item, str) and item.strip() for item in raw):
        raise ConfigurationError(f"[tool.memstack] tenant_components in {path} must be a list of component labels")
    return tuple(item.strip() for item in raw)


def _scratch_url(env: Mapping[str, str], config: Mapping[str, Any]) -> tuple[str | None, str]:
    """(scratch URL, where it came from): ``MEMSTACK_SCRATCH_URL`` > ``[tool.memstack] scratch_url``."""
    value = env.get("MEMSTACK_SCRATCH_URL")
    if value is not None and value.strip():
        return value.strip(), "MEMSTACK_SCRATCH_URL"
    configured = config.get("scratch_url")
    if configured is not None and not (isinstance(configured, str) and configured.strip()):
        raise ConfigurationError(f"[tool.memstack] scratch_url must be a database URL, not {configured!r}",
                                 hint="write scratch_url = \"postgresql://user@host/empty_db\", or leave it out")
    return (configured.strip(), "[tool.memstack] scratch_url") if configured else (None, "default")


_SWITCH = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _switch(env: Mapping[str, str], config: Mapping[str, Any], name: str, default: bool) -> tuple[bool, str]:
    """(an on/off setting, where it came from): ``MEMSTACK_<NAME>`` > ``[tool.memstack] <name>`` > ``default``."""
    variable = f"MEMSTACK_{name.upper()}"
    value = env.get(variable)
    if value is not None and value.strip():
        if value.strip().lower() not in _SWITCH:
            raise ConfigurationError(f"{variable} must be 1 or 0 (true/false, yes/no, on/off), not {value!r}")
        return _SWITCH[value.strip().lower()], variable
    configured = config.get(name)
    if configured is None:
        return default, "default"
    if not isinstance(configured, bool):
        raise ConfigurationError(f"[tool.memstack] {name} must be true or false, not {configured!r}")
    return configured, f"[tool.memstack] {name}"

"""The network bounds' settings: connect_timeout, tcp_keepalives, tcp_user_timeout,
idle_in_transaction_timeout; one chain each (MEMSTACK_<NAME> > .env > [tool.memstack] > default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.projects import write_pyproject

from memstack.core.errors import ConfigurationError
from memstack.core.network import client_connect_args
from memstack.core.networksettings import NetworkSettings
from memstack.core.settings import load_settings


def _root(tmp_path: Path, extra: str = "") -> Path:
    write_pyproject(tmp_path, extra=extra)
    return tmp_path


def test_defaults_are_bounded(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=_root(tmp_path))
    assert settings.network == NetworkSettings(connect_timeout=10, keepalives=True, keepalives_idle=10,
                                               keepalives_interval=5, keepalives_count=3, tcp_user_timeout=30,
                                               idle_in_transaction_timeout=60)
    assert settings.network.silence_bound == 25
    assert {settings.sources[name] for name in ("connect_timeout", "tcp_keepalives", "tcp_user_timeout",
                                                "idle_in_transaction_timeout")} == {"default"}


def test_each_setting_follows_the_chain(tmp_path: Path) -> None:
    root = _root(tmp_path, 'connect_timeout = 4\ntcp_keepalives = [20, 6, 4]\ntcp_user_timeout = 40\n'
                           'idle_in_transaction_timeout = 90')
    (root / ".env").write_text("MEMSTACK_TCP_USER_TIMEOUT=41\nMEMSTACK_IDLE_IN_TRANSACTION_TIMEOUT=91\n")
    settings = load_settings(environ={"MEMSTACK_IDLE_IN_TRANSACTION_TIMEOUT": "2"}, cwd=root)
    network = settings.network
    assert (network.connect_timeout, network.keepalives_idle, network.keepalives_interval,
            network.keepalives_count, network.tcp_user_timeout, network.idle_in_transaction_timeout) == (
        4, 20, 6, 4, 41, 2)
    assert settings.sources["connect_timeout"] == "[tool.memstack] connect_timeout"
    assert settings.sources["tcp_user_timeout"] == "MEMSTACK_TCP_USER_TIMEOUT"  # from .env
    assert settings.sources["idle_in_transaction_timeout"] == "MEMSTACK_IDLE_IN_TRANSACTION_TIMEOUT"


@pytest.mark.parametrize("value", ["off", "OFF", "false", "0"])
def test_keepalives_can_be_turned_off(tmp_path: Path, value: str) -> None:
    network = load_settings(environ={"MEMSTACK_TCP_KEEPALIVES": value}, cwd=_root(tmp_path)).network
    assert not network.keepalives and network.silence_bound == 0
    assert client_connect_args("postgresql", network)["keepalives"] == "0"


def test_keepalives_from_the_environment(tmp_path: Path) -> None:
    network = load_settings(environ={"MEMSTACK_TCP_KEEPALIVES": " 30, 10 ,2"}, cwd=_root(tmp_path)).network
    assert (network.keepalives_idle, network.keepalives_interval, network.keepalives_count) == (30, 10, 2)


@pytest.mark.parametrize(("name", "value", "words"), [
    ("MEMSTACK_CONNECT_TIMEOUT", "soon", "connect_timeout from MEMSTACK_CONNECT_TIMEOUT must be a number"),
    ("MEMSTACK_CONNECT_TIMEOUT", "-1", "finite number of seconds, 0 or more"),
    ("MEMSTACK_TCP_USER_TIMEOUT", "inf", "finite number of seconds"),
    ("MEMSTACK_IDLE_IN_TRANSACTION_TIMEOUT", "nan", "finite number of seconds"),
    ("MEMSTACK_TCP_KEEPALIVES", "10,5", "must be idle,interval,count"),
    ("MEMSTACK_TCP_KEEPALIVES", "10,5,2.5", "whole count"),
    ("MEMSTACK_TCP_KEEPALIVES", "0.5,5,3", "1 s or more"),
])
def test_bad_values_are_refused_naming_the_setting(tmp_path: Path, name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigurationError, match=words):
        load_settings(environ={name: value}, cwd=_root(tmp_path))


def test_bad_value_in_pyproject_names_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"\[tool.memstack\] connect_timeout"):
        load_settings(environ={}, cwd=_root(tmp_path, 'connect_timeout = "x"'))
    with pytest.raises(ConfigurationError, match=r"tcp_keepalives"):
        load_settings(environ={}, cwd=_root(tmp_path, "tcp_keepalives = true"))


def test_client_arguments_per_driver_and_what_the_url_already_says() -> None:
    network = NetworkSettings()
    pg = client_connect_args("postgresql", network)
    assert pg == {"connect_timeout": "10", "keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
                  "keepalives_count": "3", "tcp_user_timeout": "30000"}
    assert "connect_timeout" not in client_connect_args("postgresql", network, given={"connect_timeout"})
    assert client_connect_args("postgresql", NetworkSettings(connect_timeout=1))["connect_timeout"] == "2"  # libpq min
    my = client_connect_args("mysql", network)
    assert my == {"connect_timeout": 10, "read_timeout": 10, "write_timeout": 30}
    assert client_connect_args("sqlite", network) == {}
    off = NetworkSettings(connect_timeout=0, tcp_user_timeout=0)
    assert "connect_timeout" not in client_connect_args("postgresql", off)
    assert "tcp_user_timeout" not in client_connect_args("postgresql", off)


@pytest.mark.postgres
def test_a_migration_session_never_prepares_and_the_url_can_say_otherwise(postgres_url: str) -> None:
    """psycopg's automatic preparing is off in migration sessions (every ALTER made it prepare again);
    ``prepare_threshold`` in ``connect_args`` wins, and other engines keep psycopg's default."""
    from memstack.core.db import create_engine

    def threshold(url: str, **kwargs: Any) -> object:
        engine = create_engine(url, **kwargs)
        try:
            with engine.connect() as connection:
                return connection.connection.dbapi_connection.prepare_threshold  # type: ignore[union-attr]
        finally:
            engine.dispose()

    assert threshold(postgres_url, for_migrations=True) is None
    assert threshold(postgres_url, for_migrations=True, connect_args={"prepare_threshold": 2}) == 2
    assert threshold(postgres_url) == 5

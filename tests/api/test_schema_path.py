"""Alembic is the only schema path: ``cloud migrate`` makes the schema, the rest refuse without it.

Also the shape of the HTTP layer: routers translate HTTP only; the database is the services'.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import inspect

from cloud.migrations import current_revisions, head_revisions
from cloud.store import EventStore
from traffic_monitor.cli import main

ROUTERS = Path(__file__).resolve().parents[2] / "cloud" / "api" / "routers"


def _tables(url: str) -> list[str]:
    store = EventStore(url)
    with store.engine.connect() as conn:
        tables = inspect(conn).get_table_names()
    store.dispose()
    return tables


@pytest.mark.parametrize(
    "command",
    [
        ["cloud", "create-admin"],
        ["cloud", "export-open-data", "--from", "2026-01-01T00:00Z", "--to", "2026-01-02T00:00Z"],
    ],
)
def test_commands_refuse_an_unmigrated_database_and_name_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    assert main([*command, "--database-url", url]) != 0
    error = capsys.readouterr().err
    assert "not at the latest schema revision" in error
    assert f"traffic-monitor cloud migrate --database-url '{url}'" in error
    assert _tables(url) == []  # nothing was created behind the operator's back


def test_cloud_migrate_brings_a_database_to_the_latest_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    assert main(["cloud", "migrate", "--database-url", url]) == 0
    store = EventStore(url)
    assert current_revisions(store) == head_revisions()
    store.dispose()
    assert "at revision" in capsys.readouterr().out
    assert main(["cloud", "create-admin", "--database-url", url]) == 0  # accepted now


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
    return modules


@pytest.mark.parametrize("router", sorted(ROUTERS.glob("*.py")), ids=lambda p: p.name)
def test_routers_reach_the_database_only_through_services(router: Path):
    """No router builds queries or holds a session: it gets services from ``cloud.api.deps``."""
    modules = _imported_modules(router)
    assert not {m for m in modules if m.split(".")[0] == "sqlalchemy"}
    source = router.read_text(encoding="utf-8")
    assert "app.state" not in source and "Db," not in source and ": Db" not in source

"""Sub-commands of the HTTP API: serve, create-admin, register-cameras, export-open-data."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cloud.api.settings import ApiSettings, load_settings
from cloud.db import Role
from cloud.migrations import current_revisions, require_current, upgrade
from cloud.services.accounts import count_admins, create_user
from cloud.services.ratelimit import is_shared
from cloud.services.security import generate_password
from cloud.store import EventStore
from cloud.store.cameras import CameraPosition, upsert_cameras
from traffic_monitor.contract.placement import SceneOutline, read_placement
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 5
"""On SIGTERM, open requests (live streams) get this long before they are closed."""


def register_api_commands(group: argparse._SubParsersAction[Any]) -> None:
    """Add ``migrate``, ``serve``, ``register-cameras``, ``create-admin``, ``export-open-data``."""
    p = group.add_parser("migrate", help="create or upgrade the database schema (Alembic)")
    _settings_args(p)
    p.add_argument("--revision", default="head", help="revision to reach (default head)")
    p.set_defaults(handler=run_migrate)

    p = group.add_parser("serve", help="run the HTTP API and the operations-centre page")
    _settings_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="server processes (default 1); above 1 the rate limits need a shared storage:"
        " TM_API_RATE_LIMIT_STORAGE=redis://host:6379/0",
    )
    p.add_argument(
        "--camera-config",
        type=Path,
        action="append",
        default=[],
        help="scene or edge-run YAML whose camera positions to register (repeatable)",
    )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="log every request (off by default: at hundreds of reports per second the log"
        " costs a tenth of the CPU; the reverse proxy in front usually keeps one)",
    )
    p.set_defaults(handler=run_serve)

    p = group.add_parser("register-cameras", help="store camera positions from scene configs")
    _settings_args(p)
    p.add_argument("configs", nargs="+", type=Path, help="scene or edge-run YAML files")
    p.set_defaults(handler=run_register_cameras)

    p = group.add_parser("create-admin", help="create an admin user with a generated password")
    _settings_args(p)
    p.add_argument("--username", default="admin", help="user name (default admin)")
    p.set_defaults(handler=run_create_admin)

    p = group.add_parser("export-open-data", help="write privacy-safe aggregated statistics")
    _settings_args(p)
    p.add_argument("--from", dest="start", required=True, help="start, ISO 8601 with offset")
    p.add_argument("--to", dest="end", required=True, help="end (exclusive), ISO 8601")
    p.add_argument("--interval-min", type=int, default=15, help="interval length (minutes)")
    p.add_argument("--k", type=int, help="suppress counts below k (default from settings)")
    p.add_argument("--out", type=Path, default=Path("open-data"), help="output folder")
    p.set_defaults(handler=run_export_open_data)


def _settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--settings", type=Path, help="JSON file of ApiSettings (TM_API_* env wins)")
    p.add_argument("--database-url", help="SQLAlchemy URL (overrides settings)")
    p.add_argument("--database-schema", help="PostgreSQL schema (overrides settings)")


def _settings(args: argparse.Namespace) -> ApiSettings:
    settings = load_settings(args.settings)
    update = {
        k: getattr(args, k)
        for k in ("database_url", "database_schema")
        if getattr(args, k) is not None
    }
    return settings.model_copy(update=update)


def open_store(settings: ApiSettings, migrate: bool = False) -> EventStore:
    """Open the store, checking that its schema is at the latest migration.

    Args:
        settings: Where the database is.
        migrate: Upgrade the schema first (``cloud migrate`` and the demo's fresh database);
            otherwise a database that is not at the latest revision is refused.

    Raises:
        UnmigratedDatabaseError: when not migrating and the schema is not up to date.
    """
    store = EventStore(settings.database_url, settings.database_schema)
    try:
        if migrate:
            upgrade(store)
        else:
            require_current(store)
    except BaseException:
        store.dispose()
        raise
    return store


def run_migrate(args: argparse.Namespace) -> int:
    """Create or upgrade the database schema to ``--revision`` (default: the latest)."""
    settings = _settings(args)
    store = EventStore(settings.database_url, settings.database_schema)
    try:
        upgrade(store, args.revision)
        revisions = ", ".join(sorted(current_revisions(store)))
    finally:
        store.dispose()
    print(f"database {store.url} at revision {revisions}")
    return 0


def ensure_admin(store: EventStore, username: str = "admin", force: bool = False) -> str | None:
    """Create an admin with a generated password when none exists (or ``force``).

    Returns:
        The generated password (to print once), or None when an admin already existed.
    """
    with store.session() as db:
        if count_admins(db) and not force:
            return None
        password = generate_password()
        create_user(db, username, password, Role.ADMIN)
        db.commit()
    return password


def positions_from_scenes(
    scenes: Iterable[SceneOutline], node_id: str | None = None
) -> list[CameraPosition]:
    """Camera positions of scene configs (read with ``contract.placement.read_placement``).

    Args:
        scenes: The scenes.
        node_id: The node they run on (from an ``edge run`` config's transport.mqtt): the
            only node whose messages for these cameras the consumer accepts.
    """
    out = []
    for scene in scenes:
        cam = scene.camera
        loc = cam.location
        out.append(
            CameraPosition(
                camera_id=cam.id,
                site_id=cam.site,
                node_id=node_id,
                name=cam.name,
                name_vi=cam.name_vi,
                name_en=cam.name_en,
                lat=loc.lat if loc else None,
                lon=loc.lon if loc else None,
                heading_deg=loc.heading_deg if loc else None,
            )
        )
    return out


def register_camera_configs(store: EventStore, paths: Sequence[Path]) -> list[CameraPosition]:
    """Read the camera sections of scene (or edge-run) configs and store their positions.

    Raises:
        UserFacingError: when a config cannot be read or is invalid.
    """
    positions = []
    for path in paths:
        placement = read_placement(path)
        positions += positions_from_scenes(placement.scenes, placement.node_id)
    with store.session() as db:
        upsert_cameras(db, positions)
        db.commit()
    return positions


def run_register_cameras(args: argparse.Namespace) -> int:
    """Store the camera positions of the given configs and list them."""
    store = open_store(_settings(args))
    try:
        positions = register_camera_configs(store, args.configs)
    finally:
        store.dispose()
    for p in positions:
        print(f"{p.site_id}/{p.camera_id}: {p.name or '-'} at {p.lat}, {p.lon}")
    return 0


def run_create_admin(args: argparse.Namespace) -> int:
    """Create an admin and print its generated password once."""
    store = open_store(_settings(args))
    try:
        password = ensure_admin(store, args.username, force=True)
    finally:
        store.dispose()
    print(f"admin user: {args.username}\npassword (shown once): {password}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve the API and page until interrupted (creating a first admin when none exists).

    With ``--workers N`` above 1, uvicorn starts N processes on one socket; each builds its
    application from the settings handed over in ``TM_SERVE_SETTINGS``.

    Raises:
        UserFacingError: several workers with rate limits counted in memory (each process
            would count alone, multiplying every limit by N).
    """
    import uvicorn

    from cloud.api.app import SETTINGS_ENV, create_app

    settings = _settings(args)
    if args.workers > 1 and not is_shared(settings.rate_limit_storage):
        raise UserFacingError(
            f"--workers {args.workers} needs rate limits that every process shares: set "
            "TM_API_RATE_LIMIT_STORAGE=redis://host:6379/0 (rate_limit_storage is "
            f"{settings.rate_limit_storage!r}, which each process would count alone)"
        )
    store = open_store(settings)
    _prepare_store(store, args.camera_config)
    print(f"operations centre: http://{args.host}:{args.port}/ ({args.workers} process(es))")
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        "access_log": args.access_log,
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_S,  # live streams never end by themselves
    }
    if args.workers > 1:
        store.dispose()  # each worker opens its own
        os.environ[SETTINGS_ENV] = settings.model_dump_json()
        factory = getattr(args, "app_factory", "cloud.api.app:create_app_from_environment")
        uvicorn.run(factory, factory=True, workers=args.workers, **options)
        return 0
    # the top layer (traffic_monitor.cli) wires the edge's detectors in as photo privacy
    photo_privacy = getattr(args, "photo_privacy", None)
    privacy = photo_privacy() if photo_privacy else None
    uvicorn.run(create_app(settings, store, photo_privacy=privacy), **options)
    store.dispose()
    return 0


def _prepare_store(store: EventStore, camera_configs: Sequence[Path]) -> None:
    """Create a first admin when none exists and register the cameras of the configs."""
    password = ensure_admin(store)
    if password is not None:
        print(f"first run: admin user 'admin', password (shown once): {password}")
    if camera_configs:
        count = len(register_camera_configs(store, camera_configs))
        print(f"registered {count} camera position(s)")


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UserFacingError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise UserFacingError(f"time {value!r} needs a UTC offset (e.g. +07:00 or Z)")
    return parsed.astimezone(UTC)


def run_export_open_data(args: argparse.Namespace) -> int:
    """Write CSV, JSON and DCAT metadata of aggregated statistics to ``--out``."""
    from cloud.opendata import OpenDataQuery, write_open_data

    settings = _settings(args)
    try:
        query = OpenDataQuery(
            start=_parse_time(args.start),
            end=_parse_time(args.end),
            interval_min=args.interval_min,
            k=args.k if args.k is not None else settings.open_data_k,
        )
    except ValidationError as exc:
        raise UserFacingError(f"invalid export period:\n{exc}") from exc
    store = open_store(settings)
    try:
        paths = write_open_data(store, query, args.out)
    finally:
        store.dispose()
    for path in paths:
        print(f"wrote {path}")
    return 0

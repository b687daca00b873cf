"""``make demo``: one command that brings the whole product up.

Starts (or reuses) the embedded PostgreSQL and Redis, migrates ``public`` and every
tenant, seeds the demo once, then serves the app with gunicorn on PORT (default 5000)
and one RQ worker, prints the addresses and logins, and on Ctrl-C stops everything it
started (servers that were already running are left running).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from tenants import runtime

ROOT = Path(__file__).resolve().parents[2]


def _postgres_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
        return True
    except (ValueError, ProcessLookupError, PermissionError):
        return False


def _redis_running(redis_dir: Path) -> bool:
    try:
        return bool(redis.Redis.from_url(f"unix://{runtime._redis_socket(redis_dir)}").ping())
    except (redis.ConnectionError, FileNotFoundError):
        return False


def main() -> int:
    port = int(os.environ.get("PORT", "5000"))
    host = os.environ.get("HOST", "127.0.0.1")
    instance = ROOT / "instance"
    pgdata, redis_dir = instance / "pg", instance / "redis"
    started_pg = not os.environ.get("DATABASE_URL") and not _postgres_running(pgdata)
    started_redis = not os.environ.get("REDIS_URL") and not _redis_running(redis_dir)

    from app import create_app
    from app.core.db import db
    from app.demo.data import MANUFACTURER_USERS, PASSWORD, TENANTS
    from app.demo.seed import seed_all

    app = create_app()
    with app.app_context():
        for line in seed_all(db.engine, db.session):
            print("  " + line, flush=True)
        db.session.remove()
        db.engine.dispose()
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"])
    bin_dir = Path(sys.executable).parent
    children = [
        subprocess.Popen([str(bin_dir / "gunicorn"), "--bind", f"{host}:{port}", "--workers", "2", "--threads", "4",
                          "--access-logfile", "-", "wsgi:app"], cwd=ROOT, env=env),
        subprocess.Popen([str(bin_dir / "flask"), "--app", "wsgi", "worker", "--no-fork"], cwd=ROOT, env=env),
    ]
    base = app.config["BASE_DOMAIN"]
    print("\nMedChannel is running. Ctrl-C stops it.\n")
    for slug, spec in TENANTS.items():
        print(f"  {spec['name']}: http://{slug}.{base}:{port}/")
    print(f"\n  Password for every demo login: {PASSWORD}")
    logins = [f"{u[0]}@<slug>.test" for u in MANUFACTURER_USERS] + ["dealer1@<slug>.test", "dealer2@<slug>.test",
                                                                    "hospital1@<slug>.test", "hospital2@<slug>.test"]
    print("  Logins: " + ", ".join(logins) + "\n", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.3)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if started_redis:
            runtime.stop_redis(redis_dir)
        if started_pg:
            runtime.stop_postgres(pgdata)
        print("MedChannel stopped.", flush=True)
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())

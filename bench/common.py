"""Shared bench plumbing: a separate database on the embedded server (or
BENCH_DATABASE_URL), so figures never touch the demo or the tests."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "medchannel_bench"


def bench_urls() -> tuple[str, str]:
    from tenants import runtime

    db_url = os.environ.get("BENCH_DATABASE_URL") or runtime.postgres_url(ROOT / "instance" / "pg", database=BENCH_DB)
    redis_url = os.environ.get("BENCH_REDIS_URL") or runtime.redis_url(ROOT / "instance" / "redis")
    return db_url, redis_url


def bench_app(**extra):
    from app import create_app

    db_url, redis_url = bench_urls()
    return create_app({"DATABASE_URL": db_url, "REDIS_URL": redis_url, **extra})


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

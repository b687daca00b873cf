"""The Redis connection and RQ queues, from ``REDIS_URL``."""
from __future__ import annotations

import redis
from flask import current_app
from rq import Queue


def init_app(app) -> None:
    app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"], health_check_interval=30)


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_redis())

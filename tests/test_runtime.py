"""The runtime pieces: RQ worker on the app's Redis, embedded servers, connection recycling."""
import operator

from sqlalchemy import text


def test_worker_command_runs_queued_jobs(app):
    from app.core.redis import get_queue

    with app.app_context():
        job = get_queue().enqueue(operator.add, 2, 3)
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    job.refresh()
    assert job.is_finished and job.return_value() == 5


def test_pooled_connections_are_recycled_after_their_uses(app):
    from sqlalchemy import create_engine

    from app import _bound_connection_lifetime

    engine = create_engine(app.config["DATABASE_URL"], pool_size=1, max_overflow=0)
    _bound_connection_lifetime(engine, 3)
    pids = []
    for _ in range(7):
        with engine.connect() as conn:
            pids.append(conn.execute(text("SELECT pg_backend_pid()")).scalar())
    engine.dispose()
    assert pids[0] == pids[1] == pids[2]
    assert pids[3] != pids[2] and pids[3] == pids[4] == pids[5]
    assert pids[6] != pids[5]


def test_embedded_redis_is_reused_not_restarted(tmp_path):
    import redis

    from tenants import runtime

    url = runtime.redis_url(tmp_path / "r")
    client = redis.Redis.from_url(url)
    client.set("k", "v")
    assert runtime.redis_url(tmp_path / "r") == url
    assert client.get("k") == b"v"
    runtime.stop_redis(tmp_path / "r")
    assert runtime.redis_url(tmp_path / "r") == url  # starts again on demand
    assert redis.Redis.from_url(url).get("k") == b"v"  # and kept its data
    runtime.stop_redis(tmp_path / "r")

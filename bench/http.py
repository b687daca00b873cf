"""HTTP throughput of a portal list page against /healthz, side by side in one run.

Serves the app with gunicorn on loopback (production server, sync workers) and loads it
with wrk (Debian's package; installed on first use when run as root) at 16 connections.
Target: the dealers list page at >= 15 % of /healthz requests/s, p95 <= 50 ms.

    python -m bench.http [--seconds 10] [--connections 16] [--workers 5]
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.common import ROOT, bench_app
from bench.generate import generate

USER_AGENT = "medchannel-bench"
LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f errors=%d p50_us=%d p95_us=%d p99_us=%d\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
        return shutil.which("wrk")
    sys.exit("wrk is needed: apt-get install wrk")


def _sign_in(port: int, host: str, email: str, password: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Host": host, "User-Agent": USER_AGENT}
    conn.request("GET", "/login", headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    from urllib.parse import urlencode

    form = urlencode({"csrf_token": token, "email": email, "password": password})
    conn.request("POST", "/login", body=form, headers={**headers, "Cookie": cookie,
                                                       "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    assert response.status == 303, f"sign-in failed: {response.status}"
    return response.getheader("Set-Cookie").split(";")[0]


def _wrk(wrk: str, url: str, host: str, seconds: int, connections: int, cookie: str | None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    cmd = [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", f.name,
           "-H", f"Host: {host}", "-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    fields = dict(kv.split("=") for kv in re.search(r"RESULT (.*)", out).group(1).split())
    requests, secs = int(fields["requests"]), float(fields["seconds"])
    return {"rps": requests / secs, "p50_ms": int(fields["p50_us"]) / 1000, "p95_ms": int(fields["p95_us"]) / 1000,
            "p99_ms": int(fields["p99_us"]) / 1000, "errors": int(fields["errors"]), "requests": requests}


def run(seconds: int = 10, connections: int = 16, workers: int = 4, worker_class: str = "gthread",
        threads: int = 4) -> list[str]:
    wrk = _ensure_wrk()
    app = bench_app()
    lines = [generate(app)]
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"],
               LOGIN_MAX_FAILURES="1000")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", worker_class, "--threads", str(threads), "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env)
    try:
        host = "bench.localhost"
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        cookie = _sign_in(port, host, "admin@bench.test", "MedChannel-demo-1")
        base = f"http://127.0.0.1:{port}"
        pages = [("/healthz", None), ("/manufacturer/dealers", cookie), ("/manufacturer/hospitals?q=%E4%BA%BA%E6%B0%91", cookie)]
        for path, ck in pages:  # warm every worker's pool and caches
            _wrk(wrk, base + path, host, 2, connections, ck)
        results = {path: _wrk(wrk, base + path, host, seconds, connections, ck) for path, ck in pages}
        health = results["/healthz"]["rps"]
        lines.append(f"gunicorn {worker_class} x{workers}" + (f" ({threads} threads)" if worker_class == "gthread" else "")
                     + f" on 127.0.0.1, wrk -t2 -c{connections}, {seconds} s per page, after a 2 s warm-up")
        for path, r in results.items():
            share = f"{100 * r['rps'] / health:5.1f} % of /healthz" if path != "/healthz" else "baseline"
            lines.append(f"  {path:<36} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
                         f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}  ({share})")
        parent = psutil.Process(server.pid)
        rss = [p.memory_info().rss / 2**20 for p in parent.children()]
        lines.append(f"  gunicorn worker RSS after the run: {', '.join(f'{m:.0f}' for m in rss)} MiB")
        lines.append("  targets: list page >= 15 % of /healthz throughput, p95 <= 50 ms")
    finally:
        server.terminate()
        server.wait(10)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    for line in run(args.seconds, args.connections, args.workers, args.worker_class, args.threads):
        print(line, flush=True)


if __name__ == "__main__":
    main()

"""Coordinator desk benchmark: the queue, a case page and the figures at 100,000 cases, under wrk.

    .venv/bin/python bench/desk.py [--db sqlite|postgresql|both] [--cases 100000] [--events 1000000]
                                    [--duration 10] [--connections 8] [--workers 2] [--keep DIR] [--reuse]

For each database, in one run on one machine:
1. a new database (a SQLite file, or a new PostgreSQL database `bench_validation` on 127.0.0.1:5432) is
   migrated and filled by `validation seed` (50 credentials, 200 assessors, cases in every state, a million
   audit events whose chain verifies);
2. the app is served by gunicorn (`--workers` sync workers), and the bench coordinator signs in over HTTP;
3. wrk (Debian's package; installed with apt-get when missing) loads each URL for `--duration` seconds with
   `--connections` connections and reports requests per second and the 95th percentile of latency; the
   ceiling is `/healthz` of the same app served the same way, measured again around each URL (half the
   duration before, half after) so that each share is of the ceiling of the same minutes; the yardstick is a
   bare indexed query of 50 cases returned as JSON (`bench/calibration.py`), the comparison the goal is set
   against, followed by two steps from it towards a page (signed in; as a table in the site's layout); the
   case page is followed by its reads alone, shown as nothing but the layout;
4. in the same process as the app, the kept counts per state and the first page of the list are each timed
   (median of 50): the counts must cost no more than the list.

It prints one table per database: URL, requests/s, the ceiling around it, its share of that, p95 latency.
Goals: list and case pages >= 30 % of the ceiling, dashboard p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serving import ensure_command, free_port, start_server  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PG_ADMIN = "postgresql+psycopg://root@127.0.0.1:5432/postgres"
PG_BENCH = "postgresql+psycopg://root@127.0.0.1:5432/bench_validation"
P95_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("P95_US %d\\n", latency:percentile(95)))
end
"""


def fresh_postgres() -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS bench_validation WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE bench_validation"))
    engine.dispose()


def postgres_seeded() -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_BENCH)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(sa.text("SELECT count(*) FROM cases")).scalar())
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def seed(env: dict[str, str], cases: int, events: int) -> None:
    run = {**os.environ, **env}
    subprocess.run([str(BIN / "validation"), "db", "upgrade"], check=True, env=run, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    subprocess.run([str(BIN / "validation"), "seed", "--yes", "--cases", str(cases), "--events", str(events)],
                   check=True, env=run, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"  seeded {cases:,} cases and {events:,} audit events in {time.perf_counter() - started:.0f} s")


def request(port: int, method: str, path: str, cookie: str = "", body: str = "") -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    found = {k.lower(): v for k, v in response.getheaders()}
    conn.close()
    return response.status, found, text


def sign_in(port: int, email: str, password: str) -> str:
    status, headers, page = request(port, "GET", "/login")
    cookie = headers.get("set-cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    status, headers, _ = request(port, "POST", "/login", cookie,
                                 urlencode({"login": email, "password": password, "csrf_token": token.group(1)}))
    assert status == 302, f"sign-in failed: {status}"
    return headers.get("set-cookie", "").split(";")[0] or cookie


def wrk(binary: str, port: int, path: str, cookie: str, duration: int, connections: int,
        script: Path) -> tuple[float, float]:
    result = subprocess.run(
        [binary, "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--timeout", "30s", "-s", str(script),
         "-H", f"Cookie: {cookie}", f"http://127.0.0.1:{port}{path}"],
        check=True, capture_output=True, text=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    p95 = re.search(r"P95_US (\d+)", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if errors:
        raise SystemExit(f"{path}: {errors.group(1)} error responses\n{result.stdout}")
    assert rate and p95, result.stdout
    return float(rate.group(1)), int(p95.group(1)) / 1000


def deep_page(port: int, cookie: str, pages: int) -> str:
    """The URL of the page reached by following "Next page" `pages` times."""
    url = "/coordinator/"
    for _ in range(pages):
        _status, _, page = request(port, "GET", url, cookie)
        found = re.search(r'href="([^"]+)" rel="next"', page)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    return url


def in_process_timings(env: dict[str, str]) -> tuple[float, float]:
    """Median milliseconds of the kept counts and of the first page of the list, inside the app."""
    os.environ.update(env)
    from validation import create_app
    from validation.extensions import db
    from validation.services import queues

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"]})
    with app.app_context():
        def median_ms(work) -> float:  # type: ignore[no-untyped-def]
            times = []
            for _ in range(50):
                started = time.perf_counter()
                work()
                times.append((time.perf_counter() - started) * 1000)
            return statistics.median(times)

        counts = median_ms(queues.counts)
        listing = median_ms(lambda: queues.page(queues.Filters()))
        db.session.remove()
        db.engine.dispose()
    return counts, listing


def bench(backend: str, args: argparse.Namespace, binary: str, folder: Path) -> None:
    print(f"\n== {backend} ==")
    reuse = False
    if backend == "sqlite":
        path = folder / "bench.sqlite3"
        reuse = args.reuse and path.exists()
        if not reuse:  # a kept folder's database of an earlier run is replaced, not seeded twice
            for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        reuse = args.reuse and postgres_seeded()
        if not reuse:
            fresh_postgres()
        url = PG_BENCH
    env = {"DATABASE_URL": url, "EVIDENCE_DIR": str(folder / "evidence"), "MAIL_DIR": str(folder / "mail"),
           "SECRET_KEY": "bench-secret-key", "RATELIMIT_STORAGE_URI": "memory://"}
    if reuse:
        print("  reusing the data seeded by an earlier run (migrated to the code's schema)")
        subprocess.run([str(BIN / "validation"), "db", "upgrade"], check=True, env={**os.environ, **env}, cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        seed(env, args.cases, args.events)
    from validation.demo.seed import COORDINATOR, PASSWORD

    port = free_port()
    server = start_server(env, port, args.workers, timeout=120, app="calibration:create_app()")
    try:
        cookie = sign_in(port, COORDINATOR, PASSWORD)
        status, _, page = request(port, "GET", "/coordinator/?state=under_review", cookie)
        case = re.search(r'href="/cases/(\d+)"', page)
        assert status == 200 and case, "the queue did not list a case"
        urls = [
            ("ceiling: /healthz", "/healthz"),
            ("yardstick: bare query, 50 as JSON", "/bench/bare"),
            ("  the same, signed in", "/bench/bare/signed-in"),
            ("  the same as a page, signed in", "/bench/bare/page"),
            ("queue, first page", "/coordinator/"),
            ("queue, under review, Ukrainian", "/coordinator/?state=under_review&language=uk"),
            ("queue, overdue, by due date", "/coordinator/?overdue=y&sort=due"),
            ("queue, sector and target group", "/coordinator/?sector=ict&target_group=displaced"),
            ("queue, page 200", deep_page(port, cookie, 200)),
            ("case page", f"/cases/{case.group(1)}"),
            ("  its reads alone, in the layout", f"/bench/case/{case.group(1)}/reads"),
            ("figures, per credential", "/coordinator/reports?group=credential"),
        ]
        script = folder / "p95.lua"
        script.write_text(P95_SCRIPT)
        for _, path in urls:  # every URL answers, and is warm
            status, _, _ = request(port, "GET", path, cookie)
            assert status == 200, f"{path}: {status}"
        # The ceiling is measured again around each URL, for half the time before it and half after, and each
        # URL's share is of those two: a shared machine's speed drifts by half from minute to minute, more
        # than a page's share of one ceiling measured minutes earlier could survive.
        half = max(args.duration // 2, 2)

        def ceiling() -> float:
            return wrk(binary, port, urls[0][1], cookie, half, args.connections, script)[0]

        results = []
        for label, path in urls[1:]:
            before = ceiling()
            rate, p95 = wrk(binary, port, path, cookie, args.duration, args.connections, script)
            results.append((label, rate, (before + ceiling()) / 2, p95))
    finally:
        server.terminate()
        server.wait(timeout=30)
    around = [c for _, _, c, _ in results]
    print(f"ceiling {urls[0][1]}: {statistics.mean(around):.1f} req/s on average, {min(around):.1f} to "
          f"{max(around):.1f} around the URLs below")
    print(f"{'URL':<34} {'req/s':>9} {'ceiling':>9} {'of ceiling':>11} {'p95 ms':>9}")
    for label, rate, around_it, p95 in results:
        print(f"{label:<34} {rate:>9.1f} {around_it:>9.1f} {100 * rate / around_it:>10.1f} % {p95:>9.1f}")
    counts, listing = in_process_timings(env)
    print(f"in the app: kept counts per state {counts:.2f} ms, first page of the list {listing:.2f} ms (medians)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the SQLite database and files in this folder")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data an earlier run seeded (in --keep, and in bench_validation)")
    args = parser.parse_args()
    binary = ensure_command("wrk")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-queue-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{args.cases:,} cases, {args.events:,} audit events; wrk {args.duration} s x {args.connections} "
          f"connections; gunicorn {args.workers} sync workers; {os.cpu_count()} CPUs")
    try:
        for backend in (("sqlite", "postgresql") if args.db == "both" else (args.db,)):
            bench(backend, args, binary, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

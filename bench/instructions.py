"""Instructions per request of the desk's pages, counted by callgrind: a figure that the machine's noise leaves
alone, to compare two versions of the code where requests per second vary by a quarter from run to run.

    .venv/bin/python bench/instructions.py [--db sqlite|postgresql] [--keep /tmp/desk] [--requests 10]

It measures the database an earlier `bench/desk.py --keep DIR` seeded (the SQLite file in DIR, or the
PostgreSQL database `bench_validation`). The app runs in this process under `valgrind --tool=callgrind`
(Debian's package; installed with apt-get when missing), driven by Flask's test client, signed in as the bench
coordinator. Counting is switched on only around the requests of each URL, after three warm-up requests, so
starting Python and the app costs nothing here. It prints, per URL, millions of instructions per request and
the ratio to `/healthz`; on PostgreSQL, then, the server's own CPU time per request, which callgrind does not
see (measured without valgrind, over 500 requests of each URL). Counted instructions are not time (a cache
miss costs more than an addition): the share of the ceiling under wrk is the goal's measure; this one says
whether a change made a page cheaper.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from serving import ensure_command  # noqa: E402

PG_BENCH = "postgresql+psycopg://root@127.0.0.1:5432/bench_validation"
UNDER_VALGRIND = "VALIDATION_BENCH_UNDER_CALLGRIND"


def signed_in(args: argparse.Namespace) -> tuple[Any, Any, list[str]]:
    """The app on the seeded database, a test client signed in as the bench coordinator, and the URLs."""
    sys.path.insert(0, str(ROOT))
    url = f"sqlite:///{args.keep / 'bench.sqlite3'}" if args.db == "sqlite" else PG_BENCH
    os.environ.update({"DATABASE_URL": url, "EVIDENCE_DIR": str(args.keep / "evidence"),
                       "MAIL_DIR": str(args.keep / "mail"), "SECRET_KEY": "bench-secret-key",
                       "RATELIMIT_STORAGE_URI": "memory://"})
    from validation import create_app
    from validation.demo.seed import COORDINATOR, PASSWORD

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    signed = client.post("/login", data={"login": COORDINATOR, "password": PASSWORD, "csrf_token": token.group(1)})
    assert signed.status_code == 302, "the bench coordinator could not sign in: seed with bench/desk.py first"
    queue = client.get("/coordinator/?state=under_review").get_data(as_text=True)
    case = re.search(r'href="/cases/(\d+)"', queue)
    assert case, "the queue did not list a case"
    return app, client, ["/healthz", "/coordinator/", "/coordinator/?sector=ict&target_group=displaced",
                         f"/cases/{case.group(1)}"]


def measure(args: argparse.Namespace, folder: Path) -> None:
    """Inside valgrind: serve each URL `args.requests` times with counting on, and dump one file per URL."""
    _app, client, urls = signed_in(args)

    def control(*options: str) -> None:
        subprocess.run(["callgrind_control", *options, str(os.getpid())], check=True, stdout=subprocess.DEVNULL)

    for number, path in enumerate(urls):
        for _ in range(3):
            assert client.get(path).status_code == 200, path
        control("--zero")
        control("--instr=on")
        for _ in range(args.requests):
            client.get(path).get_data()
        control("--instr=off")
        control(f"--dump=url{number}")
    (folder / "urls").write_text("\n".join(urls))


def server_cpu(args: argparse.Namespace, requests: int = 500) -> None:
    """PostgreSQL's own work per request: the CPU time of the server process that serves the app's connection
    (read from /proc before and after), over `requests` requests of each URL, outside valgrind. Requests are
    served one at a time, so the pool lends the same connection to each."""
    import sqlalchemy as sa

    from validation.extensions import db

    app, client, urls = signed_in(args)
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(pid: int) -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks

    print(f"postgresql: the server's CPU per request, {requests} requests per URL")
    for path in urls[1:]:
        for _ in range(10):
            client.get(path)
        with app.app_context():
            pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        before = cpu(pid)
        for _ in range(requests):
            client.get(path).get_data()
        print(f"{path:<50} {(cpu(pid) - before) / tick / requests * 1000:>6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--keep", type=Path, default=Path("/tmp/desk"),
                        help="the folder bench/desk.py --keep seeded (SQLite file, evidence and mail)")
    parser.add_argument("--requests", type=int, default=10, help="requests counted per URL")
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.environ.get(UNDER_VALGRIND):
        measure(args, args.folder)
        return
    valgrind = ensure_command("valgrind")
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as name:
        folder = Path(name)
        subprocess.run(
            [valgrind, "--tool=callgrind", "--instr-atstart=no", "--cache-sim=no",
             f"--callgrind-out-file={folder}/callgrind.out", sys.executable, __file__,
             "--db", args.db, "--keep", str(args.keep), "--requests", str(args.requests), "--folder", str(folder)],
            check=True, cwd=ROOT, env={**os.environ, UNDER_VALGRIND: "1", "PYTHONHASHSEED": "0"},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        urls = (folder / "urls").read_text().splitlines()
        counts: list[float] = []
        for dump in sorted(folder.glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1])):
            text = dump.read_text(errors="replace")
            if "Trigger: dump url" not in text:
                continue
            totals = re.search(r"^totals:\s+(\d+)", text, re.M)
            assert totals, dump
            counts.append(int(totals.group(1)) / args.requests / 1e6)
    assert len(counts) == len(urls), (counts, urls)
    print(f"{args.db}: instructions per request, {args.requests} requests per URL, counted by callgrind")
    print(f"{'URL':<50} {'M instr.':>9} {'x /healthz':>11}")
    for path, count in zip(urls, counts, strict=True):
        print(f"{path:<50} {count:>9.2f} {count / counts[0]:>11.2f}")
    if args.db == "postgresql":
        server_cpu(args)


if __name__ == "__main__":
    main()

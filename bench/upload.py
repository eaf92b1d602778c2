"""Upload benchmark: a 200 MB video through the resumable path (tus) and through the plain form, against
the disk's own speed, with the server's memory watched. Prints figures; asserts nothing.

    .venv/bin/python bench/upload.py [--size-mb 200] [--rounds 3] [--chunk-mb 32] [--dir DIR] [--keep]

What it does, all on one machine in one run:
1. writes two different, valid MP4 files of the given size (a large `mdat` box: the decoder reads the
   boxes' headers and the small `moov`, so the file streams through the real checks);
2. measures `dd if=FILE of=OUT bs=1M conv=fsync` in the same folder: the ceiling for writing the bytes;
3. starts the app under gunicorn (one sync worker) with its own SQLite database and evidence folder in a
   temporary folder, and a candidate with an open case made through the services;
4. signs in over HTTP, sends the first file with tus (32 MB PATCHes from the file, over http.client) and
   the second with the plain multipart form (the body generated from the file, never read whole), while a
   thread samples the server's resident memory (psutil) every 20 ms;
5. prints, for each round (steps 1, 2 and 4 again with new files; 3 by default), dd MB/s, the throughput of
   each path, its ratio to that round's dd and the memory growth, then the median ratios: dd alone varies
   by a quarter from one run to the next on a shared virtual machine.

Goals: each path at least 40 % of dd; less than 30 MB of server memory growth.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from serving import free_port, start_server  # noqa: E402

MB = 1024 * 1024
PASSWORD = "bench password 2024"
EMAIL = "bench-candidate@bench.example"
BLOCK = 1 * MB


# --- the files ----------------------------------------------------------------------------------------


def write_mp4(path: Path, size: int) -> None:
    """ftyp, a tiny moov, then an mdat box filling the rest with random bytes (no two files alike)."""
    ftyp = (24).to_bytes(4, "big") + b"ftypisom" + b"\x00\x00\x02\x00" + b"isommp41"
    moov = (8).to_bytes(4, "big") + b"moov"
    media = size - len(ftyp) - len(moov) - 16
    mdat = (1).to_bytes(4, "big") + b"mdat" + (media + 16).to_bytes(8, "big")
    with path.open("wb") as out:
        out.write(ftyp + moov + mdat)
        left = media
        while left:
            block = os.urandom(min(BLOCK, left))
            out.write(block)
            left -= len(block)
        out.flush()
        os.fsync(out.fileno())


def dd_rate(source: Path, folder: Path) -> float:
    target = folder / "dd.out"
    started = time.perf_counter()
    subprocess.run(["dd", f"if={source}", f"of={target}", "bs=1M", "conv=fsync"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    target.unlink()
    return source.stat().st_size / MB / elapsed


# --- the server ---------------------------------------------------------------------------------------


def prepare(env: dict[str, str]) -> int:
    """Migrate the database, load the demo catalog, make a candidate with an open case; returns its id."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from validation import create_app
    from validation.extensions import db
    from validation.services import accounts, cases, catalog

    app = create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "EVIDENCE_DIR": env["EVIDENCE_DIR"]})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        catalog.import_catalog(ROOT / "validation" / "demo" / "catalog.yaml")
        candidate = accounts.create_user(email=EMAIL, display_name="Bench Candidate", password=PASSWORD,
                                         role="candidate", actor=None)
        credential = catalog.by_code("UA-BAKERY")
        assert credential is not None
        case = cases.open_case(candidate, credential.id)
        db.session.commit()
        case_id = case.id
        db.engine.dispose()
    return case_id


def worker_of(server: subprocess.Popen[bytes]) -> psutil.Process:
    master = psutil.Process(server.pid)
    for _ in range(100):
        children = master.children()
        if children:
            return children[0]
        time.sleep(0.05)
    raise SystemExit("no gunicorn worker")


class Sampler:
    """The largest resident size of a process while a `with` block runs, sampled every 20 ms."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = 0
        self.before = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self.before = self.process.memory_info().rss
        self.peak = self.before
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.before) / MB


# --- a browser, as far as the benchmark needs one -----------------------------------------------------


class Browser:
    """Cookies and requests over http.client; one connection per request (gunicorn's sync worker closes)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600, blocksize=BLOCK)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        connection.close()
        return response, data

    def page(self, path: str) -> str:
        response, data = self.request("GET", path)
        assert response.status == 200, (path, response.status)
        return data.decode()


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert match, f"no {name} on the page"
    return match.group(1)


def form_encode(values: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(values).encode()


def sign_in(browser: Browser) -> None:
    html = browser.page("/login")
    login_field = "login" if 'name="login"' in html else "email"
    body = form_encode({"csrf_token": field(html, "csrf_token"), login_field: EMAIL, "password": PASSWORD})
    response, _ = browser.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 302, f"sign-in failed: {response.status}"


class Slice:
    """`length` bytes of a file from `offset`, read as http.client sends a body: block by block."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self.handle = path.open("rb")
        self.handle.seek(offset)
        self.left = length

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        block = self.handle.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(block)
        return block

    def close(self) -> None:
        self.handle.close()


def tus_upload(browser: Browser, case_id: int, path: Path, chunk: int) -> None:
    html = browser.page(f"/cases/{case_id}")
    outcome = re.search(r'name="outcomes" value="(\d+)"', html)
    assert outcome
    meta = {"filename": path.name, "title": "Bench video (tus)", "outcomes": outcome.group(1),
            "version": field(html, "version"), "client_token": field(html, "client_token")}
    headers = {"Tus-Resumable": "1.0.0", "X-CSRFToken": field(html, "csrf_token")}
    size = path.stat().st_size
    created, body = browser.request("POST", f"/cases/{case_id}/uploads", headers={
        **headers, "Upload-Length": str(size),
        "Upload-Metadata": ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items()),
    })
    assert created.status == 201, (created.status, body)
    location = urlsplit(created.headers["Location"]).path
    offset = 0
    while offset < size:
        length = min(chunk, size - offset)
        part = Slice(path, offset, length)
        try:
            response, body = browser.request("PATCH", location, part, {
                **headers, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),
            })
        finally:
            part.close()
        assert response.status == 204, (response.status, body[:300])
        offset = int(response.headers["Upload-Offset"])


def form_upload(browser: Browser, case_id: int, path: Path) -> None:
    html = browser.page(f"/cases/{case_id}")
    outcome = re.search(r'name="outcomes" value="(\d+)"', html)
    assert outcome
    boundary = uuid.uuid4().hex
    fields = {"csrf_token": field(html, "csrf_token"), "version": field(html, "version"),
              "client_token": field(html, "client_token"), "kind": "file", "title": "Bench video (form)",
              "outcomes": outcome.group(1)}
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ) + (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
         "Content-Type: video/mp4\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = path.stat().st_size

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            while block := handle.read(BLOCK):
                yield block
        yield tail

    response, data = browser.request("POST", f"/cases/{case_id}/evidence", body(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
    })
    assert response.status == 302, (response.status, data[:500])


# --- the run ----------------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=ROOT / "instance",
                        help="where the files, database and evidence go (the disk that is measured)")
    parser.add_argument("--chunk-mb", type=int, default=32, help="size of a resumable PATCH (the page's default: 32)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of dd + both uploads, each with new files; the median ratio is the figure")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=args.dir))
    size = args.size_mb * MB
    chunk = args.chunk_mb * MB
    server: subprocess.Popen[bytes] | None = None
    try:
        env = {
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "EVIDENCE_DIR": str(folder / "evidence"),
            "SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "MAX_FILE_BYTES": str(size + 10 * MB),
            "CASE_QUOTA_BYTES": str((2 * args.rounds + 1) * size),
            "UPLOAD_CHUNK_BYTES": str(chunk),  # the most one PATCH carries; it goes straight to the part file
        }
        case_id = prepare(env)
        port = free_port()
        server = start_server(env, port)
        browser = Browser(port)
        sign_in(browser)
        browser.page(f"/cases/{case_id}")  # the worker has served a page before anything is measured
        worker = worker_of(server)

        print(f"file size {args.size_mb} MB (MP4), folder {args.dir}, {args.chunk_mb} MB resumable chunks")
        print("round   dd MB/s   tus MB/s (% of dd, memory)      form MB/s (% of dd, memory)")
        tus_ratios: list[float] = []
        form_ratios: list[float] = []
        growth: list[float] = []
        for number in range(1, args.rounds + 1):
            # New bytes every round: the store keeps the same bytes once, and a repeat would skip its rename.
            first, second = folder / f"tus-{number}.mp4", folder / f"form-{number}.mp4"
            write_mp4(first, size)
            write_mp4(second, size)
            dd = dd_rate(first, folder)
            with Sampler(worker) as tus_memory:
                started = time.perf_counter()
                tus_upload(browser, case_id, first, chunk)
                tus_rate = size / MB / (time.perf_counter() - started)
            with Sampler(worker) as form_memory:
                started = time.perf_counter()
                form_upload(browser, case_id, second)
                form_rate = size / MB / (time.perf_counter() - started)
            first.unlink()
            second.unlink()
            tus_ratios.append(tus_rate / dd)
            form_ratios.append(form_rate / dd)
            growth += [tus_memory.growth_mb, form_memory.growth_mb]
            print(f"{number:5d} {dd:9.1f} {tus_rate:10.1f} ({100 * tus_rate / dd:5.1f} %, "
                  f"+{tus_memory.growth_mb:4.1f} MB) {form_rate:12.1f} ({100 * form_rate / dd:5.1f} %, "
                  f"+{form_memory.growth_mb:4.1f} MB)")
        print(f"median: resumable {100 * median(tus_ratios):.1f} % of dd, plain form {100 * median(form_ratios):.1f} %"
              f" of dd; largest server memory growth {max(growth):.1f} MB")
        print("goals: >= 40 % of dd, < 30 MB memory growth")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

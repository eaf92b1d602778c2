"""Serving the app for a benchmark: a free port on the loopback, and gunicorn started and waited for."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_command(command: str, package: str | None = None) -> str:
    """The path of `command`, installing its Debian package (named `package`, else like the command) when it is
    missing: a bench needs nothing installed by hand."""
    found = shutil.which(command)
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package or command], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return shutil.which(command) or command


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(env: dict[str, str], port: int, workers: int = 1, timeout: int = 600,
                 app: str = "validation:create_app()") -> subprocess.Popen[bytes]:
    """gunicorn with `workers` sync workers on 127.0.0.1:`port`, once it accepts connections. `app` may name a
    module of bench/ (as `calibration:create_app()` does)."""
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(workers), "--worker-class", "sync",
         "--timeout", str(timeout), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "--pythonpath", str(ROOT / "bench"), app],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the server did not start: " + (server.stderr.read().decode() if server.stderr else ""))

"""Transfer size of every page a candidate sees: HTML + the CSS and JavaScript it loads, as sent over the wire.

Usage: .venv/bin/python bench/page_weight.py [--budget-kb 50]

A fresh database with the demo data (the demo candidate has a draft case, a case waiting for more evidence
and a partial award), the app's own responses through its WSGI interface, and a browser's Accept-Encoding
over HTTPS ("gzip, deflate, br, zstd"). Each page is measured twice: as configured by default (HTML sent
uncompressed, see COMPRESS_HTML in the README) and with COMPRESS_HTML on. Prints a table and exits 1 if a
page is over the budget in the default configuration.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACCEPT = "gzip, deflate, br, zstd"
ASSET = re.compile(r'\s(?:href|src)="(/static/[^"?#]+)')  # not data-tus-src: loaded on choosing a file
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _app(instance: Path, compress_html: bool):  # type: ignore[no-untyped-def]
    os.environ["COMPRESS_HTML"] = "1" if compress_html else "0"
    from validation import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'bench.sqlite3'}",
        "EVIDENCE_DIR": str(instance / "evidence"),
        "SECRET_KEY": "bench",
        "RATELIMIT_ENABLED": False,
    })


def _prepare(instance: Path) -> None:
    from flask_migrate import upgrade

    from validation.demo import load
    from validation.extensions import db

    app = _app(instance, False)
    with app.app_context():
        upgrade()
        load()
        db.session.commit()


def _transferred(response) -> int:  # type: ignore[no-untyped-def]
    return len(response.get_data())  # the body as sent: compressed when Content-Encoding says so


def _pages(client) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(name, url) of the candidate's pages, found the way a person finds them: from the home page."""
    plain = {"Accept-Encoding": "identity"}
    home = client.get("/my", headers=plain).get_data(as_text=True)
    case_urls = list(dict.fromkeys(re.findall(r'href="(/cases/\d+)"', home)))
    award_urls = []
    pages = [("home", "/my"), ("profile", "/profile"), ("intake", "/my/intake"),
             ("catalog", "/catalog"), ("credential", "/catalog/UA-BAKERY")]
    for url in case_urls:
        html = client.get(url, headers=plain).get_data(as_text=True)
        state = re.search(r'class="badge state-(\w+)"', html)
        pages.append((f"case ({state.group(1) if state else '?'})", url))
        award_urls += re.findall(r'href="(/awards/\d+)"', html)
        pages += [("ask a referee", u) for u in re.findall(r'href="(/cases/\d+/referees/new)"', html)]
    pages += [("certificate", u) for u in dict.fromkeys(award_urls)]
    return list(dict.fromkeys(pages))


def measure(instance: Path, compress_html: bool) -> dict[str, tuple[int, int, int, int]]:
    app = _app(instance, compress_html)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_ENCODING"] = ACCEPT
    results: dict[str, tuple[int, int, int, int]] = {}

    def one(name: str, url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            print(f"  (skipped {name} {url}: {response.status_code})", file=sys.stderr)
            return
        html_raw = len(response.get_data()) if "Content-Encoding" not in response.headers else None
        html = _transferred(response)
        text = client.get(url, headers={"Accept-Encoding": "identity"}).get_data(as_text=True)
        css = js = 0
        for asset in dict.fromkeys(ASSET.findall(text)):
            size = _transferred(client.get(asset))
            if asset.endswith(".css"):
                css += size
            elif asset.endswith(".js"):
                js += size
        results[name] = (html, css, js, html_raw if html_raw is not None else len(text.encode()))

    for name, url in (("front page", "/"), ("sign in", "/login"), ("register", "/register"),
                      ("access code", "/access-code")):
        one(name, url)
    token = CSRF.search(client.get("/login", headers={"Accept-Encoding": "identity"}).get_data(as_text=True))
    assert token, "no CSRF token on the sign-in page"
    from validation.demo import PASSWORD

    signed = client.post("/login", data={"login": "candidate@demo.example", "password": PASSWORD,
                                         "csrf_token": token.group(1)})
    assert signed.status_code == 302, signed.status_code
    for name, url in _pages(client):
        one(name, url)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-kb", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        _prepare(instance)
        default = measure(instance, compress_html=False)
        compressed = measure(instance, compress_html=True)
    kb = 1024
    print(f"{'page':<28}{'HTML raw':>10}{'HTML sent':>11}{'CSS':>8}{'JS':>8}{'total':>9}{'total, HTML compressed':>24}")
    worst = 0.0
    for name, (html, css, js, raw) in default.items():
        total = (html + css + js) / kb
        worst = max(worst, total)
        c_html, c_css, c_js, _ = compressed.get(name, (html, css, js, raw))
        print(f"{name:<28}{raw / kb:>9.1f}K{html / kb:>10.1f}K{css / kb:>7.1f}K{js / kb:>7.1f}K{total:>8.1f}K"
              f"{(c_html + c_css + c_js) / kb:>23.1f}K")
    print(f"heaviest page: {worst:.1f} KB (budget {args.budget_kb:.0f} KB, Accept-Encoding: {ACCEPT})")
    return 0 if worst <= args.budget_kb else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Headers and cookies every page carries, and pages that load nothing from anywhere but the app itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, csrf_token, post, statements
from tests.web.test_access_matrix import ROLES, build_world, routes, signed_in, url

SAFE_REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
APP_HOSTS = {"localhost"}


# --- what a response must carry ------------------------------------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), words[1:])
    return directives


def check_headers(response, what: str, *, signed_in_user: bool) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    csp = headers.get("Content-Security-Policy")
    assert csp, f"{what}: no Content-Security-Policy"
    directives = csp_directives(csp)
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None, f"{what}: the CSP does not restrict scripts: {csp}"
    assert "'unsafe-inline'" not in scripts, f"{what}: script-src allows inline scripts: {csp}"
    assert "'unsafe-eval'" not in scripts, f"{what}: script-src allows eval: {csp}"
    for source in scripts:
        assert source.startswith("'") and source.endswith("'"), f"{what}: script-src names a host: {source}"
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    referrer = headers.get("Referrer-Policy")
    assert referrer in SAFE_REFERRER_POLICIES, f"{what}: Referrer-Policy {referrer!r}"
    if signed_in_user:
        cache = {d.strip().lower() for d in headers.get("Cache-Control", "").split(",")}
        assert "no-store" in cache, f"{what}: a signed-in page may be cached: {cache}"


def is_html(response) -> bool:  # type: ignore[no-untyped-def]
    return response.mimetype == "text/html"


class Resources(HTMLParser):
    """Every script, stylesheet, font, preload and inline script or handler a page has."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[tuple[str, str]] = []
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self._in_script = False
        self._style_text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        self.handlers += [f"<{tag} {k}>" for k in values if k.startswith("on")]
        if tag == "script":
            if values.get("src"):
                self.loaded.append(("script", values["src"]))
            else:
                self._in_script = True
        elif tag == "link" and values.get("href"):
            self.loaded.append((f"link rel={values.get('rel', '')}", values["href"]))
        elif tag == "style":
            self._in_style = True
        if "style" in values:
            self._style_text.append(values["style"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1
        if self._in_style:
            self._style_text.append(data)

    @property
    def style_text(self) -> str:
        return "\n".join(self._style_text)


def is_external(address: str) -> bool:
    """Absolute or protocol-relative addresses are external unless they name the app's own host."""
    parts = urlsplit(address.strip())
    if parts.scheme.lower() == "data":
        return False
    if not parts.scheme and not parts.netloc:
        return False  # relative to the app
    return (parts.hostname or "") not in APP_HOSTS


def css_references(css: str) -> list[str]:
    found = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
    found += re.findall(r"@import\s+['\"]([^'\"]+)", css)
    return found


def check_page(response, what: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The local stylesheets and scripts the page uses, after checking it uses nothing else."""
    parser = Resources()
    parser.feed(response.get_data(as_text=True))
    external = [f"{kind} {href}" for kind, href in parser.loaded if is_external(href)]
    external += [f"inline style {ref}" for ref in css_references(parser.style_text) if is_external(ref)]
    assert not external, f"{what}: loads from outside the app: {external}"
    assert parser.inline_scripts == 0, f"{what}: has an inline script, which its own CSP blocks"
    assert not parser.handlers, f"{what}: inline event handlers, which its own CSP blocks: {parser.handlers}"
    return [href for _, href in parser.loaded]


# --- the tests -----------------------------------------------------------------------------------------


def visit_everything(app: Flask) -> list[tuple[str, object, bool]]:
    """Every GET route as every role, plus the pages a refused or mistaken request gets."""
    world = build_world(app)
    seen: list[tuple[str, object, bool]] = []
    for role in ROLES:
        client = signed_in(app, world, role)
        for endpoint, method in sorted(routes(app)):
            if method == "GET":
                response = client.get(url(app, endpoint, world))
                seen.append((f"GET {endpoint} as {role}", response, role != "anonymous"))
        seen.append((f"404 as {role}", client.get("/no/such/page"), role != "anonymous"))
        seen.append((f"405 as {role}", client.get("/logout"), role != "anonymous"))
        seen.append((f"400 CSRF as {role}", client.post("/language", data={"language": "en"}),
                     role != "anonymous"))
        seen.append((f"422 password as {role}", post(client, "/account/password", {}), role != "anonymous"))
    anonymous = app.test_client()
    seen.append(("422 register", post(anonymous, "/register", {}), False))
    seen.append(("401 login", post(anonymous, "/login", {"login": world.emails["owner"], "password": "nope"}),
                 False))
    for _ in range(app.config["LOGIN_FAILURES_PER_MINUTE"]):
        post(anonymous, "/login", {"login": world.emails["owner"], "password": "nope"})
    seen.append(("429 login", post(anonymous, "/login", {"login": world.emails["owner"], "password": "nope"}),
                 False))
    return seen


def test_every_page_carries_the_security_headers(app):
    seen = visit_everything(app)
    statuses = {response.status_code for _, response, _ in seen}  # type: ignore[attr-defined]
    assert {200, 302, 400, 401, 403, 404, 405, 422, 429} <= statuses, statuses
    failures = []
    for what, response, signed_in_user in seen:
        try:
            check_headers(response, what, signed_in_user=signed_in_user)
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_a_signed_in_answer_is_never_cached_and_costs_no_account_lookup_by_itself(app):
    """/healthz and the stylesheet read nothing from the database for a signed-in person (the no-store header
    is told by the session), and still say no-store; a signed-out visitor's do not."""
    world = build_world(app)
    client = signed_in(app, world, "coordinator")
    with statements(app) as counted:
        for path in ("/healthz", "/static/app.css"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert "no-store" in response.headers.get("Cache-Control", ""), path
            assert counted == [], (path, counted)
            assert "no-store" not in app.test_client().get(path).headers.get("Cache-Control", ""), path


def test_no_page_loads_anything_from_outside_the_app(app):
    seen = visit_everything(app)
    html = [(what, response) for what, response, _ in seen if is_html(response)]
    assert len(html) > 50, "too few HTML pages were looked at"
    local: set[str] = set()
    failures = []
    for what, response in html:
        try:
            local.update(check_page(response, what))
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)

    # The app's own stylesheets and scripts reach nothing outside either (fonts, @import).
    assert local, "no page uses the app's stylesheet"
    client = app.test_client()
    for address in sorted(local):
        response = client.get(address)
        assert response.status_code == 200, address
        check_headers(response, address, signed_in_user=False)
        if response.mimetype == "text/css":
            outside = [ref for ref in css_references(response.get_data(as_text=True)) if is_external(ref)]
            assert not outside, f"{address} loads from outside the app: {outside}"


def test_the_external_detector_itself():
    for address in ("https://cdn.example.org/x.js", "http://fonts.example.com/f.woff2",
                    "//cdn.example.net/a.css", " HTTPS://CDN.EXAMPLE.ORG/x.css"):
        assert is_external(address), address
    for address in ("/static/app.css", "app.css", "../img/x.png", "http://localhost/static/app.css",
                    "data:image/png;base64,AAAA"):
        assert not is_external(address), address
    parser = Resources()
    parser.feed('<script>alert(1)</script><button onclick="x()">b</button>'
                '<link rel="stylesheet" href="https://cdn.example.org/x.css">')
    assert parser.inline_scripts == 1
    assert parser.handlers == ["<button onclick>"]
    assert parser.loaded == [("link rel=stylesheet", "https://cdn.example.org/x.css")]
    css = "@import 'https://a.example/b.css'; body { background: url(\"//x.example/y.png\") }"
    assert css_references(css) == ["//x.example/y.png", "https://a.example/b.css"]


def set_cookies(response, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]


def check_cookie(raw: str, what: str) -> None:
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in raw.split(";")[1:]}
    assert "httponly" in attributes, f"{what}: not HttpOnly: {raw}"
    assert attributes.get("samesite", "").lower() == "samesite=lax", f"{what}: not SameSite=Lax: {raw}"
    assert SimpleCookie(raw), raw


@pytest.mark.parametrize("role", [r for r in ROLES if r != "anonymous"])
def test_the_session_cookie_is_httponly_and_samesite_lax(app, role):
    world = build_world(app)
    name = app.config["SESSION_COOKIE_NAME"]
    client: FlaskClient = app.test_client()

    first = client.get("/login")  # the CSRF token starts an anonymous session
    cookies = set_cookies(first, name)
    assert cookies, "the sign-in page sets no session cookie"
    for raw in cookies:
        check_cookie(raw, "anonymous session")

    signed = client.post("/login", data={"login": world.emails[role], "password": PASSWORD,
                                         "csrf_token": csrf_token(client)})
    assert signed.status_code == 302
    cookies = set_cookies(signed, name)
    assert cookies, "signing in sets no session cookie"
    for raw in cookies:
        check_cookie(raw, "signed-in session")

    out = post(client, "/logout")
    assert out.status_code == 302
    for raw in set_cookies(out, name):
        check_cookie(raw, "session after sign-out")


def test_the_language_cookie_is_httponly_and_samesite_lax(app, client):
    response = post(client, "/language", {"language": "uk"})
    assert response.status_code == 302
    cookies = set_cookies(response, "lang")
    assert cookies, "the language switch sets no cookie"
    for raw in cookies:
        check_cookie(raw, "language")

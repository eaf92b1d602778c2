"""Pages anyone may open: the front page, the catalog, health, the language switch."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from forms.auth import LanguageForm
from forms.common import ConfirmForm
from validation.extensions import db
from validation.services import accounts, catalog
from validation.web.i18n import LANGUAGE_COOKIE, current_language
from validation.web.roles import desk_for

bp = Blueprint("public", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for(desk_for(current_user.role)))
    return render_template("public/index.html")


@bp.get("/catalog")
def catalog_list():  # type: ignore[no-untyped-def]
    """Search and filters live in the URL, so a search can be bookmarked and shared."""
    level = request.args.get("level", "")
    wanted = catalog.CatalogFilter(
        query=request.args.get("q", "")[:200],
        sector=request.args.get("sector", "")[:40],
        country=request.args.get("country", "")[:2],
        level=int(level) if level.isdigit() else None,
        language=request.args.get("language", "")[:2],
    )
    credentials, facets = catalog.search(wanted, current_language())
    return render_template("public/catalog.html", credentials=credentials, facets=facets, wanted=wanted)


@bp.get("/catalog/<code>")
def credential(code: str):  # type: ignore[no-untyped-def]
    found = catalog.by_code(code)
    if found is None:
        abort(404)
    return render_template("public/credential.html", credential=found, open_form=ConfirmForm())


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    form = LanguageForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        accounts.set_language(current_user, form.language.data)
        db.session.commit()
    # Back to the page the switch was on: its own path (pages that send no Referer, like the referee's,
    # included), else the Referer if it is ours, else the front page.
    wanted = request.form.get("next", "")
    if _local_path(wanted):
        target = wanted
    elif _same_origin(request.referrer):
        target = request.referrer
    else:
        target = url_for("public.index")
    response = make_response(redirect(target))
    response.set_cookie(
        LANGUAGE_COOKIE,
        form.language.data,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.get("/healthz")
def health():  # type: ignore[no-untyped-def]
    return {"status": "ok"}


def _local_path(path: str) -> bool:
    """A path on this site only: "/x", never "//host" or "/\\host" (browsers read both as another site)."""
    return path.startswith("/") and not path.startswith(("//", "/\\")) and "\n" not in path and "\r" not in path


def _same_origin(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


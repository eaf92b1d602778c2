"""The web layer: one blueprint per audience, the login loader, error pages and headers."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager

from validation.models import User


def register(app: Flask, login_manager: LoginManager) -> None:
    from validation.services import accounts
    from validation.web import admin, assessor, auth, candidate, cases, coordinator, errors, public, security, uploads
    from validation.web.requests import AppRequest

    app.request_class = AppRequest
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = None  # the server-side session is the protection

    @login_manager.user_loader
    def _load(token: str) -> User | None:
        return accounts.user_for_token(token)

    for blueprint in (public.bp, auth.bp, candidate.bp, cases.bp, assessor.bp, coordinator.bp, admin.bp, uploads.bp):
        app.register_blueprint(blueprint)
    # Before security.install: the referee page's own headers must be set after the site's (see referees.py).
    from validation.web import referees

    app.register_blueprint(referees.bp)
    from validation.web import evidence_requests, interviews, quality, reports, review

    for blueprint in (quality.bp, review.bp, interviews.bp, evidence_requests.bp, reports.bp):
        app.register_blueprint(blueprint)
    from validation.web import notifications, outbox

    app.register_blueprint(notifications.bp)
    app.register_blueprint(outbox.bp)
    from validation.web import credentials

    app.register_blueprint(credentials.bp)
    notifications.install(app)
    from validation.web import i18n
    from validation.web.options import mark_selected
    from validation.web.timeline import items

    # Globals, not a context processor, so that imported macros see them too.
    app.jinja_env.globals["current_locale"] = i18n.current_language
    app.jinja_env.globals["timeline_items"] = items
    app.jinja_env.filters["mark_selected"] = mark_selected
    app.jinja_env.globals["country_name"] = i18n.country_name
    app.jinja_env.globals["language_name"] = i18n.language_name
    i18n.install_page_translations(app)

    security.install(app)
    errors.install(app)
    from validation.web import transactions

    transactions.install(app)

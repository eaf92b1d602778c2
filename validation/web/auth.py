"""Sign in, sign out, register, change password. Sessions live on the server and can be revoked."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from forms.auth import AccessCodeForm, LoginForm, PasswordForm, RegisterForm
from forms.common import ConfirmForm
from validation.extensions import db, limiter
from validation.services import accounts
from validation.services.errors import Invalid
from validation.web.roles import desk_for

bp = Blueprint("auth", __name__)


def _region() -> str:
    return str(current_app.config["PHONE_REGION"])


def _login_key() -> str:
    """Failures count per account (however its name is written), so one person's typos lock out nobody else."""
    return "login:" + accounts.sign_in_key(request.form.get("login", ""), _region())


def _code_key() -> str:
    """Wrong access codes count per address: the code is all a guesser sends."""
    return "access-code:" + (request.remote_addr or "")


def _login_limit() -> str:
    return f"{current_app.config['LOGIN_FAILURES_PER_MINUTE']} per minute"


def _start_session(user) -> None:  # type: ignore[no-untyped-def]
    accounts.open_session(user, current_app.config["SESSION_LIFETIME_HOURS"])
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _login_limit, key_func=_login_key, methods=["POST"], deduct_when=lambda r: r.status_code == 401
)
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for(desk_for(current_user.role)))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.login.data, form.password.data, _region())
        if user is not None:
            _start_session(user)
            db.session.commit()
            return redirect(url_for(desk_for(user.role)))
        db.session.commit()  # a rehash or nothing; keeps the transaction short
        form.password.errors.append(_("The e-mail address, phone number or password is not correct."))
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), (400 if request.method == "POST" else 200)


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("public.index"))
    accounts.close_session(current_user, current_user.session_token)
    db.session.commit()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("public.index"))


@bp.route("/register", methods=["GET", "POST"])
def register():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for(desk_for(current_user.role)))
    form = RegisterForm()
    if request.method == "GET":
        form.language.data = str(get_locale() or "en")
    if form.validate_on_submit():
        try:
            user = accounts.register_candidate(
                email=form.email.data,
                phone=form.phone.data,
                display_name=form.display_name.data,
                password=form.password.data,
                language=form.language.data,
                region=_region(),
            )
        except Invalid as exc:
            db.session.rollback()
            (form.phone if "phone" in exc.reason else form.email).errors.append(_(exc.reason))
            return render_template(
                "auth/register.html", form=form, consent_version=accounts.CONSENT_TEXT_VERSION
            ), 422
        _start_session(user)
        db.session.commit()
        flash(_("Welcome! Choose the credential you want your experience recognised for."), "success")
        return redirect(url_for("public.catalog_list"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "auth/register.html", form=form, consent_version=accounts.CONSENT_TEXT_VERSION
    ), status


@bp.route("/access-code", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=_code_key, methods=["POST"], deduct_when=lambda r: r.status_code == 422)
def access_code():  # type: ignore[no-untyped-def]
    """First sign-in of a candidate registered in person: the printed code opens the account once."""
    if current_user.is_authenticated:
        return redirect(url_for(desk_for(current_user.role)))
    form = AccessCodeForm()
    if form.validate_on_submit():
        try:
            user = accounts.redeem_access_code(form.code.data, form.password.data, str(get_locale() or "en"))
        except Invalid as exc:
            db.session.rollback()
            form.code.errors.append(_(exc.reason))
            return render_template(
                "auth/access_code.html", form=form, consent_version=accounts.CONSENT_TEXT_VERSION
            ), 422
        _start_session(user)
        db.session.commit()
        flash(
            _("Your account is ready. Next time, sign in with your candidate number %(number)s and your password.",
              number=accounts.candidate_number(user)),
            "success",
        )
        return redirect(url_for(desk_for(user.role)))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "auth/access_code.html", form=form, consent_version=accounts.CONSENT_TEXT_VERSION
    ), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():  # type: ignore[no-untyped-def]
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                current_user, form.current.data, form.new.data, current_app.config["SESSION_LIFETIME_HOURS"]
            )
        except Invalid as exc:
            db.session.rollback()
            form.current.errors.append(_(exc.reason))
            return render_template("auth/password.html", form=form), 422
        login_user(current_user._get_current_object())  # the user, not the proxy to it
        db.session.commit()
        flash(_("Your password is changed. You were signed out everywhere else."), "success")
        return redirect(url_for(desk_for(current_user.role)))
    return render_template("auth/password.html", form=form), (422 if request.method == "POST" else 200)

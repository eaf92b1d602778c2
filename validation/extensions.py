"""Flask extensions, created unbound so that create_app can bind them to any number of apps."""

from __future__ import annotations

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from validation.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Login failures are counted per account (see web/auth.py); nothing is limited by default.
limiter = Limiter(key_func=lambda: "global", default_limits=[])
# Stylesheets and scripts go out compressed (brotli or gzip). HTML pages only when COMPRESS_HTML is on: they
# carry the CSRF token next to text a visitor can put in the page (a search), the setting BREACH needs.
compress = Compress()

"""The app the desk benchmark serves: the engine as it is, plus one route to compare its pages with.

`/bench/bare` reads one indexed page of 50 cases with a plain SQL query and returns them as JSON: no
template, no model objects, no filters. It is the yardstick the desk's goal names ("a bare indexed query
returning 50 rows as JSON"), measured in the same run as the pages, so a reader can tell how much of a page's
cost is the engine's own work. It shares the ceiling's user load (the signed-in cookie is sent to every URL).
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from validation import create_app as create_engine_app
from validation.extensions import db

BARE = text(
    "SELECT id, state, state_entered_at, assessor_id FROM cases ORDER BY state_entered_at, id LIMIT 50"
)


def create_app() -> Flask:
    app = create_engine_app()

    @app.get("/bench/bare")
    def bare() -> dict[str, object]:
        rows = db.session.execute(BARE).all()
        return {"cases": [{"id": r.id, "state": r.state, "since": str(r.state_entered_at),
                           "assessor": r.assessor_id} for r in rows]}

    return app

"""The access matrix: every route, every role, the status each one gets.

A route without a row here fails the suite, so nobody adds a page without deciding who may use it.
A value is either a status code, or a path: then the answer must be a 302 to a location starting with it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests import factories
from tests.conftest import PASSWORD, csrf_token
from validation.extensions import db
from validation.models import AuditEvent, CarriedOutcome, Case, OutboundMessage, User
from validation.services import awards, cases, credentials, evidence, referees

ROLES = ("anonymous", "owner", "other_candidate", "assessor", "other_assessor", "coordinator", "admin")
# Which of the factory people signs in for each role.
PERSON = {"owner": "candidate", "other_candidate": "other_candidate", "assessor": "assessor",
          "other_assessor": "other_assessor", "coordinator": "coordinator", "admin": "admin"}

LOGIN = "/login"  # a 302 to the sign-in page
DESK = {"owner": "/my", "other_candidate": "/my", "assessor": "/assessor/", "other_assessor": "/assessor/",
        "coordinator": "/coordinator/", "admin": "/admin/"}


def row(anonymous: int | str, owner: int | str, other_candidate: int | str, assessor: int | str,
        other_assessor: int | str, coordinator: int | str, admin: int | str) -> dict[str, int | str]:
    return {"anonymous": anonymous, "owner": owner, "other_candidate": other_candidate, "assessor": assessor,
            "other_assessor": other_assessor, "coordinator": coordinator, "admin": admin}


def everyone(status: int | str) -> dict[str, int | str]:
    return dict.fromkeys(ROLES, status)


def signed_in_to_desk(anonymous: int) -> dict[str, int | str]:
    """Pages for signing in or up: the form for visitors, the own desk for anyone already signed in."""
    return {"anonymous": anonymous, **DESK}


def staff_only(role: str, allowed: int | str) -> dict[str, int | str]:
    """A desk of one role: 403 for every other role, whatever the case."""
    result: dict[str, int | str] = {r: 403 for r in ROLES}
    result["anonymous"] = LOGIN
    for r, person in PERSON.items():
        if person.replace("other_", "") == role:
            result[r] = allowed
    return result


#: An award of the owner's, from a case assigned to `assessor`: who may see it and its files.
AWARD = row(LOGIN, 200, 404, 200, 403, 200, 200)

# (endpoint, method) -> {role: expected}. Case routes use the case under review owned by `owner` and
# assigned to `assessor`; other candidates get 404 there (a case id reveals nothing), other assessors 403.
EXPECTED: dict[tuple[str, str], dict[str, int | str]] = {
    # public pages
    ("public.index", "GET"): signed_in_to_desk(200),
    ("public.catalog_list", "GET"): everyone(200),
    ("public.credential", "GET"): everyone(200),
    ("public.health", "GET"): everyone(200),
    ("public.set_language", "POST"): everyone("/"),
    # accounts
    ("auth.login", "GET"): signed_in_to_desk(200),
    ("auth.login", "POST"): signed_in_to_desk(400),  # empty form: e-mail and password are required
    ("auth.register", "GET"): signed_in_to_desk(200),
    ("auth.register", "POST"): signed_in_to_desk(422),  # empty form: name, e-mail, password, consent
    ("auth.logout", "POST"): {**everyone("/"), "anonymous": LOGIN},
    ("auth.password", "GET"): {**everyone(200), "anonymous": LOGIN},
    ("auth.password", "POST"): {**everyone(422), "anonymous": LOGIN},  # empty form
    # candidate
    ("candidate.home", "GET"): staff_only("candidate", 200),
    ("candidate.profile", "GET"): staff_only("candidate", 200),
    ("candidate.profile", "POST"): staff_only("candidate", 422),  # empty form: no language chosen
    ("candidate.consent", "POST"): staff_only("candidate", 400),  # no action given
    # The owner already has an open case for this credential (409); another candidate opens one.
    ("candidate.open_case", "POST"): row(LOGIN, 409, "/cases/", 403, 403, 403, 403),
    ("candidate.award", "GET"): AWARD,
    # cases
    ("cases.show", "GET"): row(LOGIN, 200, 404, 200, 403, 200, 200),
    ("cases.evidence_file", "GET"): row(LOGIN, 200, 404, 200, 403, 200, 200),
    # The item is a text file: no picture of it is made, for those who may see it (404), others as above.
    ("cases.evidence_preview", "GET"): row(LOGIN, 404, 404, 404, 403, 404, 404),
    # The owner may add evidence, but the empty form is incomplete (422); staff never add evidence.
    ("cases.add_evidence", "POST"): row(LOGIN, 422, 404, 403, 403, 403, 403),
    # withdraw with the page's version but no reason: the owner and the coordinator may withdraw but must
    # give a reason (422); the assessor's role may not fire it and admins never act on cases (403).
    ("cases.fire", "POST"): row(LOGIN, 422, 404, 403, 403, 422, 403),
    # Decisions are the assessor's (empty form: 422); candidates are refused by role before any lookup.
    ("cases.decide", "POST"): row(LOGIN, 403, 403, 422, 403, 403, 403),
    ("cases.assign", "POST"): row(LOGIN, 403, 403, 403, 403, 422, 403),
    # Self-assessment is the owner's (empty form: 422); another candidate does not see the case (404).
    ("cases.self_assess", "POST"): row(LOGIN, 422, 404, 403, 403, 403, 403),
    # desks
    ("assessor.home", "GET"): staff_only("assessor", 200),
    ("coordinator.home", "GET"): staff_only("coordinator", 200),
    ("admin.home", "GET"): staff_only("admin", 200),
    ("admin.new_user", "GET"): staff_only("admin", 200),
    ("admin.new_user", "POST"): staff_only("admin", 422),  # empty form
    # Without active=1 the target account is disabled; back to the account list.
    ("admin.set_active", "POST"): staff_only("admin", "/admin/"),
    ("admin.workflow_list", "GET"): staff_only("admin", 200),
    # --- sign-in by phone and assisted registration (access codes) ---
    ("auth.access_code", "GET"): signed_in_to_desk(200),
    ("auth.access_code", "POST"): signed_in_to_desk(422),  # empty form: code, password, consent
    ("coordinator.candidates", "GET"): staff_only("coordinator", 200),
    ("coordinator.register_candidate", "GET"): staff_only("coordinator", 200),
    ("coordinator.register_candidate", "POST"): staff_only("coordinator", 422),  # empty form: no name, no consent
    # A new code for the target candidate: the printable sheet, at once (the code is shown only once).
    ("coordinator.new_access_code", "POST"): staff_only("coordinator", 200),
    # --- resumable uploads and serving evidence ---
    # tus creation: the owner sees the case, but a plain form post is no tus request (412, nothing starts).
    ("uploads.create", "POST"): row(LOGIN, 412, 404, 403, 403, 403, 403),
    # An upload id nobody has (and anyone else's) is not found; staff never upload.
    ("uploads.append", "PATCH"): row(LOGIN, 404, 404, 403, 403, 403, 403),
    ("uploads.terminate", "DELETE"): row(LOGIN, 404, 404, 403, 403, 403, 403),
    ("uploads.cancel", "POST"): row(LOGIN, 404, 404, 403, 403, 403, 403),
    # --- referees and their attestations ---
    # The case under review is handed in: its owner may not ask a referee now (409); staff never ask.
    ("referees.new", "GET"): row(LOGIN, 409, 404, 403, 403, 403, 403),
    ("referees.new", "POST"): row(LOGIN, 409, 404, 403, 403, 403, 403),
    # The owner cancels the request still waiting for its answer, and is back on the case page.
    ("referees.cancel", "POST"): row(LOGIN, "/cases/", 404, 403, 403, 403, 403),
    # The referee's page needs no account: the link alone opens it (empty form: no answer chosen).
    ("referees.respond", "GET"): everyone(200),
    ("referees.respond", "POST"): everyone(422),
    # --- intake questionnaire ---
    ("candidate.intake_form", "GET"): staff_only("candidate", 200),
    ("candidate.intake_form", "POST"): staff_only("candidate", 422),  # empty form: required questions unanswered
    # --- the assessor's workspace, moderation, interviews ---
    # The assigned assessor has declared no conflict already: the declaration sends them on to the case.
    ("review.declaration", "GET"): row(LOGIN, 403, 403, "/cases/", 403, 403, 403),
    ("review.declaration", "POST"): row(LOGIN, 403, 403, "/cases/", 403, 403, 403),
    # Only the assigned assessor acts on the review (empty forms: 422); assessors' routes refuse other roles.
    ("review.add_doubt", "POST"): row(LOGIN, 403, 403, 422, 403, 403, 403),
    ("review.accept_all", "POST"): row(LOGIN, 403, 403, 422, 403, 403, 403),
    ("evidence_requests.create", "POST"): row(LOGIN, 403, 403, 422, 403, 403, 403),
    ("interviews.schedule", "POST"): row(LOGIN, 403, 403, 422, 403, 403, 403),
    # An interview id the case does not have is not found, even for its assessor.
    ("interviews.record_results", "POST"): row(LOGIN, 403, 403, 404, 403, 403, 403),
    # The coordinator names a moderator (empty form: 422); the case under review has none to give views.
    ("quality.assign_moderator", "POST"): row(LOGIN, 403, 403, 403, 403, 422, 403),
    ("quality.record_views", "POST"): row(LOGIN, 403, 403, 403, 403, 403, 403),
    # --- the coordinator's queue and who may assess what ---
    # Nothing chosen: back to the queue with the reason (the queue is the coordinator's only).
    ("coordinator.bulk_assign", "POST"): staff_only("coordinator", "/coordinator/"),
    ("coordinator.bulk_remind", "POST"): staff_only("coordinator", "/coordinator/"),
    # The figures and the exports are the coordinator's.
    ("reports.dashboard", "GET"): staff_only("coordinator", 200),
    ("reports.figures_file", "GET"): staff_only("coordinator", 200),
    ("reports.cases_file", "GET"): staff_only("coordinator", 200),
    # What an assessor may assess is set by an admin; the target account is a candidate, so: not found.
    ("admin.qualifications", "GET"): staff_only("admin", 404),
    ("admin.qualifications", "POST"): staff_only("admin", 404),
    ("quality.policies", "GET"): staff_only("admin", 200),
    ("quality.policies", "POST"): staff_only("admin", 422),  # empty form: no credential chosen
    # --- notifications and the outbox ---
    # Everyone signed in has notifications of their own (only their own: the page takes no id).
    ("notifications.index", "GET"): {**everyone(200), "anonymous": LOGIN},
    ("notifications.mark_read", "POST"): {**everyone("/notifications/"), "anonymous": LOGIN},
    # The referee's invitation waits in the outbox: the administrator may have it retried at once.
    ("outbox.index", "GET"): staff_only("admin", 200),
    ("outbox.retry", "POST"): staff_only("admin", "/admin/mail/"),
    # --- credentials ---
    # What a verifier fetches needs no account: the issuer's profile and keys, the status list, the checks.
    ("credentials.issuer", "GET"): everyone(200),
    ("credentials.jwks", "GET"): everyone(200),
    ("credentials.status_list", "GET"): everyone(200),
    ("credentials.verify_form", "GET"): everyone(200),
    ("credentials.verify_submit", "POST"): everyone(422),  # empty form: nothing to check
    ("credentials.verify_link", "GET"): everyone(200),
    ("credentials.verify_api", "POST"): everyone(200),  # an empty body is answered: not a credential
    # The holder's files are seen by whoever may see the award.
    ("credentials.download_json", "GET"): AWARD,
    ("credentials.download_jwt", "GET"): AWARD,
    ("credentials.download_pdf", "GET"): AWARD,
    ("credentials.download_europass", "GET"): AWARD,
    # Coordinators and admins change the status (empty form: no action, no reason).
    ("credentials.change_status", "POST"): row(LOGIN, 403, 403, 403, 403, 422, 422),
    # The candidate's own skills record; the assigned assessor confirms or rejects an outcome carried over
    # from the earlier award (empty form: 422).
    ("candidate.skills", "GET"): staff_only("candidate", 200),
    ("review.decide_carried", "POST"): row(LOGIN, 403, 403, 422, 403, 403, 403),
}


@dataclass(frozen=True)
class World:
    """Ids of what the requests act on; built fresh for every test through the services."""

    emails: dict[str, str]
    case_id: int
    case_version: int
    item_id: int
    award_id: int
    target_user_id: int
    outcome_id: int
    #: A referee request on the case, still waiting, and the token of its link.
    request_id: int
    referee_token: str
    #: An e-mail waiting in the outbox (the referee's invitation).
    message_id: int

    #: The awarded case's credential: its issuer's key and its public id.
    issuer_key: str
    credential_uuid: str
    #: An outcome of the case under review carried over from the awarded case.
    carried_id: int

    def url_values(self) -> dict[str, object]:
        return {"key": self.issuer_key, "credential_uuid": self.credential_uuid, "number": 1,
                "carried_id": self.carried_id,
                "case_id": self.case_id, "item_id": self.item_id, "award_id": self.award_id,
                "user_id": self.target_user_id, "code": "UA-BAKERY", "trigger": "withdraw",
                "outcome_id": self.outcome_id, "upload_id": "0" * 32, "token": self.referee_token,
                "request_id": self.request_id, "interview_id": 0, "kind": "csv", "message_id": self.message_id}


# Minimal form data per POST route, beyond the CSRF token: what the page's form always carries.
DATA = {
    ("public.set_language", "POST"): lambda w: {"language": "en"},
    ("cases.fire", "POST"): lambda w: {"version": str(w.case_version)},
    ("referees.cancel", "POST"): lambda w: {"version": str(w.case_version)},
}


def build_world(app: Flask) -> World:
    with app.app_context():
        factories.load_catalog()
        who = factories.people()
        target = factories.user("candidate", "target@test.example", "Target")
        # An awarded case first (terminal, so the same credential can be opened again) ...
        awarded = factories.case_in_state("awarded", who)
        award = awards.award_for_case(awarded.id)
        assert award is not None
        issued = credentials.for_award(award.id)
        assert issued is not None
        # ... then the case under review, with a file among its evidence.
        case = factories.case_in_state("more_evidence", who)
        item = evidence.add_file(case.id, who["candidate"], "Notes", io.BytesIO(b"I baked for years.\n"),
                                 "notes.txt", [c.outcome_id for c in case.claims])
        # ... and a referee asked to confirm it, whose answer has not come yet.
        request, token = referees.ask(case.id, who["candidate"], "Referee", "referee@test.example", "en",
                                      "former employer", "I baked for years.", [case.claims[0].outcome_id])
        cases.fire(case.id, "resubmit", who["candidate"])
        factories.declare_no_conflict(case)
        db.session.commit()
        assert case.state == "under_review"
        assert case.assessor_id == who["assessor"].id
        assert item.blob is not None
        return World(
            emails={role: who[person].email for role, person in PERSON.items()},
            case_id=case.id,
            case_version=case.lock_version,
            item_id=item.id,
            award_id=award.id,
            target_user_id=target.id,
            outcome_id=case.claims[0].outcome_id,
            request_id=request.id,
            referee_token=token,
            message_id=db.session.execute(
                select(OutboundMessage.id).where(OutboundMessage.purpose == "referee_invitation")
            ).scalar_one(),
            issuer_key=issued.issuer_key,
            credential_uuid=issued.uuid,
            carried_id=db.session.execute(
                select(CarriedOutcome.id).where(CarriedOutcome.case_id == case.id).limit(1)).scalar_one(),
        )


def routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def url(app: Flask, endpoint: str, world: World) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = world.url_values()
    missing = rule.arguments - values.keys()
    assert not missing, f"no value for {sorted(missing)} of {rule.rule}: add one to World.url_values"
    return app.url_map.bind("localhost").build(endpoint, {k: values[k] for k in rule.arguments})


def signed_in(app: Flask, world: World, role: str) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        response = client.post("/login", data={"login": world.emails[role], "password": PASSWORD,
                                               "csrf_token": csrf_token(client)})
        assert response.status_code == 302, f"{role} could not sign in"
    return client


def send(client: FlaskClient, app: Flask, world: World, endpoint: str, method: str):  # type: ignore[no-untyped-def]
    target = url(app, endpoint, world)
    if method == "GET":
        return client.get(target)
    data = {"csrf_token": csrf_token(client)}
    data.update(DATA.get((endpoint, method), lambda w: {})(world))
    return client.open(target, method=method, data=data)


def check(response, expected: int | str, what: str) -> None:  # type: ignore[no-untyped-def]
    if isinstance(expected, str):
        got = response.status_code
        assert got == 302, f"{what}: got {got}, expected a redirect to {expected}"
        location = response.headers["Location"]
        assert location.startswith(expected), f"{what}: redirected to {location}, expected {expected}"
        if expected == "/":
            assert location.split("?")[0] == "/", f"{what}: redirected to {location}, expected /"
    else:
        location = response.headers.get("Location", "")
        got = response.status_code
        assert got == expected, f"{what}: got {got} {location}, expected {expected}"


def audit_count(app: Flask) -> int:
    with app.app_context():
        return int(db.session.execute(select(func.count(AuditEvent.seq))).scalar_one())


def case_state(app: Flask, world: World) -> tuple[str, int, int | None]:
    with app.app_context():
        case = db.session.get(Case, world.case_id)
        return case.state, case.lock_version, case.assessor_id


def target_active(app: Flask, world: World) -> bool:
    with app.app_context():
        return db.session.get(User, world.target_user_id).active


# --- the table is complete -----------------------------------------------------------------------------


def test_every_route_has_a_row_and_every_row_a_route(app):
    present = routes(app)
    missing = sorted(present - EXPECTED.keys())
    assert not missing, f"routes without a row in EXPECTED: {missing}"
    stale = sorted(EXPECTED.keys() - present)
    assert not stale, f"rows in EXPECTED for routes that do not exist: {stale}"
    for key, expected in EXPECTED.items():
        assert set(expected) == set(ROLES), f"{key} does not name every role exactly once"


def test_every_route_can_be_built_from_the_test_data(app):
    world = build_world(app)
    for endpoint, _method in sorted(routes(app)):
        assert url(app, endpoint, world).startswith("/")


def test_the_table_sends_only_anonymous_visitors_to_sign_in():
    """Where some signed-in role is refused, a visitor is asked to sign in; nobody signed in ever is."""
    for key, expected in EXPECTED.items():
        for role, value in expected.items():
            if value == LOGIN:
                assert role == "anonymous", f"{key}: {role} is signed in and cannot be sent to sign in"
        if any(value in (403, 404) for value in expected.values()):
            assert expected["anonymous"] == LOGIN, f"{key}: protected, but not for anonymous visitors"


# --- the statuses --------------------------------------------------------------------------------------

GET_ROWS = sorted(key for key in EXPECTED if key[1] == "GET")
POST_ROUTES = sorted(key for key in EXPECTED if key[1] != "GET")


def _refused(expected: int | str) -> bool:
    return expected == LOGIN or (isinstance(expected, int) and expected >= 400)


ALLOWED_ROWS = sorted((*key, role) for key in POST_ROUTES for role in ROLES if not _refused(EXPECTED[key][role]))


def test_pages(app):
    """Reading changes nothing, so one set of data serves every page and every role (which is checked: the
    case and the accounts are the same after all the pages as before; only sign-ins are audited)."""
    world = build_world(app)
    before = (case_state(app, world), target_active(app, world))
    failures = []
    for endpoint, method in GET_ROWS:
        for role in ROLES:
            response = send(signed_in(app, world, role), app, world, endpoint, method)
            try:
                check(response, EXPECTED[(endpoint, method)][role], f"{method} {endpoint} as {role}")
            except AssertionError as exc:
                failures.append(str(exc))
    assert not failures, "\n".join(failures)
    assert (case_state(app, world), target_active(app, world)) == before


def _run(app: Flask, world: World, endpoint: str, method: str, role: str) -> None:
    client = signed_in(app, world, role)  # a browser of its own, signed in before anything is counted
    before = (audit_count(app), case_state(app, world), target_active(app, world))
    expected = EXPECTED[(endpoint, method)][role]
    response = send(client, app, world, endpoint, method)
    check(response, expected, f"{method} {endpoint} as {role}")
    if _refused(expected):
        after = (audit_count(app), case_state(app, world), target_active(app, world))
        assert after == before, f"{method} {endpoint} as {role} was refused but changed something"


@pytest.mark.parametrize(("endpoint", "method"), POST_ROUTES, ids=[f"{e}-{m}" for e, m in POST_ROUTES])
def test_refused_actions(app, endpoint, method):
    """Every role refused an action, one after another on the same data: a refusal changes nothing (checked
    after each), so nothing one refusal did could hide what the next one does."""
    world = build_world(app)
    failures = []
    for role in ROLES:
        if _refused(EXPECTED[(endpoint, method)][role]):
            try:
                _run(app, world, endpoint, method, role)
            except AssertionError as exc:
                failures.append(str(exc))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(("endpoint", "method", "role"), ALLOWED_ROWS,
                         ids=[f"{e}-{m}-{r}" for e, m, r in ALLOWED_ROWS])
def test_allowed_actions(app, endpoint, method, role):
    """Each allowed action on fresh data, since acting may change it."""
    _run(app, build_world(app), endpoint, method, role)

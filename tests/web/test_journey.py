"""The whole journey of a case through the pages only, as the candidate, coordinator and assessor live it:
register, find a credential, build a portfolio, screening, assessment with a request for more evidence,
and a partial (or full) award with its certificate. Services are used only to set up the staff accounts
and the catalog, and the database only to check what the pages did."""

from __future__ import annotations

import html
import io
import re
import struct
import zlib
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select

from tests import factories
from tests.conftest import PASSWORD, csrf_token, login, post
from validation.extensions import db
from validation.models import (
    AuditEvent,
    Award,
    Blob,
    Case,
    CaseTransition,
    ConsentRecord,
    EvidenceItem,
    OutcomeDecision,
    User,
    UserSession,
)
from validation.services import audit


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xc8\x8c\x3c" * 3 for _ in range(3))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 3, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png_bytes()
def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = _pdf()
CANDIDATE = {"name": "Olena Kovalenko", "email": "olena@example.org"}
STAFF = {
    "coordinator": ("carl@centre.example", "Carl Coordinator"),
    "assessor": ("anna@centre.example", "Anna Assessor"),
}


def text(response) -> str:  # type: ignore[no-untyped-def]
    """What a reader sees: entities decoded, tags kept, runs of white space as one space."""
    return " ".join(html.unescape(response.get_data(as_text=True)).split())


def words(response) -> str:  # type: ignore[no-untyped-def]
    """Only the words of a page, without its tags."""
    bare = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())
    return re.sub(r" ([.,:;)])", r"\1", bare)


def ok(response, status: int = 200):  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, words(response)[:1500])
    return response


class Journey:
    """The pages of one case, seen by the people acting on it, with the audit events their actions owe."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.expected: list[str] = []
        with app.app_context():
            factories.load_catalog()
            staff = {role: factories.user(role, email, name) for role, (email, name) in STAFF.items()}
            admin = factories.user("admin", "admin@centre.example", "Ada Admin")
            factories.qualify(staff["assessor"], admin)  # every sector, in English and Ukrainian
            db.session.commit()
            self.baseline = self.audit_count()
        self.case_id = 0

    # --- database reads, only to check -----------------------------------------------------------------

    def audit_count(self) -> int:
        return int(db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())

    def case(self) -> Case:
        case = db.session.get(Case, self.case_id)
        assert case is not None
        return case

    def state(self) -> str:
        with self.app.app_context():
            return self.case().state

    def unchanged(self) -> tuple[str, int, int]:
        with self.app.app_context():
            case = self.case()
            return case.state, case.lock_version, self.audit_count()

    # --- pages -------------------------------------------------------------------------------------------

    def staff(self, role: str) -> FlaskClient:
        client = self.app.test_client()
        login(client, STAFF[role][0])
        self.expected.append("session.opened")
        return client

    def page(self, client: FlaskClient):  # type: ignore[no-untyped-def]
        return ok(client.get(f"/cases/{self.case_id}"))

    def version(self, client: FlaskClient) -> str:
        """The case version the page's forms carry, as a browser would send it back."""
        page = self.page(client).get_data(as_text=True)
        versions = set(re.findall(r'name="version"[^>]*value="(\d+)"', page))
        assert len(versions) == 1, versions
        return versions.pop()

    def outcome_ids(self, client: FlaskClient) -> dict[str, str]:
        """Outcome code -> id, from the candidate's evidence form."""
        page = self.page(client).get_data(as_text=True)
        found = re.findall(r'name="outcomes" value="(\d+)"[^>]*>\s*<strong>(LO\d+)</strong>', page)
        assert found
        return {code: value for value, code in found}

    def fire(self, client: FlaskClient, trigger: str, reason: str = "", status: int = 302):  # type: ignore[no-untyped-def]
        response = ok(post(client, f"/cases/{self.case_id}/transitions/{trigger}",
                           {"reason": reason, "version": self.version(client)}), status)
        if status == 302:
            assert response.headers["Location"].endswith(f"/cases/{self.case_id}")
            self.expected.append("case.transition")
            if trigger == "recommend":
                self.expected.append("moderation.drawn")  # what the credential's sampling rule said
            if trigger == "request_more_evidence":
                self.expected.append("notification.created")  # the candidate is told
        return response

    def add_evidence(self, client: FlaskClient, outcomes: list[str], **fields: object):  # type: ignore[no-untyped-def]
        data = {"version": self.version(client), "outcomes": outcomes, **fields}
        url = f"/cases/{self.case_id}/evidence"
        response = ok(post(client, url, data, content_type="multipart/form-data"), 302)
        assert response.headers["Location"].endswith(f"/cases/{self.case_id}#evidence")
        self.expected.append("evidence.added")
        return response

    def decide(self, client: FlaskClient, outcome_id: str, verdict: str, rationale: str = "",
               criteria: tuple[int, ...] = ()):  # type: ignore[no-untyped-def]
        response = ok(post(client, f"/cases/{self.case_id}/decisions", {
            "outcome_id": outcome_id, "verdict": verdict, "rationale": rationale,
            "criteria": [str(c) for c in criteria], "version": self.version(client),
        }), 302)
        self.expected.append("decision.recorded")
        return response

    def declare(self, assessor: FlaskClient) -> None:
        """The assessor's first visit: asked whether they know the candidate before seeing the case."""
        first = ok(assessor.get(f"/cases/{self.case_id}"), 302)
        assert first.headers["Location"] == f"/cases/{self.case_id}/declaration"
        asked = ok(assessor.get(first.headers["Location"])).get_data(as_text=True)
        assert "Do you know this candidate?" in asked
        version = re.search(r'name="version"[^>]*value="(\d+)"', asked)
        assert version
        response = ok(post(assessor, first.headers["Location"],
                           {"knows": "no", "reason": "", "version": version.group(1)}), 302)
        assert response.headers["Location"].endswith(f"/cases/{self.case_id}")
        self.expected.append("case.conflict_declared")

    def assign(self, coordinator: FlaskClient, name: str):  # type: ignore[no-untyped-def]
        page = self.page(coordinator).get_data(as_text=True)
        match = re.search(rf'<option[^>]*value="(\d+)"[^>]*>{re.escape(name)} — \d+ open cases?</option>', page)
        assert match, f"{name} is offered as assessor"
        ok(post(coordinator, f"/cases/{self.case_id}/assign",
                {"assessor_id": match.group(1), "version": self.version(coordinator)}), 302)
        self.expected.append("case.assigned")
        self.expected.append("notification.created")  # the assessor is told

    # --- the candidate's first steps -------------------------------------------------------------------

    def register(self, name: str, email: str) -> FlaskClient:
        client = self.app.test_client()
        form = ok(client.get("/register"))
        assert "What we keep and why" in words(form)
        details = {"display_name": name, "email": email, "password": PASSWORD, "confirm": PASSWORD,
                   "language": "en"}
        refused = ok(post(client, "/register", details), 422)
        assert "Without your consent we cannot keep your data." in words(refused)
        with self.app.app_context():
            assert db.session.execute(select(User).where(User.email == email)).scalar_one_or_none() is None
        response = ok(post(client, "/register", {**details, "consent": "y"}), 302)
        assert response.headers["Location"].endswith("/catalog")
        self.expected += ["user.registered", "session.opened"]
        with self.app.app_context():
            user = db.session.execute(select(User).where(User.email == email)).scalar_one()
            assert user.role == "candidate"
            consent = db.session.execute(
                select(ConsentRecord).where(ConsentRecord.user_id == user.id)
            ).scalar_one()
            assert consent.text_version
        return client

    def open_case(self, client: FlaskClient, code: str, title: str) -> None:
        page = ok(client.get(f"/catalog/{code}"))
        assert title in words(page)
        assert "Start validation for this credential" in words(page)
        token = csrf_token(client, f"/catalog/{code}")
        response = ok(post(client, f"/catalog/{code}/open", {"csrf_token": token}), 302)
        match = re.search(r"/cases/(\d+)$", response.headers["Location"])
        assert match
        self.case_id = int(match.group(1))
        if not self.expected.count("workflow.version_recorded"):
            self.expected.append("workflow.version_recorded")
        self.expected.append("case.opened")
        assert self.state() == "draft"

    def finish(self) -> None:
        """The chain is intact and holds one event per change made, in the order they were made."""
        with self.app.app_context():
            report = audit.verify_chain()
            assert report.intact, report
            actions = db.session.execute(
                select(AuditEvent.action).where(AuditEvent.seq > self.baseline).order_by(AuditEvent.seq)
            ).scalars().all()
            assert actions == self.expected
            assert report.checked == self.baseline + len(self.expected)

            def count(model, *where) -> int:  # type: ignore[no-untyped-def]
                statement = select(func.count()).select_from(model).where(*where)
                return int(db.session.execute(statement).scalar_one())

            assert count(CaseTransition) == self.expected.count("case.transition")
            assert count(EvidenceItem) == self.expected.count("evidence.added")
            assert count(OutcomeDecision) == self.expected.count("decision.recorded")
            assert count(Award) == self.expected.count("award.issued")
            assert count(Case) == self.expected.count("case.opened")
            assert count(UserSession) == self.expected.count("session.opened")


def test_journey_to_a_partial_award(app):
    j = Journey(app)

    # --- the candidate registers and finds the credential ---
    candidate = j.register(CANDIDATE["name"], CANDIDATE["email"])
    everything = words(ok(candidate.get("/catalog")))
    assert "Bakery and Pastry Preparation" in everything and "8 credentials" in everything
    found = ok(candidate.get("/catalog?q=bakery"))
    assert "1 credential" in words(found)
    assert 'href="/catalog/UA-BAKERY"' in text(found)
    assert "Bakery and Pastry Preparation" in words(found)
    assert "Manual Metal Arc" not in words(found)
    nothing = ok(candidate.get("/catalog?q=zxqvw+spaceship"))
    assert "No credential matches your search." in words(nothing)
    assert "/catalog/UA-BAKERY" not in text(nothing)

    credential_page = words(ok(candidate.get("/catalog/UA-BAKERY")))
    for code in ("LO1", "LO2", "LO3", "LO4", "LO5", "LO6"):
        assert code in credential_page
    assert "Prepare yeast doughs by straight and sponge methods" in credential_page
    j.open_case(candidate, "UA-BAKERY", "Bakery and Pastry Preparation")

    draft = words(j.page(candidate))
    assert "Draft" in draft
    assert "Still without evidence: LO1, LO2, LO3, LO4, LO5, LO6." in draft
    ids = j.outcome_ids(candidate)
    assert list(ids) == ["LO1", "LO2", "LO3", "LO4", "LO5", "LO6"]

    # --- a photo for two outcomes ---
    j.add_evidence(candidate, [ids["LO1"], ids["LO2"]], kind="file", title="Rye loaves I baked",
                   file=(io.BytesIO(PNG), "rye-loaves.png"))
    assert "Still without evidence: LO3, LO4, LO5, LO6." in words(j.page(candidate))

    # --- submitting with a gap is refused and names the gaps ---
    before = j.unchanged()
    refused = j.fire(candidate, "submit", status=409)
    assert "Outcomes without evidence: LO3, LO4, LO5, LO6." in words(refused)
    assert j.unchanged() == before

    # --- a statement for the rest, then submit ---
    statement = "For eight years I ran the pastry section of a bakery in Kharkiv, 300 items a night."
    j.add_evidence(candidate, [ids[c] for c in ("LO3", "LO4", "LO5", "LO6")], kind="statement",
                   title="My work in Kharkiv", statement=statement)
    assert "Still without evidence" not in words(j.page(candidate))
    j.fire(candidate, "submit")
    assert j.state() == "submitted"
    with app.app_context():
        assert all(i.submitted_at is not None and i.submission_round == 1
                   for i in db.session.execute(select(EvidenceItem)).scalars())

    # --- the coordinator screens, assigns and accepts ---
    coordinator = j.staff("coordinator")
    queue = ok(coordinator.get("/coordinator/?state=submitted"))
    assert f'href="/cases/{j.case_id}"' in text(queue)
    assert CANDIDATE["name"] in words(queue)
    assert f'href="/cases/{j.case_id}"' not in text(ok(coordinator.get("/coordinator/?state=screening")))
    j.fire(coordinator, "start_screening")
    assert j.state() == "screening"
    j.assign(coordinator, "Anna Assessor")
    j.fire(coordinator, "accept_for_review")
    assert j.state() == "under_review"

    # --- the assessor reviews ---
    assessor = j.staff("assessor")
    desk = ok(assessor.get("/assessor/"))
    assert f'href="/cases/{j.case_id}"' in text(desk)
    j.declare(assessor)
    review = j.page(assessor)
    seen = words(review)
    assert "Under review" in seen
    assert "Describe the properties of flour, yeast, sugar, fats" in seen  # outcome text
    assert "Weighs ingredients to the recipe within ±2 %." in seen  # a criterion
    assert "Rye loaves I baked" in seen and "rye-loaves.png" in seen and statement in seen
    for code in ("LO1", "LO2"):
        block = re.search(rf'id="outcome-{ids[code]}">(.*?)</article>', text(review))
        assert block and "Rye loaves I baked" in block.group(1)
    block = re.search(rf'id="outcome-{ids["LO5"]}">(.*?)</article>', text(review))
    assert block and "My work in Kharkiv" in block.group(1)
    link = re.search(rf'href="(/cases/{j.case_id}/evidence/\d+/file)"', text(review))
    assert link
    download = ok(assessor.get(link.group(1)))
    # Photos are re-encoded without metadata: the assessor sees the same pixels, not the same bytes.
    with Image.open(io.BytesIO(download.data)) as served, Image.open(io.BytesIO(PNG)) as sent:
        assert served.convert("RGB").tobytes() == sent.convert("RGB").tobytes()
    assert download.mimetype == "image/png"

    j.decide(assessor, ids["LO1"], "met", criteria=(0, 1))
    j.decide(assessor, ids["LO2"], "more_evidence", "The photo shows the loaves, not how the dough was made.")
    for code in ("LO3", "LO4", "LO5", "LO6"):
        j.decide(assessor, ids[code], "met", criteria=(0,))
    request_text = "Please add a production sheet or photo of a sponge-method dough you prepared."
    j.fire(assessor, "request_more_evidence", request_text)
    assert j.state() == "more_evidence"

    # --- the candidate reads the request and answers ---
    asked = words(j.page(candidate))
    assert "More evidence requested" in asked
    assert f"Message {request_text}" in asked
    assert "Rye loaves I baked" in asked and statement in asked  # earlier items still shown
    j.add_evidence(candidate, [ids["LO2"]], kind="file", title="Sponge dough production sheet",
                   file=(io.BytesIO(PDF), "production-sheet.pdf"))
    with app.app_context():
        items = db.session.execute(select(EvidenceItem).order_by(EvidenceItem.id)).scalars().all()
        assert [i.submission_round for i in items] == [1, 1, 2]
        assert items[0].submitted_at is not None and items[2].submitted_at is None
    j.fire(candidate, "resubmit")
    assert j.state() == "under_review"

    # --- final decisions: LO2 is not met, so the recommendation is a partial award ---
    j.decide(assessor, ids["LO2"], "not_met",
             "The production sheet is a printed template, not filled in by you.")
    j.fire(assessor, "recommend")
    assert j.state() == "recommended"

    refused = j.fire(coordinator, "award", status=409)
    assert "Outcomes not met: LO2. A full award needs every claimed outcome met." in words(refused)
    j.fire(coordinator, "award_partially")
    # The award, its signed credential, and the candidate told of the decision.
    j.expected += ["award.issued", "credential.issued", "notification.created"]
    assert j.state() == "partially_awarded"

    # --- the certificate ---
    closed = j.page(candidate)
    award_link = re.search(r'href="/awards/(\d+)"', text(closed))
    assert award_link
    certificate = ok(candidate.get(f"/awards/{award_link.group(1)}"))
    shown = words(certificate)
    assert "Partial award" in shown and CANDIDATE["name"] in shown
    rows = re.findall(r"<tr><td><strong>(LO\d+)</strong>.*?</td><td>([\d.]+)</td></tr>", text(certificate))
    assert [code for code, _ in rows] == ["LO1", "LO3", "LO4", "LO5", "LO6"]
    assert sum(Decimal(c) for _, c in rows) == Decimal("4.5")
    assert "Credits validated 4.5 of 6.0 ECVET" in shown
    with app.app_context():
        award = db.session.get(Award, int(award_link.group(1)))
        assert award is not None and award.kind == "partial" and award.credits_total == Decimal("4.5")
        assert award.number in shown
    # Staff see the certificate too; another candidate does not.
    ok(coordinator.get(f"/awards/{award_link.group(1)}"))
    stranger = j.register("Someone Else", "someone@example.org")
    ok(stranger.get(f"/awards/{award_link.group(1)}"), 404)
    ok(stranger.get(f"/cases/{j.case_id}"), 404)

    # --- the timeline tells the story in plain language, in order ---
    story = words(closed)
    steps = [
        "Olena Kovalenko opened the case.",
        "Olena Kovalenko added evidence item #1 for 2 outcome(s).",
        "Olena Kovalenko added evidence item #2 for 4 outcome(s).",
        "Olena Kovalenko submitted the portfolio. Now: Submitted.",
        "Carl Coordinator started screening the case. Now: Screening.",
        "Carl Coordinator assigned an assessor.",
        "Carl Coordinator accepted the case for review. Now: Under review.",
        "Anna Assessor recorded a decision on an outcome: met.",
        "Anna Assessor recorded a decision on an outcome: more evidence needed.",
        "Anna Assessor asked for more evidence. Now: More evidence requested.",
        "Olena Kovalenko added evidence item #3 for 1 outcome(s).",
        "Olena Kovalenko handed in more evidence. Now: Under review.",
        "Anna Assessor recorded a decision on an outcome: not yet met.",
        "Anna Assessor made a recommendation. Now: Recommended.",
        "Carl Coordinator awarded the credential in part. Now: Partially awarded.",
        "The award was issued.",
    ]
    positions = [story.find(step) for step in steps]
    assert -1 not in positions, [s for s, p in zip(steps, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "case.transition" not in story and "evidence.added" not in story

    j.finish()
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Blob)).scalar_one() == 2


def test_journey_to_a_full_award(app):
    j = Journey(app)
    candidate = j.register("Giorgi Beridze", "giorgi@example.org")
    found = ok(candidate.get("/catalog?q=welding"))
    assert 'href="/catalog/GE-WELD-MMA"' in text(found)
    assert "No credential matches your search." in words(ok(candidate.get("/catalog?q=qqqqzzzz")))
    j.open_case(candidate, "GE-WELD-MMA", "Manual Metal Arc")
    ids = j.outcome_ids(candidate)
    assert len(ids) == 7
    j.add_evidence(candidate, list(ids.values()), kind="statement", title="Twelve years at the shipyard",
                   statement="I welded hull sections with MMA in all positions at the Poti shipyard.")
    j.fire(candidate, "submit")

    coordinator = j.staff("coordinator")
    assert f'href="/cases/{j.case_id}"' in text(ok(coordinator.get("/coordinator/?state=submitted")))
    j.fire(coordinator, "start_screening")
    j.assign(coordinator, "Anna Assessor")
    j.fire(coordinator, "accept_for_review")

    assessor = j.staff("assessor")
    assert f'href="/cases/{j.case_id}"' in text(ok(assessor.get("/assessor/")))
    j.declare(assessor)
    for outcome_id in ids.values():
        j.decide(assessor, outcome_id, "met", criteria=(0,))
    j.fire(assessor, "recommend")

    refused = j.fire(coordinator, "award_partially", status=409)
    assert "Every claimed outcome is met: give the full award instead of a partial one." in words(refused)
    j.fire(coordinator, "award")
    # The award, its signed credential, and the candidate told of the decision.
    j.expected += ["award.issued", "credential.issued", "notification.created"]
    assert j.state() == "awarded"

    award_link = re.search(r'href="/awards/(\d+)"', text(j.page(candidate)))
    assert award_link
    certificate = ok(candidate.get(f"/awards/{award_link.group(1)}"))
    rows = re.findall(r"<tr><td><strong>(LO\d+)</strong>.*?</td><td>([\d.]+)</td></tr>", text(certificate))
    assert [code for code, _ in rows] == list(ids)
    with app.app_context():
        case = db.session.get(Case, j.case_id)
        total = case.credential.credits_value
        assert sum(Decimal(c) for _, c in rows) == total
        assert sum((c.outcome.credits for c in case.claims), Decimal("0")) == total
    shown = words(certificate)
    assert "Full award" in shown
    assert f"Credits validated {total:.1f} of {total:.1f}" in shown
    timeline = words(j.page(candidate))
    assert "Carl Coordinator awarded the credential in full. Now: Awarded." in timeline
    j.finish()

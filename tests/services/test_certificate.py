"""The PDF certificate, read back as a reader would: its text (pypdfium2) and its QR code (zxing-cpp).

No database: the certificate is built from `AwardFacts` alone. An app context (without tables) gives Flask-Babel
the compiled Ukrainian translations, so the labels can be checked in both languages.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from flask import Flask

from validation import create_app
from validation.credentials import certificate
from validation.credentials.facts import AwardFacts, OutcomeFacts

VERIFY_URL = "https://validation.example.org/verify/VAL-2026-000042"


@pytest.fixture(scope="module")
def babel_app() -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SECRET_KEY": "x",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )


def render(app: Flask, facts: AwardFacts, language: str) -> bytes:
    with app.app_context():
        return certificate.render(facts, language)


def outcome(number: int, words: int = 1) -> OutcomeFacts:
    return OutcomeFacts(
        code=f"BB-{number:02d}",
        text={
            "en": f"Outcome {number}: " + "knead, shape and prove dough by hand; " * words,
            "uk": f"Результат {number}: " + "замішує, формує та вистоює тісто вручну; " * words,
        },
        kind="skill",
        credits=Decimal("2.5"),
    )


def award(kind: str = "full", outcomes: list[OutcomeFacts] | None = None, total: int = 3) -> AwardFacts:
    outcomes = outcomes if outcomes is not None else [outcome(i) for i in range(1, total + 1)]
    return AwardFacts(
        number="VAL-2026-000042",
        kind=kind,
        holder_name="Олена Коваль",
        issued_at=datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
        valid_until=datetime(2031, 3, 14, tzinfo=UTC),
        credential_code="UA-BAKERY",
        credential_version=1,
        title={"en": "Bread baking", "uk": "Випікання хліба"},
        description={"en": "Baking bread in a craft bakery.", "uk": "Випікання хліба в ремісничій пекарні."},
        country="UA",
        languages=["uk", "en"],
        awarding_body_name="Київський центр визнання кваліфікацій",
        awarding_body_url="https://centre.example.org",
        awarding_body_country="UA",
        eqf_level=4,
        nqf_level="4",
        credits_total=sum((o.credits for o in outcomes), Decimal(0)),
        credits_value=Decimal("2.5") * total,
        credits_system="ECTS",
        workload_hours=120,
        assessment_type={"en": "Portfolio and interview", "uk": "Портфоліо та співбесіда"},
        participation="blended",
        quality_assurance={"en": "Accredited by the national agency.", "uk": "Акредитовано національним агентством."},
        identity_verification="supervised_onsite",
        prerequisites={"en": "None", "uk": "Немає"},
        stackability={"en": "Part of the baker qualification.", "uk": "Складова кваліфікації пекаря."},
        further_information=None,
        outcomes=outcomes,
        outcomes_total=total,
        verify_url=VERIFY_URL,
        credential_id="urn:uuid:2f0d5c1e-3b7a-4f57-9a41-0c6a1f1d2b3c",
    )


def partial_award() -> AwardFacts:
    return award("partial", outcomes=[outcome(1), outcome(3)], total=3)


def pages_text(data: bytes) -> list[str]:
    document = pdfium.PdfDocument(data)
    return [document[i].get_textpage().get_text_range() for i in range(len(document))]


def flat(content: str) -> str:
    """Text without line breaks: a wrapped line comes back from the PDF as two."""
    return " ".join(content.split())


def qr_codes(data: bytes) -> list[str]:
    image = pdfium.PdfDocument(data)[0].render(scale=3).to_pil()
    return [barcode.text for barcode in zxingcpp.read_barcodes(image)]


@pytest.fixture(scope="module")
def full_uk(babel_app: Flask) -> bytes:
    return render(babel_app, award(), "uk")


@pytest.fixture(scope="module")
def partial_uk(babel_app: Flask) -> bytes:
    return render(babel_app, partial_award(), "uk")


@pytest.fixture(scope="module")
def partial_en(babel_app: Flask) -> bytes:
    return render(babel_app, partial_award(), "en")


def test_full_award_in_ukrainian(full_uk: bytes) -> None:
    assert full_uk.startswith(b"%PDF")
    content = flat("\n".join(pages_text(full_uk)))
    for expected in ("Олена Коваль", "Випікання хліба", "VAL-2026-000042", "BB-01", "BB-02", "BB-03", VERIFY_URL):
        assert expected in content
    # Labels in Ukrainian (from the compiled catalog), numbers written the Ukrainian way.
    assert "Сертифікат про визнані результати навчання" in content
    assert "Повне присвоєння" in content
    assert "7,5 з 7,5 ЄКТС" in content
    assert "2026-03-14" in content and "2031-03-14" in content
    assert "Київський центр визнання кваліфікацій (Україна)" in content
    assert "Bread baking" not in content


def test_partial_award_says_so(partial_uk: bytes, partial_en: bytes) -> None:
    uk = flat("\n".join(pages_text(partial_uk)))
    assert "Часткове присвоєння" in uk
    assert "Олена Коваль" in uk and "Випікання хліба" in uk and "VAL-2026-000042" in uk
    assert "BB-01" in uk and "BB-03" in uk
    assert "BB-02" not in uk  # not validated by this award

    en = flat("\n".join(pages_text(partial_en)))
    assert partial_en.startswith(b"%PDF")
    assert "Certificate of validated learning" in en
    assert "Partial award" in en and "Full award" not in en
    assert "validates 2 of the 3 learning outcomes" in en
    assert "credential of its own" in en
    assert "Bread baking" in en and "Олена Коваль" in en
    assert "5 of 7.5 ECTS" in en
    assert "Blended" in en and "Supervised on site, with identity verification" in en


def test_qr_code_leads_to_the_verification_page(full_uk: bytes, partial_en: bytes) -> None:
    assert qr_codes(full_uk) == [VERIFY_URL]
    assert qr_codes(partial_en) == [VERIFY_URL]
    assert "Scan to verify this certificate" in pages_text(partial_en)[0]


def test_qr_code_is_large_enough_to_scan(full_uk: bytes) -> None:
    page = pdfium.PdfDocument(full_uk)[0]
    image = page.render(scale=3).to_pil()
    (barcode,) = zxingcpp.read_barcodes(image)
    xs = [point.x for point in (barcode.position.top_left, barcode.position.top_right)]
    width_mm = (max(xs) - min(xs)) / 3 / 72 * 25.4
    assert width_mm >= 35


def test_metadata_holds_nothing_about_the_holder(full_uk: bytes) -> None:
    metadata = pdfium.PdfDocument(full_uk).get_metadata_dict()
    assert metadata["Title"] == "Сертифікат про визнані результати навчання"
    assert metadata["Creator"] == "validation"
    assert metadata["CreationDate"] == "D:20260314093000Z"
    assert not metadata["Author"] and not metadata["Subject"] and not metadata["Keywords"]
    assert "Коваль" not in str(metadata)


def test_same_award_gives_the_same_bytes(babel_app: Flask, full_uk: bytes) -> None:
    assert render(babel_app, award(), "uk") == full_uk


def test_renders_without_an_app_context() -> None:
    # In a worker or a command without an app, the labels stay English; the catalog texts follow the language.
    content = flat("\n".join(pages_text(certificate.render(partial_award(), "uk"))))
    assert "Partial award" in content and "Випікання хліба" in content


def test_thirty_long_outcomes_flow_over_pages(babel_app: Flask) -> None:
    facts = award(outcomes=[outcome(i, words=6) for i in range(1, 31)], total=30)
    data = render(babel_app, facts, "uk")
    texts = pages_text(data)
    assert len(texts) >= 2
    for i in range(1, 31):
        assert any(f"BB-{i:02d}" in page for page in texts), f"BB-{i:02d} is missing"
    assert qr_codes(data) == [VERIFY_URL]
    assert_inside_pages(data)


def test_very_long_texts_wrap_inside_the_page(babel_app: Flask) -> None:
    long_text = "Дуже довгий текст про забезпечення якості, який займає більше ніж сторінку. " * 90
    facts = dataclasses.replace(
        partial_award(),
        holder_name="Олена-Марія Анастасія Коваль-Шевченко " * 3,
        quality_assurance={"uk": long_text},
        outcomes=[outcome(1, words=120), outcome(3)],
    )
    data = render(babel_app, facts, "uk")
    assert_inside_pages(data)
    content = flat("".join(pages_text(data)))
    assert "BB-01" in content and "BB-03" in content
    assert qr_codes(data) == [VERIFY_URL]


def assert_inside_pages(data: bytes) -> None:
    """Every character is drawn inside the frame of its page: none runs off an edge or over the frame."""
    frame = certificate.FRAME / 25.4 * 72  # PDF points
    document = pdfium.PdfDocument(data)
    for index in range(len(document)):
        page = document[index]
        width, height = page.get_size()
        textpage = page.get_textpage()
        for char in range(textpage.count_chars()):
            left, bottom, right, top = textpage.get_charbox(char)
            inside = left >= frame and bottom >= frame and right <= width - frame and top <= height - frame
            assert inside, f"character {char} on page {index + 1} is outside the frame"


def test_fonts_come_with_the_package() -> None:
    fonts = Path(certificate.__file__).parent / "fonts"
    assert fonts == certificate.FONTS
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE"):
        assert (fonts / name).is_file()

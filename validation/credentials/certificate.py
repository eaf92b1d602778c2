"""The PDF certificate of an award: the sheet a holder prints, hands to an employer or attaches to an application.

Not everyone who reads a certificate has a wallet or a verifier, so the PDF states every element of the EU
micro-credential standard in words, in the holder's language, and its QR code leads to the public page that
verifies the signed credential: the paper itself proves nothing, the page it points to does.

It is built from `AwardFacts` alone, so that it says exactly what the other formats say. The DejaVu Sans
fonts are kept next to this module (fonts/, with their licence) and embedded, so Cyrillic prints wherever
the file is opened and the result does not depend on the fonts of the machine. Labels are translated with
Flask-Babel in the requested language (English without an app context); catalog texts are taken from the
facts in that language. The metadata holds only a title and the creator, nothing about the holder, and the
creation date is the date of issue, so that one award always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import segno
from babel import Locale
from babel.numbers import format_decimal
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from fpdf import FPDF

from validation.credentials.facts import AwardFacts, text

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"

MARGIN = 18.0  # mm, inside the frame
FRAME = 9.0  # mm from the edge of the sheet
BOTTOM = 22.0  # mm kept free at the foot of each page, for the footer
# The QR image with its quiet zone of 4 modules; the code itself is then 35-40 mm wide, which a phone reads
# from a printed sheet at arm's length.
QR_WIDTH = 46.0
QR_BORDER = 4
GAP = 6.0
LABEL_WIDTH = 52.0  # mm, the label column of the facts table
CODE_WIDTH = 26.0  # mm, the code column of the outcomes table
CREDITS_WIDTH = 28.0  # mm, the credits column of the outcomes table
CELL_PADDING = 1.5  # mm around the text of a table cell
LINE_HEIGHT = 0.5  # mm of line per point of font size

BLACK = (0, 0, 0)
ACCENT = (20, 83, 116)
MUTED = (90, 90, 90)
RULE = (200, 200, 200)
SHADE = (232, 240, 245)


class _Certificate(FPDF):
    """A4 portrait with a thin frame on every page and the award number and page count in the footer."""

    def __init__(self, number: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.number = number
        self.repeat_on_new_page: Callable[[], None] | None = None  # the headings of a table that goes on

    def header(self) -> None:
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.4)
        self.rect(FRAME, FRAME, self.w - 2 * FRAME, self.h - 2 * FRAME)
        if self.repeat_on_new_page:
            self.set_xy(MARGIN, MARGIN)
            self.repeat_on_new_page()
            self.set_y(self.get_y() + CELL_PADDING)

    def footer(self) -> None:
        self.set_y(-FRAME - 7)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 4, f"{self.number} · {self.page_no()}/{{nb}}", align="C")


def render(facts: AwardFacts, language: str) -> bytes:
    """The certificate of the award as a PDF, with labels and texts in `language` ("en" or "uk")."""
    with force_locale(language):
        pdf = _document(facts, language)
        qr_bottom = _verification(pdf, facts.verify_url)
        _opening(pdf, facts, language)
        pdf.set_y(max(pdf.get_y(), qr_bottom) + GAP)
        if facts.kind == "partial":
            _partial_note(pdf, facts)
        _facts_table(pdf, _fact_rows(facts, language))
        _outcomes_table(pdf, facts, language)
        return bytes(pdf.output())


def _document(facts: AwardFacts, language: str) -> _Certificate:
    pdf = _Certificate(facts.number)
    pdf.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(_("Certificate of validated learning"))
    pdf.set_creator("validation")
    pdf.set_creation_date(facts.issued_at)
    pdf.set_lang(language)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(True, margin=BOTTOM)
    pdf.add_page()
    return pdf


def _verification(pdf: FPDF, url: str) -> float:
    """The QR code of the verification page in the top right corner of page 1; returns where it ends."""
    x, y = pdf.w - MARGIN - QR_WIDTH, MARGIN
    pdf.image(_qr_png(url), x=x, y=y, w=QR_WIDTH, h=QR_WIDTH)
    pdf.set_xy(x, y + QR_WIDTH)
    pdf.set_font(FAMILY, "", 8)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(QR_WIDTH, 3.6, _("Scan to verify this certificate"), align="C")
    bottom = pdf.get_y()
    pdf.set_xy(MARGIN, MARGIN)
    return bottom


def _qr_png(url: str) -> BytesIO:
    """A QR code (never a Micro QR, which phones do not read) as a PNG, sharp when scaled to print size."""
    buffer = BytesIO()
    segno.make_qr(url, error="m").save(buffer, kind="png", scale=10, border=QR_BORDER)
    buffer.seek(0)
    return buffer


def _opening(pdf: FPDF, facts: AwardFacts, language: str) -> None:
    """Heading, kind of award, holder and credential, in the column left of the QR code."""
    width = pdf.epw - QR_WIDTH - GAP
    _line(pdf, width, _("Certificate of validated learning"), size=20, bold=True, color=ACCENT)
    _line(pdf, width, _("Full award") if facts.kind == "full" else _("Partial award"), size=12, bold=True)
    pdf.ln(4)
    _line(pdf, width, _("This certifies that"), size=10, color=MUTED)
    _line(pdf, width, facts.holder_name, size=18, bold=True)
    _line(pdf, width, _("has shown the learning outcomes listed below of"), size=10, color=MUTED)
    _line(pdf, width, text(facts.title, language), size=14, bold=True, color=ACCENT)


def _line(
    pdf: FPDF, width: float, content: str, *, size: float, bold: bool = False, color: tuple[int, int, int] = BLACK
) -> None:
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.set_text_color(*color)
    pdf.set_x(MARGIN)
    pdf.multi_cell(width, size * LINE_HEIGHT, content, align="L")
    pdf.ln(1)


def _partial_note(pdf: FPDF, facts: AwardFacts) -> None:
    note = ngettext(
        "This partial award validates %(validated)s of the %(num)s learning outcome of the credential. It is a "
        "credential of its own: it certifies the learning outcomes listed below, not the whole credential.",
        "This partial award validates %(validated)s of the %(num)s learning outcomes of the credential. It is a "
        "credential of its own: it certifies the learning outcomes listed below, not the whole credential.",
        facts.outcomes_total,
        validated=len(facts.outcomes),
    )
    pdf.set_font(FAMILY, "", 10)
    pdf.set_text_color(*BLACK)
    pdf.set_fill_color(*SHADE)
    pdf.multi_cell(pdf.epw, 5, note, align="L", fill=True, padding=2)
    pdf.ln(GAP / 2)


def _fact_rows(facts: AwardFacts, language: str) -> list[tuple[str, str]]:
    """The elements of the standard as (label, value), in the order a reader looks for them."""
    rows = [
        (_("Number"), facts.number),
        (_("Date of issue"), _date(facts.issued_at)),
    ]
    if facts.valid_until:
        rows.append((_("Valid until"), _date(facts.valid_until)))
    rows += [
        (_("Awarding body"), _awarding_body(facts, language)),
        (_("Level"), _level(facts)),
        (_("Credits validated"), _credits(facts, language)),
        (_("Notional workload"), ngettext("%(num)s hour", "%(num)s hours", facts.workload_hours)),
        (_("Type of assessment"), text(facts.assessment_type, language)),
        (_("Form of participation"), _participation(facts.participation)),
        (_("Quality assurance"), text(facts.quality_assurance, language)),
        (_("Supervision and identity verification"), identity_verification_label(facts.identity_verification)),
    ]
    optional = [
        (_("Prerequisites"), facts.prerequisites),
        (_("Stackability"), facts.stackability),
        (_("Further information"), facts.further_information),
    ]
    rows += [(label, text(texts, language)) for label, texts in optional if text(texts, language)]
    rows.append((_("Verify at"), facts.verify_url))
    return rows


def _facts_table(pdf: _Certificate, rows: list[tuple[str, str]]) -> None:
    columns = (_Column(LABEL_WIDTH, size=9, bold=True, color=MUTED), _Column(pdf.epw - LABEL_WIDTH))
    _rule(pdf)
    for label, value in rows:
        _row(pdf, columns, (label, value))


def _outcomes_table(pdf: _Certificate, facts: AwardFacts, language: str) -> None:
    """The validated outcomes; a long list goes on over the next page, with the column headings repeated."""
    pdf.ln(GAP)
    if pdf.will_page_break(30):  # never leave the heading alone at the foot of a page
        pdf.add_page()
    pdf.set_font(FAMILY, "B", 13)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(pdf.epw, 7, _("Validated learning outcomes"), align="L")
    pdf.ln(2)
    middle = pdf.epw - CODE_WIDTH - CREDITS_WIDTH
    headings = (_("Code"), _("Outcome"), f"{_('Credits')} ({_credit_system(facts.credits_system)})")
    heading_columns = (
        _Column(CODE_WIDTH, size=9, bold=True, color=ACCENT),
        _Column(middle, size=9, bold=True, color=ACCENT),
        _Column(CREDITS_WIDTH, size=9, bold=True, color=ACCENT, align="R"),
    )
    columns = (_Column(CODE_WIDTH, bold=True), _Column(middle), _Column(CREDITS_WIDTH, align="R"))

    def heading() -> None:
        _row(pdf, heading_columns, headings, fill=SHADE)

    heading()
    pdf.repeat_on_new_page = heading
    for outcome in facts.outcomes:
        _row(pdf, columns, (outcome.code, text(outcome.text, language), _number(outcome.credits, language)))
    pdf.repeat_on_new_page = None


@dataclass(frozen=True)
class _Column:
    width: float
    size: float = 9.5
    bold: bool = False
    color: tuple[int, int, int] = BLACK
    align: str = "L"

    def use(self, pdf: FPDF) -> float:
        """Set the column's font and colour; returns its line height."""
        pdf.set_font(FAMILY, "B" if self.bold else "", self.size)
        pdf.set_text_color(*self.color)
        return self.size * LINE_HEIGHT


def _row(
    pdf: _Certificate,
    columns: tuple[_Column, ...],
    texts: tuple[str, ...],
    fill: tuple[int, int, int] | None = None,
) -> None:
    """One row of a table, with a rule below it.

    A row that does not fit on the rest of the page starts on the next one; a row taller than a whole page
    (only a very long text does that) is split: its tallest cell is written last and flows over the pages.
    """
    heights = [_height(pdf, column, content) for column, content in zip(columns, texts, strict=True)]
    height = max(heights) + 2 * CELL_PADDING
    usable = pdf.page_break_trigger - MARGIN - 12  # a fresh page, less the headings repeated on it
    if pdf.will_page_break(height if height <= usable else 15):  # a split row starts with a few lines at least
        pdf.add_page()
    if fill:
        pdf.set_fill_color(*fill)
        pdf.rect(MARGIN, pdf.get_y(), pdf.epw, height, style="F")
    top, page = pdf.get_y(), pdf.page
    lefts = [MARGIN + sum(c.width for c in columns[:i]) for i in range(len(columns))]
    bottom = top
    for i in sorted(range(len(columns)), key=lambda i: heights[i]):
        pdf.page = page
        line_height = columns[i].use(pdf)
        pdf.set_xy(lefts[i] + CELL_PADDING, top + CELL_PADDING)
        pdf.multi_cell(columns[i].width - 2 * CELL_PADDING, line_height, texts[i], align=columns[i].align)
        bottom = pdf.get_y() if pdf.page != page else max(bottom, pdf.get_y())
    pdf.set_xy(MARGIN, bottom + CELL_PADDING)
    _rule(pdf)


def _height(pdf: FPDF, column: _Column, content: str) -> float:
    line_height = column.use(pdf)
    width = column.width - 2 * CELL_PADDING
    return float(pdf.multi_cell(width, line_height, content, dry_run=True, output="HEIGHT"))


def _rule(pdf: FPDF) -> None:
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    pdf.line(MARGIN, pdf.get_y(), MARGIN + pdf.epw, pdf.get_y())


def _date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _number(value: Decimal, language: str) -> str:
    """Credits as the reader writes numbers: 2.5 in English, 2,5 in Ukrainian; no trailing zeros."""
    return format_decimal(value, format="#,##0.##", locale=language)


def _awarding_body(facts: AwardFacts, language: str) -> str:
    country = Locale.parse(language).territories.get(facts.awarding_body_country, facts.awarding_body_country)
    lines = [f"{facts.awarding_body_name} ({country})"]
    if facts.awarding_body_url:
        lines.append(facts.awarding_body_url)
    return "\n".join(lines)


def _level(facts: AwardFacts) -> str:
    level = f"{_('EQF')} {facts.eqf_level}"
    if facts.nqf_level:
        level += f" · {_('national level')} {facts.nqf_level}"
    return level


def _credits(facts: AwardFacts, language: str) -> str:
    validated, total = _number(facts.credits_total, language), _number(facts.credits_value, language)
    return f"{validated} {_('of')} {total} {_credit_system(facts.credits_system)}"


def _credit_system(key: str) -> str:
    labels = {"ECTS": _("ECTS"), "ECVET": _("ECVET"), "national": _("national")}
    return labels.get(key, key)


def _participation(key: str) -> str:
    labels = {"onsite": _("onsite"), "online": _("online"), "blended": _("blended")}
    label = labels.get(key, key)
    return label[:1].upper() + label[1:]


def identity_verification_label(key: str) -> str:
    """The wording of the EU micro-credential standard for how the assessment was supervised."""
    labels = {
        "unsupervised_no_check": _("Unsupervised, with no identity verification"),
        "supervised_no_check": _("Supervised, with no identity verification"),
        "supervised_online": _("Supervised online, with identity verification"),
        "supervised_onsite": _("Supervised on site, with identity verification"),
    }
    return labels.get(key, key)

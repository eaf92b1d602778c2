"""Pictures of a PDF's first page, so that an assessor sees a document in place on the case page.

A browser's own PDF viewer cannot do this safely here: evidence is served in a sandbox, where Chromium shows
no PDF in a frame, and a phone's browser downloads a PDF instead of showing it. A picture of the first page,
drawn on the server by PDFium (the engine of Chromium's own viewer, through pypdfium2), shows everywhere, even
without JavaScript, and carries nothing of the document but its pixels.

Previews are derived data: kept beside the blobs under the same SHA-256 name, written atomically, drawn again
whenever one is missing. Losing them loses nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PIL import Image

from validation.storage.blobs import fsync_dir

#: The picture's width in pixels: sharp on a phone, legible on a desk screen.
WIDTH = 900
#: However the page is shaped, the picture stays within this height (a long receipt, a strange page size).
MAX_HEIGHT = 2400
#: A tiny page is not drawn larger than this many times its size in points.
MAX_SCALE = 4.0


class NoPreview(Exception):
    """The PDF cannot be drawn: protected by a password, or broken in a way its check let through."""


def preview_path(root: Path, sha256: str) -> Path:
    return root / "previews" / sha256[:2] / f"{sha256[2:]}.png"


def first_page_png(source: Path, root: Path, sha256: str) -> Path:
    """The preview of the PDF at `source` (stored as `sha256`), drawn now if it is not there yet.

    Two requests drawing the same preview at once each write a file of their own and rename it into place:
    the second rename replaces the first with the same picture."""
    target = preview_path(root, sha256)
    if target.exists():
        return target
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(source))
    except pdfium.PdfiumError as exc:
        raise NoPreview(str(exc)) from exc
    try:
        if len(document) == 0:
            raise NoPreview("no pages")
        page = document[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise NoPreview("a page without size")
        scale = min(WIDTH / width, MAX_HEIGHT / height, MAX_SCALE)
        image: Image.Image = page.render(scale=scale, may_draw_forms=False).to_pil()
    except pdfium.PdfiumError as exc:
        raise NoPreview(str(exc)) from exc
    finally:
        document.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            image.convert("RGB").save(out, "PNG", optimize=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target

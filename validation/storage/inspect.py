"""Deciding what an uploaded file really is, with real decoders, and keeping no location or author in it.

The leading bytes only say what a file claims to be (a PDF header can be followed by HTML), so each
accepted type is opened by a decoder for that type: images are decoded and re-encoded without their
metadata (no GPS of where a displaced person lives leaves the phone), PDFs are parsed and rewritten
without document information, DOCX/ODT archives are checked for zip bombs and path tricks and written
again without author fields, audio and video containers are walked box by box and location atoms blanked.
Anything that does not decode is refused; nothing here ever trusts the file name.
"""

from __future__ import annotations

import codecs
import re
import struct
import uuid
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

#: What is accepted, by media type, with the name a person knows it by.
ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "video/mp4": "MP4",
    "video/webm": "WebM",
    "video/quicktime": "MOV",
    "audio/mpeg": "MP3",
    "audio/mp4": "M4A",
    "audio/ogg": "OGG",
    "text/plain": "text",
    "application/vnd.oasis.opendocument.text": "ODT",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX",
}

#: A phone photo is 12 to 50 megapixels; more than this is a decompression bomb, not a photo of work.
MAX_PIXELS = 60_000_000
ZIP_MAX_ENTRIES = 2_000
ZIP_MAX_TOTAL = 200 * 1024 * 1024
ZIP_MAX_RATIO = 200
#: The metadata part of a video (its `moov` box) is read into memory; real ones are far smaller.
MAX_MOOV = 64 * 1024 * 1024

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def N_(message: str) -> str:
    """Marks a sentence for translation where it is defined; the web layer translates it when shown."""
    return message


NOT_ACCEPTED = N_(
    "This kind of file is not accepted. Accepted: photos (JPEG, PNG, WebP, HEIC), PDF, DOCX and ODT "
    "documents, plain text, video (MP4, MOV, WebM) and sound (MP3, M4A, OGG)."
)


class ContentRefused(Exception):
    """The bytes are not a file we accept; the message says why in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Checked:
    media_type: str
    #: A cleaned copy to keep instead of the upload (re-encoded image, PDF without metadata...).
    replacement: Path | None = None


def identify(head: bytes) -> str | None:
    """The type the leading bytes claim; the decoder for that type then has to agree."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "image/heic"
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else None
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head and not _looks_like_markup(head):
        return "text/plain"
    return None


def _looks_like_markup(head: bytes) -> bool:
    """HTML, SVG and XML are refused even though they are text: a browser would run them."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def inspect(path: Path, head: bytes, work_dir: Path) -> Checked:
    """Check the file at `path` by decoding it; return its real type and, where needed, a cleaned copy."""
    claimed = identify(head)
    if claimed is None:
        raise ContentRefused(NOT_ACCEPTED)
    work_dir.mkdir(parents=True, exist_ok=True)
    if claimed in ("image/jpeg", "image/png", "image/webp", "image/heic"):
        return _image(path, claimed, work_dir)
    if claimed == "application/pdf":
        return _pdf(path, work_dir)
    if claimed == "application/zip":
        return _office(path, work_dir)
    if claimed in ("video/mp4", "video/quicktime", "audio/mp4"):
        return _isobmff(path, claimed, work_dir)
    if claimed == "video/webm":
        return _webm(path)
    if claimed == "audio/mpeg":
        return _mp3(path)
    if claimed == "audio/ogg":
        return _ogg(path)
    return _text(path)


def _scratch(work_dir: Path, suffix: str) -> Path:
    return work_dir / f"clean-{uuid.uuid4().hex}{suffix}"


# --- images -------------------------------------------------------------------------------------------

_SAVE_AS = {"image/jpeg": ("JPEG", "image/jpeg"), "image/heic": ("JPEG", "image/jpeg"),
            "image/png": ("PNG", "image/png"), "image/webp": ("WEBP", "image/webp")}


def _image(path: Path, claimed: str, work_dir: Path) -> Checked:
    """Decode every pixel, turn the picture upright, and save it again with no EXIF, XMP or GPS."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between the limit and twice the limit; the size is checked right below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise ContentRefused("The picture has too many pixels to be a photo; please send a smaller one.")
                image.load()
                upright = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise ContentRefused("The picture has too many pixels to be a photo; please send a smaller one.") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ContentRefused("The picture is damaged or not really a picture.") from None
    pil_format, media_type = _SAVE_AS[claimed]
    if pil_format == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    if pil_format == "PNG" and upright.mode not in ("RGB", "RGBA", "L", "LA", "P", "1", "I", "I;16"):
        upright = upright.convert("RGBA")
    out = _scratch(work_dir, "." + pil_format.lower())
    options = {"quality": 90} if pil_format in ("JPEG", "WEBP") else {"optimize": True}
    upright.save(out, pil_format, **options)
    return Checked(media_type, out)


# --- PDF ----------------------------------------------------------------------------------------------

def _pdf(path: Path, work_dir: Path) -> Checked:
    """Parse the whole document and write it again without its information dictionary or XMP."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    try:
        reader = PdfReader(path, strict=True)
        if reader.is_encrypted:
            raise ContentRefused("The PDF is protected by a password, so an assessor could not open it.")
        if len(reader.pages) == 0:
            raise ContentRefused("The PDF has no pages.")
        writer = PdfWriter(clone_from=reader)
        writer.metadata = None
        root = writer.root_object
        if NameObject("/Metadata") in root:
            del root[NameObject("/Metadata")]
        out = _scratch(work_dir, ".pdf")
        with out.open("wb") as handle:
            writer.write(handle)
    except ContentRefused:
        raise
    except Exception:  # pypdf raises many kinds of errors for broken files; each means "not a PDF"
        raise ContentRefused("The PDF is damaged or not really a PDF.") from None
    return Checked("application/pdf", out)


# --- DOCX and ODT -------------------------------------------------------------------------------------

_ODT = "application/vnd.oasis.opendocument.text"
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_AUTHOR_FIELDS = re.compile(
    rb"(<(dc:creator|cp:lastModifiedBy|meta:initial-creator|meta:printed-by)(?:\s[^>]*)?>)(.*?)(</\2>)", re.S
)


def _office(path: Path, work_dir: Path) -> Checked:
    """A document is a zip: refuse bombs, absolute or parent paths and links before reading a byte of it."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ContentRefused("The document is damaged.") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > ZIP_MAX_ENTRIES:
            raise ContentRefused("The document has too many parts.")
        total = 0
        for entry in entries:
            name = entry.filename
            if name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name) or ":" in name:
                raise ContentRefused("The document contains a part with an unsafe name.")
            if (entry.external_attr >> 16) & 0o170000 == 0o120000:
                raise ContentRefused("The document contains a link, which documents never need.")
            total += entry.file_size
            if entry.file_size > 1024 * 1024 and entry.file_size > ZIP_MAX_RATIO * max(entry.compress_size, 1):
                raise ContentRefused("The document unpacks to far more than its size; it is not accepted.")
        if total > ZIP_MAX_TOTAL:
            raise ContentRefused("The document unpacks to far more than its size; it is not accepted.")
        names = {entry.filename for entry in entries}
        if "mimetype" in names and archive.read("mimetype").strip() == _ODT.encode() and "content.xml" in names:
            media_type = _ODT
        elif "[Content_Types].xml" in names and "word/document.xml" in names:
            media_type = _DOCX
        else:
            raise ContentRefused("Only text documents (DOCX or ODT) are accepted among office files.")
        out = _scratch(work_dir, ".zip")
        try:
            with zipfile.ZipFile(out, "w") as clean:
                for entry in entries:
                    data = archive.read(entry)
                    if entry.filename in ("docProps/core.xml", "meta.xml", "docProps/app.xml"):
                        data = _AUTHOR_FIELDS.sub(rb"\1\4", data)
                    clean.writestr(entry, data, compress_type=entry.compress_type)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, NotImplementedError):
            out.unlink(missing_ok=True)
            raise ContentRefused("The document is damaged.") from None
    return Checked(media_type, out)


# --- MP4, MOV, M4A ------------------------------------------------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"udta", b"meta", b"ilst", b"edts", b"stbl"}
_LOCATION_BOXES = {b"\xa9xyz", b"loci"}


def _boxes(data: bytes | memoryview, start: int, end: int):  # type: ignore[no-untyped-def]
    """Yield (type, payload start, box end) for the boxes between start and end; raise if they overrun."""
    position = start
    while position < end:
        if end - position < 8:
            raise ContentRefused("The video or audio file is damaged.")
        size, kind = struct.unpack(">I4s", bytes(data[position:position + 8]))
        header = 8
        if size == 1:
            if end - position < 16:
                raise ContentRefused("The video or audio file is damaged.")
            size = struct.unpack(">Q", bytes(data[position + 8:position + 16]))[0]
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise ContentRefused("The video or audio file is damaged.")
        yield kind, position + header, position + size
        position += size


def _isobmff(path: Path, claimed: str, work_dir: Path) -> Checked:
    """Walk the top-level boxes to the end of the file, then blank any location inside `moov`."""
    size = path.stat().st_size
    moov: tuple[int, int] | None = None
    has_media = False
    with path.open("rb") as handle:
        position = 0
        while position < size:
            handle.seek(position)
            header = handle.read(16)
            if len(header) < 8:
                raise ContentRefused("The video or audio file is damaged.")
            box_size, kind = struct.unpack(">I4s", header[:8])
            header_size = 8
            if box_size == 1:
                box_size, header_size = struct.unpack(">Q", header[8:16])[0], 16
            elif box_size == 0:
                box_size = size - position
            if box_size < header_size or position + box_size > size:
                raise ContentRefused("The video or audio file is damaged.")
            if kind == b"moov":
                moov = (position, box_size)
            has_media = has_media or kind == b"mdat"
            position += box_size
        if moov is None or not has_media:
            raise ContentRefused("The video or audio file has no playable content.")
        if moov[1] > MAX_MOOV:
            raise ContentRefused("The video or audio file is damaged.")
        handle.seek(moov[0])
        box = bytearray(handle.read(moov[1]))
    if not _blank_locations(box):
        return Checked(claimed)
    out = _scratch(work_dir, ".mp4")
    with path.open("rb") as source, out.open("wb") as target:
        while chunk := source.read(1024 * 1024):
            target.write(chunk)
        target.seek(moov[0])
        target.write(box)
    return Checked(claimed, out)


def _blank_locations(moov: bytearray) -> bool:
    """Overwrite location payloads with zeros in place: sizes stay, so the file stays playable."""
    changed = False
    location_keys: set[int] = set()

    def walk(start: int, end: int) -> None:
        nonlocal changed
        for kind, payload, box_end in _boxes(moov, start, end):
            if kind in _LOCATION_BOXES:
                moov[payload:box_end] = bytes(box_end - payload)
                changed = True
            elif kind == b"keys":
                _location_key_indexes(moov, payload, box_end, location_keys)
            elif kind == b"ilst":
                for item, item_payload, item_end in _boxes(moov, payload, box_end):
                    if int.from_bytes(item, "big") in location_keys:
                        moov[item_payload:item_end] = bytes(item_end - item_payload)
                        changed = True
            elif kind in _CONTAINERS:
                # `meta` is a full box (4 bytes of version and flags) in MP4, a plain one in QuickTime.
                inner = payload + 4 if kind == b"meta" and moov[payload + 4:payload + 8] != b"hdlr" else payload
                walk(inner, box_end)

    walk(8, len(moov))
    return changed


def _location_key_indexes(data: bytearray, start: int, end: int, found: set[int]) -> None:
    count = struct.unpack(">I", bytes(data[start + 4:start + 8]))[0] if end - start >= 8 else 0
    position = start + 8
    for index in range(1, count + 1):
        if position + 8 > end:
            return
        size = struct.unpack(">I", bytes(data[position:position + 4]))[0]
        if size < 8 or position + size > end:
            return
        if b"location" in bytes(data[position + 8:position + size]).lower():
            found.add(index)
        position += size


# --- WebM, MP3, OGG -----------------------------------------------------------------------------------

def _webm(path: Path) -> Checked:
    with path.open("rb") as handle:
        head = handle.read(64)
    if not head.startswith(b"\x1a\x45\xdf\xa3") or b"webm" not in head or path.stat().st_size < 64:
        raise ContentRefused("The video file is damaged.")
    return Checked("video/webm")


def _mp3(path: Path) -> Checked:
    """Skip an ID3 tag by its declared size, then two consecutive MPEG audio frames must follow."""
    with path.open("rb") as handle:
        head = handle.read(10)
        offset = 0
        if head.startswith(b"ID3"):
            if len(head) < 10 or any(b & 0x80 for b in head[6:10]):
                raise ContentRefused("The audio file is damaged.")
            offset = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
        handle.seek(offset)
        frame = handle.read(4)
    if len(frame) < 4 or frame[0] != 0xFF or frame[1] & 0xE0 != 0xE0 or (frame[1] >> 3) & 3 == 1 \
            or (frame[1] >> 1) & 3 == 0 or frame[2] >> 4 in (0, 15) or (frame[2] >> 2) & 3 == 3:
        raise ContentRefused("The audio file is damaged.")
    return Checked("audio/mpeg")


def _ogg(path: Path) -> Checked:
    with path.open("rb") as handle:
        page = handle.read(27)
    if len(page) < 27 or page[:4] != b"OggS" or page[4] != 0:
        raise ContentRefused("The audio file is damaged.")
    return Checked("audio/ogg")


# --- plain text ---------------------------------------------------------------------------------------

def _text(path: Path) -> Checked:
    """All of it must be UTF-8 without control characters, not just the beginning."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(64 * 1024):
                if _has_controls(decoder.decode(chunk)):
                    raise ContentRefused(NOT_ACCEPTED)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ContentRefused(NOT_ACCEPTED) from None
    return Checked("text/plain")


def _has_controls(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\t\n\r\f" for c in text)

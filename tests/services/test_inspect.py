"""Each accepted type is opened by a real decoder; metadata that could locate or name a person is removed."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
import zlib
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from validation.storage import BlobStore, ContentRefused, inspect
from validation.storage.inspect import MAX_PIXELS, identify

GPS_IFD = 0x8825


def _check(tmp_path: Path, data: bytes, name: str = "upload"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_bytes(data)
    return inspect(path, data[:8192], tmp_path / "work")


def _kept(tmp_path: Path, data: bytes):  # type: ignore[no-untyped-def]
    checked = _check(tmp_path, data)
    return checked, (checked.replacement.read_bytes() if checked.replacement else data)


def _photo(fmt: str, size: tuple[int, int] = (40, 20), orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    image.putpixel((0, 0), (0, 0, 255))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (50.0, 27.0, 0.0), 3: "E", 4: (30.0, 31.0, 0.0)})
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "media_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                                 ("WEBP", "image/webp"), ("HEIF", "image/jpeg")])
def test_photos_are_reencoded_without_gps_or_camera(tmp_path, fmt, media_type):
    pillow_heif.register_heif_opener()
    original = _photo(fmt)
    with Image.open(io.BytesIO(original)) as sent:
        assert sent.getexif().get_ifd(GPS_IFD), "the test photo must carry a GPS position"
    checked, kept = _kept(tmp_path, original)
    assert checked.media_type == media_type
    with Image.open(io.BytesIO(kept)) as stored:
        exif = stored.getexif()
        assert not exif.get_ifd(GPS_IFD) and 0x010F not in exif
        assert stored.size == (40, 20)
    assert b"PhoneMaker" not in kept


def test_a_sideways_phone_photo_is_turned_upright(tmp_path):
    _, kept = _kept(tmp_path, _photo("JPEG", (40, 20), orientation=6))
    with Image.open(io.BytesIO(kept)) as stored:
        assert stored.size == (20, 40)


def test_a_pixel_flood_is_refused_before_decoding(tmp_path):
    side = int(MAX_PIXELS**0.5) + 100
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    data += struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    with pytest.raises(ContentRefused, match="too many pixels"):
        _check(tmp_path, data)


def test_a_truncated_photo_is_refused(tmp_path):
    photo = _photo("JPEG", (400, 300))
    with pytest.raises(ContentRefused, match="damaged"):
        _check(tmp_path, photo[: len(photo) // 3])


def _pdf(author: str = "Olena Kovalenko", password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Author": author, "/Producer": "Scanner 3000"})
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_is_parsed_and_kept_without_its_author(tmp_path):
    checked, kept = _kept(tmp_path, _pdf())
    assert checked.media_type == "application/pdf"
    assert b"Olena" not in kept
    reader = PdfReader(io.BytesIO(kept))
    assert len(reader.pages) == 1 and not (reader.metadata or {}).get("/Author")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7\n<html><body><script>alert(1)</script></body></html>\n", "damaged"),
        (b"%PDF-1.4\n" + b"0" * 500, "damaged"),
        (_pdf(password="secret"), "password"),
    ],
    ids=["pdf-header-then-html", "pdf-header-then-noise", "encrypted"],
)
def test_what_only_looks_like_a_pdf_is_refused(tmp_path, data, message):
    with pytest.raises(ContentRefused, match=message):
        _check(tmp_path, data)


def _zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in links:
                info.external_attr = (0o120777 << 16)
            archive.writestr(info, data)
    return out.getvalue()


CORE = (b'<?xml version="1.0"?><cp:coreProperties xmlns:cp="x" xmlns:dc="y"><dc:creator>Olena Kovalenko'
        b"</dc:creator><cp:lastModifiedBy>Olena K.</cp:lastModifiedBy><dc:title>CV</dc:title></cp:coreProperties>")
DOCX = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>", "docProps/core.xml": CORE}


def test_a_docx_is_kept_without_its_author(tmp_path):
    checked, kept = _kept(tmp_path, _zip(DOCX))
    assert checked.media_type.endswith("wordprocessingml.document")
    with zipfile.ZipFile(io.BytesIO(kept)) as archive:
        core = archive.read("docProps/core.xml")
        assert b"Olena" not in core and b"<dc:title>CV</dc:title>" in core
        assert archive.read("word/document.xml") == b"<w:document/>"


def test_an_odt_is_recognised_and_kept_without_its_author(tmp_path):
    odt = {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office:document-content/>",
           "meta.xml": b"<office:meta><meta:initial-creator>Taras M</meta:initial-creator></office:meta>"}
    checked, kept = _kept(tmp_path, _zip(odt))
    assert checked.media_type == "application/vnd.oasis.opendocument.text"
    with zipfile.ZipFile(io.BytesIO(kept)) as archive:
        assert archive.namelist()[0] == "mimetype"
        assert b"Taras" not in archive.read("meta.xml")


@pytest.mark.parametrize(
    ("entries", "links", "message"),
    [
        ({**DOCX, "../../etc/cron.d/evil": b"x"}, (), "unsafe name"),
        ({**DOCX, "/abs/path": b"x"}, (), "unsafe name"),
        ({**DOCX, "word/media/link": b"/etc/passwd"}, ("word/media/link",), "link"),
        ({**DOCX, "word/media/zeros.bin": b"\x00" * (20 * 1024 * 1024)}, (), "unpacks to far more"),
        ({"readme.txt": b"hello"}, (), "Only text documents"),
    ],
    ids=["parent-path", "absolute-path", "symlink", "zip-bomb", "not-a-document"],
)
def test_dangerous_or_foreign_archives_are_refused(tmp_path, entries, links, message):
    with pytest.raises(ContentRefused, match=message):
        _check(tmp_path, _zip(entries, links))


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4(brand: bytes = b"isom", location: bytes = b"+50.4501+030.5234/") -> bytes:
    xyz = _box(b"\xa9xyz", struct.pack(">HH", len(location), 0) + location)
    keys = _box(b"keys", struct.pack(">II", 0, 1) + _box(b"mdta", b"com.apple.quicktime.location.ISO6709"))
    ilst = _box(b"ilst", _box(struct.pack(">I", 1), _box(b"data", b"\x00\x00\x00\x01\x00\x00\x00\x00" + location)))
    meta = _box(b"meta", _box(b"hdlr", b"\x00" * 24) + keys + ilst)
    moov = _box(b"moov", _box(b"mvhd", b"\x00" * 100) + _box(b"udta", xyz) + meta)
    return _box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand) + moov + _box(b"mdat", b"\x00\x01" * 500)


@pytest.mark.parametrize(("brand", "media_type"), [(b"isom", "video/mp4"), (b"qt  ", "video/quicktime"),
                                                   (b"M4A ", "audio/mp4")])
def test_video_and_audio_containers_lose_their_location(tmp_path, brand, media_type):
    original = _mp4(brand)
    checked, kept = _kept(tmp_path, original)
    assert checked.media_type == media_type
    assert b"+50.4501+030.5234/" in original and b"+50.4501+030.5234/" not in kept
    assert len(kept) == len(original) and kept[-1000:] == original[-1000:]


def test_a_video_without_location_is_kept_as_it_is(tmp_path):
    moov = _box(b"moov", _box(b"mvhd", b"\x00" * 100))
    data = _box(b"ftyp", b"isom\x00\x00\x02\x00isom") + moov + _box(b"mdat", b"\x01" * 300)
    checked = _check(tmp_path, data)
    assert checked.media_type == "video/mp4" and checked.replacement is None


@pytest.mark.parametrize(
    "data",
    [_mp4()[:-10], _box(b"ftyp", b"isom\x00\x00\x02\x00isom") + _box(b"mdat", b"\x00" * 50),
     _box(b"ftyp", b"isom\x00\x00\x02\x00isom") + b"\xff\xff\xff\xffmoov"],
    ids=["truncated", "no-moov", "box-overruns-file"],
)
def test_broken_video_is_refused(tmp_path, data):
    with pytest.raises(ContentRefused):
        _check(tmp_path, data)


MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 413


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 100, "video/webm"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + MP3_FRAME * 3, "audio/mpeg"),
        (MP3_FRAME * 3, "audio/mpeg"),
        (b"OggS\x00\x02" + b"\x00" * 200, "audio/ogg"),
        ("Рецепт: житній хліб.\n".encode() * 2000, "text/plain"),
    ],
    ids=["webm", "mp3-id3", "mp3", "ogg", "long-text"],
)
def test_other_accepted_types(tmp_path, data, media_type):
    assert _check(tmp_path, data).media_type == media_type


@pytest.mark.parametrize(
    "data",
    [
        b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + b"<html>",
        b"plain text start " * 1000 + b"\xff\xfe broken utf-8 far from the start",
        b"plain text with a control character \x1b[31m",
        b"\xef\xbb\xbf  <svg onload=alert(1)>",
        os.urandom(16) + b"\x00" * 100,
    ],
    ids=["mp3-without-frames", "invalid-utf8-deep-inside", "control-characters", "svg", "random"],
)
def test_other_impostors_are_refused(tmp_path, data):
    with pytest.raises(ContentRefused):
        _check(tmp_path, data)


def test_markup_is_not_text():
    assert identify(b"<!DOCTYPE html><html>") is None
    assert identify(b"Dear assessor, <b>") == "text/plain"


def test_a_cleaned_file_is_stored_under_the_hash_of_what_is_kept(tmp_path):
    store = BlobStore(tmp_path / "store")
    original = _photo("JPEG")
    stored = store.put(io.BytesIO(original), 10 * 1024 * 1024, check=inspect)
    kept = stored.path.read_bytes()
    assert kept != original and stored.media_type == "image/jpeg"
    assert stored.path.name == hashlib.sha256(kept).hexdigest()[2:]
    # Neither the original nor any scratch copy is left anywhere in the store.
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert files == [stored.path]


def test_a_refused_file_leaves_nothing_in_the_store(tmp_path):
    store = BlobStore(tmp_path / "store")
    with pytest.raises(ContentRefused):
        store.put(io.BytesIO(b"%PDF-1.4\n<html></html>"), 1024 * 1024, check=inspect)
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []

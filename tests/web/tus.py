"""A tus 1.0.0 client for the Flask test client, and small valid media files, for the upload tests."""

from __future__ import annotations

import base64
import io
import struct
from collections.abc import Iterable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_token

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: object) -> str:
    return ",".join(f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in values.items())


class Tus:
    """One browser's tus requests, carrying the CSRF token the page gave, as upload.js does."""

    def __init__(self, client: FlaskClient, case_id: int) -> None:
        self.client = client
        self.case_id = case_id
        self.csrf = csrf_token(client, "/catalog")

    def headers(self, **extra: str) -> dict[str, str]:
        return {**TUS, "X-CSRFToken": self.csrf, **extra}

    def create(self, length: int, outcomes: Iterable[int], *, name: str = "notes.txt", title: str = "Notes",
               version: int | None = None, token: str | None = None, case_id: int | None = None):  # type: ignore[no-untyped-def]
        meta: dict[str, object] = {"filename": name, "title": title, "outcomes": ",".join(map(str, outcomes))}
        if version is not None:
            meta["version"] = version
        if token is not None:
            meta["client_token"] = token
        return self.client.post(
            f"/cases/{case_id or self.case_id}/uploads",
            headers=self.headers(**{"Upload-Length": str(length), "Upload-Metadata": metadata(**meta)}),
        )

    def head(self, location: str):  # type: ignore[no-untyped-def]
        return self.client.head(location, headers=self.headers())

    def patch(self, location: str, offset: int, data: bytes, **extra: str):  # type: ignore[no-untyped-def]
        return self.client.patch(
            location,
            data=data,
            headers=self.headers(**{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
                                    **extra}),
        )

    def patch_cut_off(self, location: str, offset: int, sent: bytes, announced: int):  # type: ignore[no-untyped-def]
        """A PATCH whose connection breaks: it announces `announced` bytes, only `sent` arrive."""
        return self.client.patch(
            location,
            headers=self.headers(**{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}),
            environ_overrides={"wsgi.input": io.BytesIO(sent), "CONTENT_LENGTH": str(announced)},
        )

    def delete(self, location: str):  # type: ignore[no-untyped-def]
        return self.client.delete(location, headers=self.headers())

    def send(self, data: bytes, outcomes: Iterable[int], chunk: int = 1000, **create: object):  # type: ignore[no-untyped-def]
        """Create an upload and send all of `data` in chunks; returns (location, last response)."""
        created = self.create(len(data), outcomes, **create)  # type: ignore[arg-type]
        assert created.status_code == 201, created.get_data(as_text=True)
        location = created.headers["Location"]
        response = created
        for offset in range(0, len(data), chunk):
            response = self.patch(location, offset, data[offset:offset + chunk])
            if response.status_code != 204:
                break
        return location, response


def part_files(app: Flask) -> list[Path]:
    folder = Path(app.config["EVIDENCE_DIR"]) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4_bytes(media: bytes = b"\x00" * 4000) -> bytes:
    """A minimal MP4 the decoder accepts: ftyp, an empty moov, and the media data."""
    return box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + box(b"moov", b"") + box(b"mdat", media)


def mp3_bytes(frames: int = 20) -> bytes:
    """MPEG-1 layer III frames at 128 kbit/s, 44.1 kHz (417 bytes each), silent."""
    frame = b"\xff\xfb\x90\x64" + b"\x00" * 413
    return frame * frames

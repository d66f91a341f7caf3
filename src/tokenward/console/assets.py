"""The console's static files, served under names that carry a hash of their content.

A changed file gets a new name, so each can be cached for a year (``immutable``) and no
browser ever runs an old script against a new page.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
LONG_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str


class Assets:
    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._urls: dict[str, str] = {}
        self._by_hashed_name: dict[str, Asset] = {}
        for path in sorted(directory.iterdir()):
            if not path.is_file():
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()[:12]
            hashed = f"{path.stem}.{digest}{path.suffix}"
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type.endswith("javascript"):
                media_type += "; charset=utf-8"
            self._by_hashed_name[hashed] = Asset(body, media_type)
            self._urls[path.name] = hashed

    def hashed_name(self, name: str) -> str:
        return self._urls[name]

    def find(self, hashed_name: str) -> Asset | None:
        return self._by_hashed_name.get(hashed_name)

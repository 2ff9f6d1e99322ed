"""The dashboard's pages: the files of `ui/`, read once, and index.html with the token put in."""

from __future__ import annotations

import html
import os
import re

UI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ui")
TOKEN_PLACEHOLDER = "__DEJUNK_TOKEN__"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
MAX_FILE_BYTES = 4 * 1024 * 1024


class Files:
    """The servable files of a folder (no subfolders, known types only), by name, read once."""

    def __init__(self, folder: str = UI_DIR):
        self.folder = folder
        self.files: dict[str, tuple[bytes, str]] = {}
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            names = []
        for name in names:
            content_type = CONTENT_TYPES.get(os.path.splitext(name)[1].lower())
            path = os.path.join(folder, name)
            if content_type is None or not _NAME.match(name) or not os.path.isfile(path) or os.path.islink(path):
                continue
            if os.path.getsize(path) > MAX_FILE_BYTES:
                continue
            with open(path, "rb") as f:
                self.files[name] = (f.read(), content_type)

    def get(self, name: str) -> tuple[bytes, str] | None:
        """A file's bytes and content type; None for any name not in the folder."""
        return self.files.get(name)

    def index(self, token: str) -> bytes | None:
        """index.html with every token placeholder replaced by `token`, HTML-escaped; None if there is none."""
        found = self.files.get("index.html")
        if found is None:
            return None
        return found[0].replace(TOKEN_PLACEHOLDER.encode(), html.escape(token, quote=True).encode())

"""The compiled-engine cache: save an engine once, load it on the next start instead of rebuilding.

A cache file is named by a key: the SHA-256 of the engine version, the cosmetic component's
name and `cache_version`, and each list's path and bytes. A file whose header does not carry the same key and
version, or that fails to load, is ignored (and replaced by the next save). Saving writes a
temporary file in the same directory and renames it over the target, so a reader never sees a
partial file; only the few newest cache files are kept.

The file is a pickle, so the directory must be private to the user (as `~/.cache/dejunk` is).
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

_MAGIC = b"dejunk-engine\n"
_KEEP = 3  # newest cache files kept per directory


def cache_key(files: list[tuple[str, bytes]], engine_version: str, cosmetic_factory=None) -> str:
    """Key for an engine built from these (path, content) files by this engine and cosmetic component."""
    digest = hashlib.sha256()
    digest.update(f"engine {engine_version}\n".encode())
    if cosmetic_factory is not None:
        name = getattr(cosmetic_factory, "__qualname__", type(cosmetic_factory).__qualname__)
        module = getattr(cosmetic_factory, "__module__", "")
        # A store class says when its saved form changes with a `cache_version` attribute (read
        # from the factory itself, or from the class of a bound `from_lists` classmethod).
        owner = getattr(cosmetic_factory, "__self__", None)
        version = getattr(cosmetic_factory, "cache_version", None) or getattr(owner, "cache_version", "")
        digest.update(f"cosmetic {module}.{name} {version}\n".encode())
    for path, data in files:
        # The path too: the engine's list summaries name it.
        digest.update(f"list {os.path.abspath(path)} {len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def cache_path(cache_dir: str, key: str) -> Path:
    return Path(os.path.expanduser(cache_dir)) / f"engine-{key[:40]}.pickle"


def load(cache_dir: str, key: str):
    """The engine saved under `key`, or None when there is none or it cannot be used."""
    path = cache_path(cache_dir, key)
    try:
        with open(path, "rb") as f:
            if f.read(len(_MAGIC)) != _MAGIC or f.readline().rstrip(b"\n") != key.encode():
                return None
            # Unpickling allocates hundreds of thousands of objects; the collector would rescan
            # them over and over (three times slower).
            collecting = gc.isenabled()
            gc.disable()
            try:
                return pickle.load(f)
            finally:
                if collecting:
                    gc.enable()
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError, KeyError):
        return None


def save(engine, cache_dir: str, key: str) -> Path | None:
    """Write the engine atomically; returns the file, or None when the directory is not writable."""
    path = cache_path(cache_dir, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".engine-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + key.encode() + b"\n")
                pickle.dump(engine, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        return None
    _prune(path.parent, keep=path)
    return path


def _prune(directory: Path, keep: Path) -> None:
    try:
        files = sorted(directory.glob("engine-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in [p for p in files if p != keep][_KEEP - 1 :]:
        try:
            old.unlink()
        except OSError:
            pass

"""The compiled-engine cache: save an engine once, load it on the next start instead of rebuilding.

A cache file is named by a key: the SHA-256 of the engine version, the cosmetic component's
name and `cache_version`, and each list's path and bytes. A file whose header does not carry the same key and
version, or that fails to load, is ignored (and replaced by the next save). Saving writes a
temporary file in the same directory and renames it over the target, so a reader never sees a
partial file; only the few newest cache files are kept.

The generic cosmetic index, most of a large engine's objects, is saved beside it in a file of its
own (`generic-KEY.pickle`), so that a proxy whose page workers hold the index need not read it:
`load(..., generic_on_disk=True)` returns the engine with a `StoredIndex` for it instead.

A rule index with a large host table (a hosts file's millions of entries) is saved with its plain
host ids as one string of names and an array of ids (`_compact_index`), not as a pickled dict: the
pickler would memoize every name (hundreds of megabytes) and the file would load slower.

The cosmetic store pickles as its rules' lines and arrays of rule numbers (`filters.cosmetic.rules.RuleTexts`,
`RuleTable`), not as rule objects.

The files are pickles, so the directory must be private to the user (as `~/.cache/dejunk` is).
"""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import os
import pickle
import tempfile
from array import array
from pathlib import Path

from .cosmetic.rules import RuleIndex, StoredIndex, remove_orphans
from .network.index import RuleIndex as NetworkIndex
from .storage import read_pickle

_MAGIC = b"dejunk-engine\n"
_KEEP = 3  # newest cache files kept per directory


def cache_key(files: list[tuple[str, bytes]], engine_version: str, cosmetic_factory=None,
              untrusted: set[str] | frozenset[str] = frozenset()) -> str:
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
        trust = "untrusted" if path in untrusted else "trusted"
        digest.update(f"list {os.path.abspath(path)} {len(data)} {trust}\n".encode())
        digest.update(data)
    return digest.hexdigest()


def cache_path(cache_dir: str, key: str) -> Path:
    return Path(os.path.expanduser(cache_dir)) / f"engine-{key[:40]}.pickle"


def generic_path(cache_dir: str, key: str) -> Path:
    return Path(os.path.expanduser(cache_dir)) / f"generic-{key[:40]}.pickle"


def load(cache_dir: str, key: str, *, generic_on_disk: bool = False):
    """The engine saved under `key`, or None when there is none or it cannot be used.

    With `generic_on_disk`, its cosmetic store's generic index stays in a file of the engine's own
    (a `StoredIndex`, see `filters.cosmetic.rules`) instead of being read into memory.
    """
    path = cache_path(cache_dir, key)
    try:
        with open(path, "rb") as f:
            if f.read(len(_MAGIC)) != _MAGIC or f.readline().rstrip(b"\n") != key.encode():
                return None
            engine = read_pickle(f)
        store = getattr(engine, "cosmetic_store", None)
        saved = getattr(store, "generic", None)
        if isinstance(saved, StoredIndex):
            # Saved apart (see `save`): its file is found beside the engine's, wherever the folder now is.
            stored = StoredIndex(str(generic_path(cache_dir, key)), saved.count, saved.fingerprint)
            if generic_on_disk:
                remove_orphans(str(path.parent))  # links left by dejunk processes that were killed
            generic = stored.private_copy() if generic_on_disk else stored.load()
            engine = engine.with_cosmetic_store(store.with_generic(generic))
        return engine
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError, KeyError):
        return None


def save(engine, cache_dir: str, key: str) -> Path | None:
    """Write the engine atomically; returns the file, or None when the directory is not writable."""
    path = cache_path(cache_dir, key)
    store = getattr(engine, "cosmetic_store", None)
    generic = getattr(store, "generic", None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(generic, RuleIndex) and len(generic):
            _write_atomic(generic_path(cache_dir, key),
                          lambda f: pickle.dump(generic, f, protocol=pickle.HIGHEST_PROTOCOL))
            # Only its size and fingerprint go into the engine's file; `load` names the file.
            placeholder = StoredIndex(generic_path(cache_dir, key).name, len(generic), generic.fingerprint)
            engine = engine.with_cosmetic_store(store.with_generic(placeholder))

        def write_engine(f):
            f.write(_MAGIC + key.encode() + b"\n")
            pickler = pickle.Pickler(f, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.dispatch_table = _DISPATCH
            pickler.dump(engine)

        _write_atomic(path, write_engine)
    except OSError:
        return None
    _prune(path.parent, keep=path)
    return path


_COMPACT_HOSTS = 10_000  # host table entries from which an index is saved in the compact form


def _compact_index(index: NetworkIndex):
    """Pickle a network rule index; one with a large host table keeps its plain host ids as a string and an array."""
    by_host = index.by_host
    if len(by_host) < _COMPACT_HOSTS:
        return index.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    fields = {field.name: getattr(index, field.name) for field in dataclasses.fields(index)}
    plain = [host for host, rids in by_host.items() if rids.__class__ is int]
    ids = array("I", [by_host[host] for host in plain])
    fields["by_host"] = {host: rids for host, rids in by_host.items() if rids.__class__ is not int}
    return _restore_index, (fields, "\n".join(plain), ids)


def _restore_index(fields: dict, plain: str, ids: array) -> NetworkIndex:
    by_host = dict(zip(plain.split("\n"), ids)) if plain else {}
    by_host.update(fields["by_host"])
    fields["by_host"] = by_host
    return NetworkIndex(**fields)


_DISPATCH = copyreg.dispatch_table.copy()
_DISPATCH[NetworkIndex] = _compact_index


def _write_atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".engine-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _prune(directory: Path, keep: Path) -> None:
    try:
        files = sorted(directory.glob("engine-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for old in [p for p in files if p != keep][_KEEP - 1 :]:
        for stale in (old, old.with_name("generic-" + old.name.removeprefix("engine-"))):
            try:
                stale.unlink()
            except OSError:
                pass

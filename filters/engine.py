"""The engine: what the proxy and the scripts ask of the lists. Built once, immutable.

    engine = Engine.from_lists(["easylist.txt", "easyprivacy.txt", "builtin"], cache_dir="~/.cache/dejunk")
    decision = engine.check("https://ads.example.com/b.js", "https://news.example.org/", "script")
    decision.blocked, decision.filter, decision.list, decision.line, decision.exception
    rules = engine.cosmetic("https://news.example.org/story")  # PageRules for the rewriter

An engine holds the lists' network rules (`NetworkEngine`, filters/network/engine.py, which says
how requests are decided) and their cosmetic store (`CosmeticStore`, or another `cosmetic_factory`
taking the `FilterList`s and returning a picklable store). `cosmetic(url)` gives the store's rules
for a page with the network rules' page exceptions (`$elemhide`, `$generichide`, `$document`).

Compiled-engine cache: `Engine.from_lists(paths, cache_dir=DIR)` hashes the lists' bytes (and the
engine version and the cosmetic component's version) into a key, loads `DIR/engine-<key>.pickle`
when it exists and is valid, and otherwise builds the engine and saves it there atomically (see
`filters.cache`). The cache is a pickle: keep the directory private to the user.
"""

from __future__ import annotations

import dataclasses

from collections import Counter
from collections.abc import Callable, Iterable

from .lists.syntax import BadLine, FilterList, decode_list, display_name, parse_list_text, resolve_path
from .network.decision import Decision
from .network.engine import NO_PAGE_EXCEPTIONS, ListSummary, NetworkEngine, PageExceptions
from .request import Request
from .storage import making_long_lived

__all__ = ["DEFAULT_COSMETIC", "ENGINE_VERSION", "Engine", "ListSummary", "NO_PAGE_EXCEPTIONS", "PageExceptions"]

ENGINE_VERSION = "4.7"

DEFAULT_COSMETIC = object()  # "dejunk's own cosmetic store", the default of the constructors


def _cosmetic_factory(factory):
    if factory is DEFAULT_COSMETIC:
        from .cosmetic.rules import CosmeticStore

        return CosmeticStore.from_lists
    return factory


def _read_files(paths: Iterable[str]) -> list[tuple[str, bytes]]:
    """(path, bytes) of each list file (`builtin` resolved); OSError if one is unreadable."""
    files = []
    for spec in paths:
        path = resolve_path(spec)
        with open(path, "rb") as f:
            files.append((path, f.read()))
    return files


class Engine:
    """Network rules and cosmetic store of a set of lists; rebuild it to change the lists."""

    def __init__(self, lists: Iterable[FilterList], *,
                 cosmetic_factory: Callable[[list[FilterList]], object] | None = None):
        lists = list(lists)
        with making_long_lived():
            self._build(lists, cosmetic_factory)
        self._bind()

    def _build(self, lists: list[FilterList], cosmetic_factory) -> None:
        self.network = NetworkEngine(lists)
        self.skipped: Counter = Counter(self.network.skipped)
        self.bad_lines: list[BadLine] = list(self.network.bad_lines)
        # `##^responseheader()` lines: headers to remove from documents (whatever the cosmetic store).
        from .cosmetic.headers import ResponseHeaderRules

        self.response_headers = ResponseHeaderRules.from_lists(lists)
        self.skipped.update(self.response_headers.skipped)
        self.bad_lines.extend(self.response_headers.bad_lines)
        self.cosmetic_store = None
        if cosmetic_factory is not None:
            self.cosmetic_store = cosmetic_factory(lists)
            self.skipped.update(getattr(self.cosmetic_store, "skipped", None) or {})
            self.bad_lines.extend(getattr(self.cosmetic_store, "bad_lines", None) or ())
            in_force = getattr(self.cosmetic_store, "in_force", None)
            if in_force is not None:  # the lists' cosmetic counts become the rules in force, not the lines
                self.network.lists = tuple(
                    dataclasses.replace(summary, cosmetic=in_force.get(summary.name, 0))
                    for summary in self.network.lists
                )
        else:
            headers = len(self.response_headers) + len(self.response_headers.bad_lines)
            cosmetic = sum(len(fl.cosmetic) for fl in lists) - headers
            if cosmetic:
                self.skipped["cosmetic rule (no cosmetic store attached)"] += cosmetic

    cosmetic_off: frozenset[tuple[str, int]] = frozenset()  # (list, line) of cosmetic rules a subset switches off

    def _bind(self) -> None:
        # The network engine's own methods, bound here: a request costs no extra call on its way.
        network = self.network
        self.check_request: Callable[[Request], Decision] = network.check_request
        self.check = network.check
        self.page_exceptions = network.page_exceptions
        self.rule_text = network.rule_text
        self.rule_origin = network.rule_origin

    # --- construction ----------------------------------------------------------------------------

    @classmethod
    def from_lists(
        cls,
        paths: Iterable[str],
        *,
        cache_dir: str | None = None,
        cosmetic_factory: Callable[[list[FilterList]], object] | None | object = DEFAULT_COSMETIC,
        generic_on_disk: bool = False,
        untrusted: Iterable[str] = (),
    ) -> Engine:
        """Build from list files (`builtin` names the list shipped with dejunk). OSError if one is unreadable.

        With `cache_dir`, a compiled engine saved there for the same list contents is loaded
        instead of building, and a newly built one is saved. The cosmetic store is dejunk's
        (`filters.cosmetic.rules.CosmeticStore`) unless another factory, or None for none, is given.
        With `generic_on_disk`, an engine loaded from the cache leaves its generic cosmetic index
        in a file (for page workers to read) instead of reading it. Lists at `untrusted` paths may not
        use trusted-only forms (`FilterList.trusted`).
        """
        from . import cache

        cosmetic_factory = _cosmetic_factory(cosmetic_factory)
        files = _read_files(paths)
        untrusted = {resolve_path(spec) for spec in untrusted}
        key = None
        if cache_dir is not None:
            key = cache.cache_key(files, ENGINE_VERSION, cosmetic_factory, untrusted)
            engine = cache.load(cache_dir, key, generic_on_disk=generic_on_disk)
            if engine is not None:
                return engine
        lists = []
        for position, (path, data) in enumerate(files):
            files[position] = None  # each file's bytes go once read: a hosts file's are tens of megabytes
            text = decode_list(data)
            del data
            lists.append(parse_list_text(text, path=path, name=display_name(path), trusted=path not in untrusted))
            del text
        engine = cls(lists, cosmetic_factory=cosmetic_factory)
        del lists  # a hosts file's names are in the engine's tables now: free them before the cache is written
        if cache_dir is not None:
            cache.save(engine, cache_dir, key)
        return engine

    @classmethod
    def compiled_path(cls, paths: Iterable[str], cache_dir: str, *, untrusted: Iterable[str] = (),
                      cosmetic_factory=DEFAULT_COSMETIC) -> str:
        """The file `from_lists` would load these lists from (or save them to) in `cache_dir`. OSError as it."""
        from . import cache

        key = cache.cache_key(_read_files(paths), ENGINE_VERSION, _cosmetic_factory(cosmetic_factory),
                              {resolve_path(spec) for spec in untrusted})
        return str(cache.cache_path(cache_dir, key))

    @classmethod
    def from_text(cls, text: str, name: str = "inline", *, cosmetic_factory=DEFAULT_COSMETIC) -> Engine:
        """Build from list text, for tests and one-off checks (with dejunk's cosmetic store by default)."""
        return cls([parse_list_text(text, path=name, name=name)], cosmetic_factory=_cosmetic_factory(cosmetic_factory))

    def subset(self, network_off: Iterable[int] = (), cosmetic_off: Iterable[tuple[str, int]] = ()) -> Engine:
        """This engine with some rules switched off: network rules by id (`NetworkEngine.fired`), cosmetic ones
        by (list, line). Shares everything with this engine; for trying subsets (scripts/culprit.py)."""
        other = type(self).__new__(type(self))
        other.__setstate__({**self.__getstate__(), "network": self.network.without(network_off)})
        other.cosmetic_off = frozenset(cosmetic_off)
        return other

    def with_cosmetic_store(self, store) -> Engine:
        """This engine's network rules (shared, not copied) with another cosmetic store."""
        other = type(self).__new__(type(self))
        other.__setstate__({**self.__getstate__(), "cosmetic_store": store})
        return other

    def __getstate__(self) -> dict:
        return {"network": self.network, "cosmetic_store": self.cosmetic_store, "skipped": self.skipped,
                "bad_lines": self.bad_lines, "response_headers": self.response_headers}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._bind()

    # --- queries -----------------------------------------------------------------------------------

    @property
    def lists(self) -> tuple[ListSummary, ...]:
        """What each list contributed, in order."""
        return self.network.lists

    @property
    def rule_count(self) -> int:
        """Network rules in effect (hosts-file entries included)."""
        return self.network.rule_count

    def header_removals(self, url: str) -> tuple:
        """The `HeaderRemoval`s of `##^responseheader()` rules for the document at `url` (none if it is allow-listed)."""
        if not len(self.response_headers):
            return ()
        removals = self.response_headers.removals(url)
        if removals and self.network.page_exceptions(url).document:
            return ()
        return removals

    def cosmetic(self, url: str):
        """The cosmetic store's rules for a page, with the page exceptions of the network rules; None without a store."""
        if self.cosmetic_store is None:
            return None
        exceptions = self.network.page_exceptions(url)
        if self.cosmetic_off:
            return self.cosmetic_store.page_rules(url, elemhide=exceptions.elemhide, generichide=exceptions.generichide,
                                                  specifichide=exceptions.specifichide, without=self.cosmetic_off)
        if exceptions.specifichide:
            return self.cosmetic_store.page_rules(url, elemhide=exceptions.elemhide, generichide=exceptions.generichide,
                                                  specifichide=True)
        return self.cosmetic_store.page_rules(url, elemhide=exceptions.elemhide, generichide=exceptions.generichide)

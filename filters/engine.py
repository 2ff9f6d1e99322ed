"""The filter engine: built once from lists, immutable, answers `check` for each request.

This first engine understands host rules only (`||host^`, `@@||host^`, hosts-file entries);
every other network line is counted as unsupported. Lookups walk the host's suffixes, so a
rule for `doubleclick.net` also catches `ad.doubleclick.net`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from .decision import ALLOWED, Decision
from .lists import BadLine, FilterList, parse_list_text, read_list, resolve_path
from .request import Request

_HOST_RULE = re.compile(r"^(@@)?\|\|([a-z0-9_.-]+)\^$")


@dataclass(frozen=True, slots=True)
class ListSummary:
    """What one list contributed to an engine."""

    name: str
    path: str
    title: str | None
    version: str | None
    network: int
    cosmetic: int
    hosts: int
    skipped: int


class Engine:
    """An immutable set of compiled filters; rebuild it to change the lists."""

    def __init__(self, lists: Iterable[FilterList]):
        self._blocks: dict[str, tuple[str, str, int]] = {}
        self._exceptions: dict[str, tuple[str, str, int]] = {}
        self.skipped: Counter = Counter()
        self.bad_lines: list[BadLine] = []
        summaries = []
        for filter_list in lists:
            self.skipped.update(filter_list.skipped)
            self.bad_lines.extend(filter_list.bad)
            for line_no, host in filter_list.hosts:
                self._blocks.setdefault(host, (f"0.0.0.0 {host}", filter_list.name, line_no))
            for line_no, text in filter_list.network:
                match = _HOST_RULE.match(text.lower())
                if not match:
                    self.skipped["network rule not supported yet"] += 1
                    continue
                table = self._exceptions if match.group(1) else self._blocks
                table.setdefault(match.group(2), (text, filter_list.name, line_no))
            self.skipped["cosmetic rule not supported yet"] += len(filter_list.cosmetic)
            summaries.append(
                ListSummary(
                    name=filter_list.name,
                    path=filter_list.path,
                    title=filter_list.title,
                    version=filter_list.metadata.get("version") or filter_list.metadata.get("last_modified"),
                    network=len(filter_list.network),
                    cosmetic=len(filter_list.cosmetic),
                    hosts=len(filter_list.hosts),
                    skipped=sum(filter_list.skipped.values()),
                )
            )
        self.lists: tuple[ListSummary, ...] = tuple(summaries)

    @classmethod
    def from_lists(cls, paths: Iterable[str]) -> Engine:
        """Build from list files (`builtin` names the list shipped with dejunk). OSError if one is unreadable."""
        return cls(read_list(resolve_path(p)) for p in paths)

    @classmethod
    def from_text(cls, text: str, name: str = "inline") -> Engine:
        """Build from list text, for tests and one-off checks."""
        return cls([parse_list_text(text, path=name, name=name)])

    @property
    def rule_count(self) -> int:
        return len(self._blocks) + len(self._exceptions)

    def check(
        self,
        url: str,
        source_url: str | None = None,
        request_type: str | None = "other",
        method: str = "GET",
    ) -> Decision:
        """Decide whether a request to `url`, made by the page `source_url`, is blocked."""
        return self.check_request(Request.from_strings(url, source_url, request_type, method))

    def check_request(self, request: Request) -> Decision:
        block = _lookup(self._blocks, request.host)
        if block is None:
            return ALLOWED
        exception = _lookup(self._exceptions, request.host)
        if exception is not None:
            return Decision(
                blocked=False,
                filter=block[0],
                list=block[1],
                line=block[2],
                exception=exception[0],
                exception_list=exception[1],
                exception_line=exception[2],
            )
        return Decision(blocked=True, filter=block[0], list=block[1], line=block[2])


def _lookup(table: dict[str, tuple[str, str, int]], host: str):
    while host:
        hit = table.get(host)
        if hit is not None:
            return hit
        dot = host.find(".")
        if dot < 0:
            return None
        host = host[dot + 1 :]
    return None

"""Stand-ins with the contract's methods, for unit tests of the dashboard while nothing else is needed."""

from __future__ import annotations


class MemoryStore:
    """The state store's configuration and statistics methods, in memory (see filters.state.store)."""

    def __init__(self):
        self._allowed: list[str] = []
        self._overrides: dict[str, dict[str, str]] = {}
        self._subscriptions: list[str] = []
        self._version = 0
        self.counted = {"requests": 0, "blocked": 0, "bytes_saved": 0}

    def allowed(self):
        return list(self._allowed)

    def allow(self, site):
        if site in self._allowed:
            return False
        self._allowed.append(site)
        self._version += 1
        return True

    def unallow(self, site):
        if site not in self._allowed:
            return False
        self._allowed.remove(site)
        self._version += 1
        return True

    def overrides(self):
        return {site: dict(values) for site, values in self._overrides.items()}

    def set_override(self, site, policy, value):
        values = self._overrides.setdefault(site, {})
        if value is None:
            values.pop(policy, None)
        else:
            values[policy] = value
        if not values:
            del self._overrides[site]
        self._version += 1

    def subscriptions(self):
        return list(self._subscriptions)

    def add_subscription(self, url):
        if url in self._subscriptions:
            return False
        self._subscriptions.append(url)
        self._version += 1
        return True

    def remove_subscription(self, url):
        if url not in self._subscriptions:
            return False
        self._subscriptions.remove(url)
        self._version += 1
        return True

    def version(self):
        return self._version

    def count(self, requests=0, blocked=0, bytes_saved=0, **_):
        self.counted["requests"] += requests
        self.counted["blocked"] += blocked
        self.counted["bytes_saved"] += bytes_saved

    def totals(self):
        return {**self.counted, "since": "2026-01-01T00:00:00+00:00"}

    def history(self, range="hour"):
        return [{"t": "2026-01-01T00:00:00+00:00", **{k: self.counted[k] for k in ("requests", "blocked")}}]

    def top_blocked_hosts(self, n=10):
        return [["ads.test", self.counted["blocked"]]][:n]

    def top_rules(self, n=10):
        return [["||ads.test^", self.counted["blocked"]]][:n]

    def upstream_errors(self):
        return {}

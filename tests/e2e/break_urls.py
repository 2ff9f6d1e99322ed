"""Test-only mitmproxy addon: changes mitmproxy the way 12.x's `url.unparse` change broke dejunk.

Loaded before dejunk, it makes `Request.pretty_url` raise the TypeError that mitmproxy 12.x's new
`url.unparse` signature raised in dejunk's request hook; dejunk's self-check must stop the start.
"""

from mitmproxy import http


def _broken(self):
    raise TypeError("unparse() missing 1 required positional argument: 'path'")


http.Request.pretty_url = property(_broken)

addons = []

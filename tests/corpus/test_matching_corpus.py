"""adblock-rust's matching corpus: every (filter, request) pair passes the check Brave's own test makes.

`requests/matching-test-requests.json` (see the corpus README) lists requests with the filters that
must match them. As in adblock-rust's `tests/matching.rs`: each filter is loaded alone into an
engine; a blocking filter must block its request; an exception filter is loaded with its blocking
twin (the same rule without `@@`) and must leave the request unblocked with the exception
reported; a `$redirect=` filter must also return a redirect. Requests whose URL is only a scheme
(`http://`) cannot be parsed and are skipped, as there: exactly 9,354 pairs are checked.
"""

from __future__ import annotations

import json

import pytest

from filters import Engine
from filters.network.rules import parse_network_rule
from filters.network.resources import canonical_name

pytestmark = pytest.mark.corpus

EXPECTED_PAIRS = 9354

# adblock-rust's type names as its test maps them: `fetch` is not a type there and becomes `other`
# (dejunk itself reads `fetch` as xmlhttprequest, which is what a browser's fetch() is).
CORPUS_TYPES = {"xhr": "xmlhttprequest", "fetch": "other"}

# Pairs we do not follow, with the reason. Brave's test registers a fake resource for every
# `$redirect=` name; dejunk serves only resources it ships (filters/resources.py), so a rule naming
# another one blocks without a redirect, which is what adblock-rust does when a resource is absent.
# The block itself is still checked for these pairs.
NO_SUCH_RESOURCE = {
    "d3pkae9owd2lcf.cloudfront.net/mb105.js": "old uBO surrogate: not shipped",
}


def _pairs(corpus):
    with open(corpus / "requests" / "matching-test-requests.json", encoding="utf-8") as f:
        requests = json.load(f)
    for request in requests:
        if request["url"] in ("http://", "https://"):
            continue
        for text in request["filters"]:
            yield request, text


def test_every_pair_matches(corpus):
    failures = []
    checked = 0
    for request, text in _pairs(corpus):
        checked += 1
        rule = parse_network_rule(text)  # must parse, as Brave's test asserts
        lines = [text, text[2:]] if rule.exception else [text]
        # The header says Adblock syntax: a lone `_tag.ofs.` line would otherwise read as a host.
        engine = Engine.from_text("[Adblock Plus 2.0]\n" + "\n".join(lines), "pair")
        assert not engine.bad_lines, (text, engine.bad_lines)
        kind = CORPUS_TYPES.get(request["type"], request["type"])
        decision = engine.check(request["url"], request["sourceUrl"], kind)
        if rule.exception:
            ok = not decision.blocked and decision.exception == text
        else:
            ok = decision.blocked and decision.filter == text
            name = rule.redirect
            if ok and name is not None and name.split(":")[0] not in NO_SUCH_RESOURCE:
                ok = decision.redirect is not None and decision.redirect == canonical_name(name.split(":")[0])
        if not ok:
            failures.append((text, request["url"], request["sourceUrl"], kind, decision.describe()))
    assert checked == EXPECTED_PAIRS
    assert failures == []


def test_listed_resources_are_really_missing(corpus):
    """The exceptions above stay honest: once a resource ships, its pairs must be checked again."""
    for name in NO_SUCH_RESOURCE:
        assert canonical_name(name) is None, name
    used = {parse_network_rule(text).redirect for _, text in _pairs(corpus)} - {None}
    assert set(NO_SUCH_RESOURCE) <= {name.split(":")[0] for name in used}

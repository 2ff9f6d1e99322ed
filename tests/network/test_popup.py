"""`$popup` and `$popunder`: rules for new navigations opened from a page, decided as type `popup`.

A proxy cannot see a window open: the proxy asks the engine about a top-level navigation that
comes from another site (see `filters.proxy.flows.popup_view`) as a request of type `popup` whose
source page is the page it came from.
"""

from __future__ import annotations

from filters.engine import Engine
from filters.lists.syntax import read_list
from filters.network.engine import NetworkEngine
from filters.network.rules import POPUP, TYPE_BITS, parse_network_rule

# Lines of uBlock filters (ublock-filters.txt).
POPUNDER = "*$popunder,domain=realgfporn.com"
POPUNDER_3P = "*$popunder,3p,domain=bs.to|burningseries.*"
POPUP_HOST = "||adsession.com^$popup"
POPUP_3P = "*$popup,domain=clik.pw,3p"
POPUP_TO_HOST = "||booking.com^$popunder,domain=viamichelin.*"
POPUP_EXCEPTIONS = ("*$popup,domain=mlwbd.*,3p", "@@/home.php$popup,domain=mlwbd.*")


def engine(*lines: str) -> Engine:
    return Engine.from_text("[Adblock Plus 2.0]\n" + "\n".join(lines), "test.txt")


def test_popunder_parses_as_the_popup_type():
    for text in (POPUNDER, POPUNDER_3P, POPUP_TO_HOST):
        rule = parse_network_rule(text)
        assert rule.mask & POPUP and not rule.mask & TYPE_BITS["document"] and not rule.mask & TYPE_BITS["script"]


def test_popup_rule_blocks_only_popups():
    e = engine(POPUP_HOST)
    popup = e.check("https://adsession.com/x", "https://news.example/", "popup")
    assert popup.blocked and popup.filter == POPUP_HOST and popup.line == 2
    assert not e.check("https://adsession.com/x", "https://news.example/", "document").blocked
    assert not e.check("https://adsession.com/x.js", "https://news.example/", "script").blocked


def test_popunder_with_the_opener_site():
    e = engine(POPUNDER, POPUP_TO_HOST)
    assert e.check("https://ad.example/landing", "https://realgfporn.com/video/1", "popup").blocked
    assert not e.check("https://ad.example/landing", "https://other.example/", "popup").blocked
    assert e.check("https://www.booking.com/?aid=1", "https://www.viamichelin.fr/", "popup").blocked
    assert not e.check("https://www.booking.com/?aid=1", "https://www.other.fr/", "popup").blocked


def test_third_party_popup_from_the_site():
    e = engine(POPUP_3P, POPUNDER_3P)
    assert e.check("https://ads.example/", "https://clik.pw/a", "popup").blocked
    assert not e.check("https://clik.pw/b", "https://clik.pw/a", "popup").blocked  # its own site: first-party
    assert e.check("https://ads.example/", "https://burningseries.ac/", "popup").blocked


def test_popup_exception():
    e = engine(*POPUP_EXCEPTIONS)
    excepted = e.check("https://mlwbd.example/home.php", "https://mlwbd.co/", "popup")
    assert not excepted.blocked and excepted.exception == POPUP_EXCEPTIONS[1]
    assert e.check("https://ads.example/x", "https://mlwbd.co/", "popup").blocked


def test_the_corpus_popunder_lines_are_no_longer_skipped(corpus):
    filter_list = read_list(str(corpus / "lists" / "ublock-filters.txt"))
    network = NetworkEngine([filter_list])
    assert not [reason for reason in network.skipped if "popunder" in reason or "popup" in reason]

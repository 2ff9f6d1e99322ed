"""Cases for json-prune, json-prune-fetch-response, json-prune-xhr-response and the json-edit family."""

import json

from .cases import Case


def _page(script: str) -> str:
    return f"""<!doctype html><html><head><title>t</title></head><body>
<script>window.result = null; {script}</script></body></html>"""


def _parse(data) -> str:
    """A page script that JSON.parse()s `data` and keeps the result, as JSON text, in window.result."""
    return f"window.result = JSON.stringify(JSON.parse({json.dumps(json.dumps(data))}));"


def _dump(data) -> str:
    return json.dumps(data, separators=(",", ":"))


_PLAYER = {"playerResponse": {"adPlacements": [1], "playerAds": [2], "adSlots": [3], "videoDetails": "v"}}
_FEED = {"data": [{"id": 1, "vast_url": "x"}, {"id": 2}]}
_REELS = {"entries": [{"command": {"reelWatchEndpoint": {"adClientParams": {"isAd": True}}}},
                      {"command": {"reelWatchEndpoint": {"video": 1}}}]}
_SERVER = {"a": {"adserverDomain": "ads.example"}, "b": 1}
_FLAGS = {"enabled": True, "force_disabled": False}
_FLAGS_NO_NEEDLE = {"enabled": True}
_MARKETPLACE = {"feed": {"edges": [{"node": {"__typename": "MarketplaceFeedAdStory", "ad": 1}},
                                   {"node": {"__typename": "MarketplaceFeedStory", "item": 2}}]}}
_MARKETPLACE_EDITED = {"feed": {"edges": [{}, {"node": {"__typename": "MarketplaceFeedStory", "item": 2}}]}}
_GRAPHQL = {"data": {"viewer": {"instream_video_ads": [1], "name": "v"}, "scrubber": "s"}}

_FILES = {
    "/api/data.json": ("application/json", _dump({"ads": [1, 2], "content": "c"}).encode()),
    "/api/graphql": ("application/json", _dump(_GRAPHQL).encode()),
    "/graphql/feed": ("application/x-ndjson", (_dump(_MARKETPLACE) + "\n" + _dump({"other": 1}) + "\n").encode()),
    "/player/next": ("application/json", b'{"adPlacements":[1],"video":"v"}'),
}

# fetch() / XMLHttpRequest the URL and keep the body text in window.result.
_FETCH_TEXT = "fetch(URL).then(function (r) { return r.text(); }).then(function (t) { window.result = t; });"
_FETCH_JSON = "fetch(URL).then(function (r) { return r.json(); }).then(function (o) { window.result = JSON.stringify(o); });"
_XHR_TEXT = """var x = new XMLHttpRequest(); x.open('GET', URL);
x.onload = function () { window.result = x.responseText; }; x.send();"""
_XHR_JSON = """var x = new XMLHttpRequest(); x.open('GET', URL); x.responseType = 'json';
x.onload = function () { window.result = JSON.stringify(x.response); }; x.send();"""


def _load(template: str, url: str) -> str:
    return template.replace("URL", json.dumps(url))


CASES = [
    Case(
        id="json-prune-several-paths",
        call="json-prune, playerResponse.adPlacements playerResponse.playerAds playerResponse.adSlots adSlots",
        page=_page(_parse(_PLAYER)),
        probe="window.result",
        expect=_dump({"playerResponse": {"videoDetails": "v"}}),
        control=_dump(_PLAYER),
    ),
    Case(
        id="json-prune-array-items",
        call="json-prune, data.[].vast_url",
        page=_page(_parse(_FEED)),
        probe="window.result",
        expect=_dump({"data": [{"id": 1}, {"id": 2}]}),
        control=_dump(_FEED),
    ),
    Case(
        id="json-prune-remove-array-item",
        call="json-prune, entries.[-].command.reelWatchEndpoint.adClientParams.isAd",
        page=_page(_parse(_REELS)),
        probe="window.result",
        expect=_dump({"entries": [{"command": {"reelWatchEndpoint": {"video": 1}}}]}),
        control=_dump(_REELS),
    ),
    Case(
        id="json-prune-everything-if-needle",
        call="json-prune, *, *.adserverDomain",
        page=_page(_parse(_SERVER)),
        probe="window.result",
        expect="{}",
        control=_dump(_SERVER),
    ),
    Case(
        id="json-prune-needle-missing",
        call="json-prune, enabled, force_disabled",
        page=_page(_parse(_FLAGS) + "window.other = JSON.stringify(JSON.parse('{\"enabled\":true}'));"),
        probe="[window.result, window.other]",
        expect=[_dump({"force_disabled": False}), _dump(_FLAGS_NO_NEEDLE)],
        control=[_dump(_FLAGS), _dump(_FLAGS_NO_NEEDLE)],
    ),
    Case(
        id="json-prune-response-json",
        call="json-prune, ads",
        page=_page(_load(_FETCH_JSON, "/api/data.json")),
        probe="window.result",
        expect=_dump({"content": "c"}),
        control=_dump({"ads": [1, 2], "content": "c"}),
    ),
    Case(
        id="json-prune-fetch-response-props",
        call="json-prune-fetch-response, ads, , propsToMatch, url:/api/",
        page=_page(_load(_FETCH_TEXT, "/api/data.json")),
        probe="window.result",
        expect=_dump({"content": "c"}),
        control=_dump({"ads": [1, 2], "content": "c"}),
    ),
    Case(
        id="json-prune-xhr-response",
        call="json-prune-xhr-response, data.viewer.instream_video_ads data.scrubber, , propsToMatch, /api/graphql",
        page=_page(_load(_XHR_TEXT, "/api/graphql")),
        probe="window.result",
        expect=_dump({"data": {"viewer": {"name": "v"}}}),
        control=_dump(_GRAPHQL),
    ),
    Case(
        id="json-prune-xhr-response-json-type",
        call="json-prune-xhr-response, data.scrubber",
        page=_page(_load(_XHR_JSON, "/api/graphql")),
        probe="window.result",
        expect=_dump({"data": {"viewer": {"instream_video_ads": [1], "name": "v"}}}),
        control=_dump(_GRAPHQL),
    ),
    Case(
        id="json-edit-filter",
        call='json-edit, ..node[?.__typename=="MarketplaceFeedAdStory"]',
        page=_page(_parse(_MARKETPLACE)),
        probe="window.result",
        expect=_dump(_MARKETPLACE_EDITED),
        control=_dump(_MARKETPLACE),
    ),
    Case(
        id="json-edit-xhr-response",
        call="json-edit-xhr-response, .data.viewer.instream_video_ads, propsToMatch, /graphql",
        page=_page(_load(_XHR_TEXT, "/api/graphql")),
        probe="window.result",
        expect=_dump({"data": {"viewer": {"name": "v"}, "scrubber": "s"}}),
        control=_dump(_GRAPHQL),
    ),
    Case(
        id="json-edit-fetch-response",
        call="json-edit-fetch-response, .ads[0]",
        page=_page(_load(_FETCH_TEXT, "/api/data.json")),
        probe="window.result",
        expect=_dump({"ads": [2], "content": "c"}),
        control=_dump({"ads": [1, 2], "content": "c"}),
    ),
    Case(
        id="jsonl-edit-xhr-response",
        call='jsonl-edit-xhr-response, ..node[?.__typename=="MarketplaceFeedAdStory"], propsToMatch, /graphql',
        page=_page(_load(_XHR_TEXT, "/graphql/feed")),
        probe="window.result",
        expect=_dump(_MARKETPLACE_EDITED) + "\n" + _dump({"other": 1}) + "\n",
        control=_dump(_MARKETPLACE) + "\n" + _dump({"other": 1}) + "\n",
    ),
    Case(
        id="trusted-replace-xhr-response",
        call='trusted-replace-xhr-response, "adPlacements", "no_ads", /\\/player\\//',
        page=_page(_load(_XHR_TEXT, "/player/next")),
        probe="window.result",
        expect='{"no_ads":[1],"video":"v"}',
        control='{"adPlacements":[1],"video":"v"}',
        trusted_only=True,
    ),
    Case(
        id="trusted-replace-fetch-response",
        call='trusted-replace-fetch-response, /"adPlacements":\\[(\\d)\\]/, "slots":[$1$1], player',
        page=_page(_load(_FETCH_TEXT, "/player/next")),
        probe="window.result",
        expect='{"slots":[11],"video":"v"}',
        control='{"adPlacements":[1],"video":"v"}',
        trusted_only=True,
    ),
]

for _case in CASES:
    _case.files.update(_FILES)

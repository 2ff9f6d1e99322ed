"""Neutered resources served instead of a blocked request (`$redirect=` / `$redirect-rule=`).

Names and aliases follow uBlock Origin's redirect resources, so rules written for uBO (and ABP's
`$rewrite=abp-resource:` names) find them; the bodies are our own: transparent images, empty
scripts, styles, frames, text and JSON, silent media, empty VAST documents, and script
surrogates that define the API a page expects (so that its code keeps running) without doing
anything: analytics and tag managers, ad-block detectors, Amazon's ad tags, a stand-in for Google's
IMA video ad SDK that has no ads (`google-ima.js`), and scripts that stop popads.net's loader
(`popads.js`) and svonm.com's video ad loader (`hd-main.js`).

    get_resource("noopjs")  -> Resource(name="noop.js", content_type="application/javascript", body=b"...")
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Resource:
    """A response body to serve in place of the original one."""

    name: str
    content_type: str
    body: bytes


def _gif_1x1() -> bytes:
    # GIF89a, 1x1, a two-entry palette with entry 0 transparent, one LZW-coded pixel.
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0)
    palette = b"\x00\x00\x00\xff\xff\xff"
    control = b"\x21\xf9\x04\x01\x00\x00\x00\x00"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + palette + control + image + b"\x3b"


def _png_transparent(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    rows = b"".join(b"\x00" + b"\x00\x00\x00\x00" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _mp3_silence(frames: int) -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, mono, no CRC: 417-byte frames (26 ms each); all-zero
    # side information and main data decode as silence.
    header = b"\xff\xfb\x90\xc4"
    return (header + b"\x00" * (417 - len(header))) * frames


def _mp4_empty(duration_ms: int) -> bytes:
    # An ISO BMFF file with a movie header of the given duration and no tracks: valid, plays nothing.
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    matrix = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
    mvhd = box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, 1000, duration_ms)
        + struct.pack(">IH10x", 0x00010000, 0x0100)
        + matrix
        + b"\x00" * 24
        + struct.pack(">I", 2),
    )
    return ftyp + box(b"moov", mvhd)


_NOOP_JS = b"(function() {\n})();\n"

# Small surrogates: the globals a page's own code calls, as functions that do nothing (and call the
# callbacks it waits for, so that it does not hang).
_GOOGLE_ANALYTICS_JS = b"""(function() {
  'use strict';
  var noop = function() {};
  var tracker = { get: noop, set: noop, send: noop };
  var ga = function() {
    var args = arguments, last = args[args.length - 1];
    if (last && typeof last === 'object' && typeof last.hitCallback === 'function') {
      try { last.hitCallback(); } catch (e) {}
    }
    if (typeof args[0] === 'function') { try { args[0](tracker); } catch (e) {} }
  };
  ga.create = function() { return tracker; };
  ga.getByName = function() { return tracker; };
  ga.getAll = function() { return [tracker]; };
  ga.remove = noop;
  ga.loaded = true;
  var name = window.GoogleAnalyticsObject || 'ga';
  var queue = window[name] && window[name].q;
  window[name] = ga;
  if (Array.isArray(queue)) { queue.forEach(function(args) { ga.apply(null, args); }); }
})();
"""

_GOOGLE_TAG_MANAGER_JS = b"""(function() {
  'use strict';
  var run = function(item) {
    if (item && typeof item === 'object' && typeof item.eventCallback === 'function') {
      try { item.eventCallback(); } catch (e) {}
    }
  };
  var layer = window.dataLayer;
  if (Array.isArray(layer)) {
    layer.forEach(run);
    layer.push = function() { Array.prototype.forEach.call(arguments, run); return 0; };
  }
  window.google_tag_manager = window.google_tag_manager || {};
})();
"""

_ADSBYGOOGLE_JS = b"""(function() {
  'use strict';
  var queue = window.adsbygoogle;
  window.adsbygoogle = { loaded: true, push: function() {} };
  if (Array.isArray(queue)) { queue.length = 0; }
})();
"""

_CHARTBEAT_JS = b"""(function() {
  'use strict';
  var noop = function() {};
  window.pSUPERFLY = { activity: noop, virtualPage: noop };
})();
"""

_FINGERPRINT2_JS = b"""(function() {
  'use strict';
  var Fingerprint2 = function() {};
  Fingerprint2.get = function(options, callback) {
    if (typeof options === 'function') { callback = options; }
    if (typeof callback === 'function') { setTimeout(function() { callback([]); }, 1); }
  };
  Fingerprint2.getPromise = function() { return Promise.resolve([]); };
  Fingerprint2.x64hash128 = function() { return ''; };
  Fingerprint2.prototype.get = function(callback) {
    if (typeof callback === 'function') { setTimeout(function() { callback('', []); }, 1); }
  };
  window.Fingerprint2 = Fingerprint2;
})();
"""

_APSTAG_JS = b"""(function() {
  'use strict';
  var noop = function() {};
  window.apstag = {
    fetchBids: function(config, callback) {
      if (typeof callback === 'function') { callback([]); }
    },
    init: noop, setDisplayBids: noop, targetingKeys: function() { return []; }
  };
})();
"""

# FuckAdBlock / BlockAdBlock / SniffAdBlock: the detector always reports "no ad blocker".
_NOFAB_JS = b"""(function() {
  'use strict';
  var Detector = function() {};
  var self = function() { return this; };
  var later = function(fn) { if (typeof fn === 'function') { setTimeout(fn, 1); } };
  Detector.prototype.check = function() { return true; };
  Detector.prototype.clearEvent = self;
  Detector.prototype.emitEvent = self;
  Detector.prototype.setOption = self;
  Detector.prototype.onDetected = self;
  Detector.prototype.onNotDetected = function(fn) { later(fn); return this; };
  Detector.prototype.on = function(detected, fn) { if (!detected) { later(fn); } return this; };
  var instance = new Detector();
  window.FuckAdBlock = window.BlockAdBlock = window.SniffAdBlock = Detector;
  window.fuckAdBlock = window.blockAdBlock = window.sniffAdBlock = instance;
})();
"""

_AMAZON_ADS_JS = b"""(function() {
  'use strict';
  var noop = function() {};
  var names = [
    'appendScriptTag', 'appendTargetingToAdServerUrl', 'appendTargetingToQueryString',
    'clearTargetingFromGPTAsync', 'doAllTasks', 'doGetAdsAsync', 'doTask', 'detectIframeAndGetURL',
    'getAds', 'getAdsAsync', 'getAdForSlot', 'getAdsCallback', 'getDisplayAds', 'getDisplayAdsAsync',
    'getDisplayAdsCallback', 'getKeys', 'getReferrerURL', 'getScriptSource', 'getTargeting',
    'getTokens', 'getValidMilliseconds', 'getVideoAds', 'getVideoAdsAsync', 'getVideoAdsCallback',
    'handleCallBack', 'hasAds', 'renderAd', 'saveAds', 'setTargeting', 'setTargetingForGPTAsync',
    'setTargetingForGPTSync', 'tryGetAdsAsync', 'updateAds'
  ];
  var amznads = {};
  names.forEach(function(name) { amznads[name] = noop; });
  window.amznads = amznads;
  window.amzn_ads = noop;
})();
"""


# PopAds (popads.net): its loader keeps its state in `window.PopAds` and `window.popns`. Setting
# either throws, which stops the script there; the error is marked, and kept out of the page's
# error reports.
_POPADS_JS = b"""(function() {
  'use strict';
  var marker = 'dejunk: popads.net neutralised ' + Math.random().toString(36).slice(2);
  var stop = function() { throw new ReferenceError(marker); };
  ['PopAds', 'popns'].forEach(function(name) {
    try {
      delete window[name];
      Object.defineProperty(window, name, { configurable: false, get: function() { return undefined; }, set: stop });
    } catch (e) {}
  });
  if (typeof window.addEventListener !== 'function') { return; }
  window.addEventListener('error', function(event) {
    var message = event && (event.message || (event.error && event.error.message));
    if (typeof message === 'string' && message.indexOf(marker) !== -1) { event.preventDefault(); }
  }, true);
})();
"""

# svonm.com's hd-main.js (a video ad loader on German sites): the page's code calls methods of its
# `L` and `J` objects; here every such method exists and does nothing.
_HD_MAIN_JS = b"""(function() {
  'use strict';
  var noop = function() {};
  var stub = {};
  if (typeof Proxy === 'function') {
    stub = new Proxy({}, {
      get: function(target, name) {
        if (typeof name === 'symbol' || name === 'then') { return undefined; }
        return Object.prototype.hasOwnProperty.call(target, name) ? target[name] : noop;
      }
    });
  }
  window.L = window.J = stub;
})();
"""

# A stand-in for Google's IMA SDK (imasdk.googleapis.com/js/sdkloader/ima3.js), the video ad SDK
# players load before their content. It offers the API players call (google.ima.AdDisplayContainer,
# AdsLoader, AdsRequest, AdsManager, the event and error types, the settings) and has no ads to
# show: a request for ads loads an ads manager, and starting it ends the (empty) ad break at once,
# with CONTENT_RESUME_REQUESTED then ALL_ADS_COMPLETED, so that the player goes on to its content.
_GOOGLE_IMA_JS = b"""(function() {
  'use strict';
  if (window.google && window.google.ima && window.google.ima.AdsLoader) { return; }
  var noop = function() {};
  var later = function(fn) { setTimeout(fn, 0); };
  var VERSION = '3.0.0';

  var AdEventType = {
    AD_BREAK_FETCH_ERROR: 'adBreakFetchError', AD_BREAK_READY: 'adBreakReady', AD_BUFFERING: 'adBuffering',
    AD_CAN_PLAY: 'adCanPlay', AD_METADATA: 'adMetadata', AD_PROGRESS: 'adProgress',
    ALL_ADS_COMPLETED: 'allAdsCompleted', CLICK: 'click', COMPLETE: 'complete',
    CONTENT_PAUSE_REQUESTED: 'contentPauseRequested', CONTENT_RESUME_REQUESTED: 'contentResumeRequested',
    DURATION_CHANGE: 'durationChange', FIRST_QUARTILE: 'firstQuartile', IMPRESSION: 'impression',
    INTERACTION: 'interaction', LINEAR_CHANGED: 'linearChanged', LOADED: 'loaded', LOG: 'log',
    MIDPOINT: 'midpoint', PAUSED: 'pause', RESUMED: 'resume', SKIPPABLE_STATE_CHANGED: 'skippableStateChanged',
    SKIPPED: 'skip', STARTED: 'start', THIRD_QUARTILE: 'thirdQuartile', USER_CLOSE: 'userClose',
    VIDEO_CLICKED: 'videoClicked', VIDEO_ICON_CLICKED: 'videoIconClicked', VOLUME_CHANGED: 'volumeChange',
    VOLUME_MUTED: 'mute'
  };
  var ErrorCode = {
    ADS_REQUEST_NETWORK_ERROR: 1012, AUTOPLAY_DISALLOWED: 1205, FAILED_TO_REQUEST_ADS: 1005,
    INVALID_ADX_EXTENSION: 1105, INVALID_ARGUMENTS: 1101, UNKNOWN_AD_RESPONSE: 1010, UNKNOWN_ERROR: 900,
    VAST_ASSET_NOT_FOUND: 1007, VAST_EMPTY_RESPONSE: 1009, VAST_LINEAR_ASSET_MISMATCH: 403,
    VAST_LOAD_TIMEOUT: 301, VAST_MEDIA_LOAD_TIMEOUT: 402, VAST_NO_ADS_AFTER_WRAPPER: 303,
    VAST_TOO_MANY_REDIRECTS: 302, VIDEO_PLAY_ERROR: 400
  };

  // Listeners by event type, called with the listener object (if any) as `this`. An error in one
  // is reported as the page's own, after the others were called.
  function Target() { this.listeners = {}; }
  Target.prototype.addEventListener = function(types, listener, useCapture, listenerObject) {
    if (typeof listener !== 'function') { return; }
    [].concat(types).forEach(function(type) {
      (this.listeners[type] = this.listeners[type] || []).push({ fn: listener, self: listenerObject });
    }, this);
  };
  Target.prototype.removeEventListener = function(types, listener) {
    [].concat(types).forEach(function(type) {
      var list = this.listeners[type] || [];
      this.listeners[type] = list.filter(function(entry) { return entry.fn !== listener; });
    }, this);
  };
  Target.prototype.dispatchEvent = function(event) {
    (this.listeners[event.type] || []).slice().forEach(function(entry) {
      try { entry.fn.call(entry.self, event); } catch (e) { later(function() { throw e; }); }
    });
  };

  function AdError(message, code, type) {
    this.message = message; this.code = code; this.type = type || AdError.Type.AD_LOAD;
  }
  AdError.prototype.getErrorCode = function() { return this.code; };
  AdError.prototype.getVastErrorCode = function() { return this.code; };
  AdError.prototype.getMessage = function() { return this.message; };
  AdError.prototype.getType = function() { return this.type; };
  AdError.prototype.getInnerError = function() { return null; };
  AdError.prototype.toString = function() { return 'AdError ' + this.code + ': ' + this.message; };
  AdError.Type = { AD_LOAD: 'adLoadError', AD_PLAY: 'adPlayError' };
  AdError.ErrorCode = ErrorCode;

  function AdErrorEvent(error, context) { this.type = AdErrorEvent.Type.AD_ERROR; this.error = error; this.context = context; }
  AdErrorEvent.prototype.getError = function() { return this.error; };
  AdErrorEvent.prototype.getUserRequestContext = function() { return this.context === undefined ? null : this.context; };
  AdErrorEvent.Type = { AD_ERROR: 'adError' };

  function AdEvent(type, manager) { this.type = type; this.manager = manager; }
  AdEvent.prototype.getAd = function() { return null; };
  AdEvent.prototype.getAdData = function() { return {}; };
  AdEvent.prototype.getUserRequestContext = function() { return this.manager ? this.manager.context : null; };
  AdEvent.Type = AdEventType;

  function AdsManagerLoadedEvent(manager, context) {
    this.type = AdsManagerLoadedEvent.Type.ADS_MANAGER_LOADED; this.manager = manager; this.context = context;
  }
  AdsManagerLoadedEvent.prototype.getAdsManager = function(contentPlayback, settings) {
    this.manager.contentPlayback = contentPlayback || null;
    if (settings) { this.manager.renderingSettings = settings; }
    return this.manager;
  };
  AdsManagerLoadedEvent.prototype.getUserRequestContext = function() {
    return this.context === undefined ? null : this.context;
  };
  AdsManagerLoadedEvent.Type = { ADS_MANAGER_LOADED: 'adsManagerLoaded' };

  // The ads manager of a request that found no ads: its ad break ends as soon as it starts.
  function AdsManager(context) {
    Target.call(this);
    this.context = context === undefined ? null : context;
    this.volume = 1;
    this.finished = false;
    this.contentPlayback = null;
    this.renderingSettings = null;
  }
  AdsManager.prototype = Object.create(Target.prototype);
  AdsManager.prototype.constructor = AdsManager;
  AdsManager.prototype.finish = function() {
    if (this.finished) { return; }
    this.finished = true;
    this.dispatchEvent(new AdEvent(AdEventType.CONTENT_RESUME_REQUESTED, this));
    this.dispatchEvent(new AdEvent(AdEventType.ALL_ADS_COMPLETED, this));
  };
  AdsManager.prototype.start = function() { var manager = this; later(function() { manager.finish(); }); };
  AdsManager.prototype.init = noop;
  AdsManager.prototype.stop = noop;
  AdsManager.prototype.skip = noop;
  AdsManager.prototype.pause = noop;
  AdsManager.prototype.resume = noop;
  AdsManager.prototype.resize = noop;
  AdsManager.prototype.focus = noop;
  AdsManager.prototype.collapse = noop;
  AdsManager.prototype.expand = noop;
  AdsManager.prototype.clicked = noop;
  AdsManager.prototype.destroy = noop;
  AdsManager.prototype.discardAdBreak = noop;
  AdsManager.prototype.configureAdsManager = noop;
  AdsManager.prototype.setAutoPlayAdBreaks = noop;
  AdsManager.prototype.requestNextAdBreak = noop;
  AdsManager.prototype.updateAdsRenderingSettings = function(settings) { this.renderingSettings = settings; };
  AdsManager.prototype.getAdSkippableState = function() { return false; };
  AdsManager.prototype.getCuePoints = function() { return []; };
  AdsManager.prototype.getCurrentAd = function() { return null; };
  AdsManager.prototype.getRemainingTime = function() { return -1; };
  AdsManager.prototype.getVolume = function() { return this.volume; };
  AdsManager.prototype.setVolume = function(volume) { this.volume = volume; };
  AdsManager.prototype.isCustomClickTrackingUsed = function() { return false; };
  AdsManager.prototype.isCustomPlaybackUsed = function() { return false; };

  function AdDisplayContainer(container, video, clickTrackingElement) {
    this.container = container || null; this.video = video || null; this.clickTrackingElement = clickTrackingElement || null;
  }
  AdDisplayContainer.prototype.initialize = noop;
  AdDisplayContainer.prototype.destroy = noop;

  var SETTINGS = ['AutoPlayAdBreaks', 'CompanionBackfill', 'CookiesEnabled', 'DisableCustomPlaybackForIOS10Plus',
                  'FeatureFlags', 'Locale', 'NumRedirects', 'PlayerType', 'PlayerVersion', 'Ppid', 'SessionId',
                  'VpaidAllowed', 'VpaidMode'];
  function ImaSdkSettings() { this.values = { Locale: 'en', NumRedirects: 4, VpaidMode: 0, AutoPlayAdBreaks: true }; }
  SETTINGS.forEach(function(name) {
    ImaSdkSettings.prototype['set' + name] = function(value) { this.values[name] = value; };
    ImaSdkSettings.prototype['get' + name] = function() { return this.values[name]; };
    ImaSdkSettings.prototype['is' + name] = function() { return !!this.values[name]; };
  });
  ImaSdkSettings.VpaidMode = { DISABLED: 0, ENABLED: 1, INSECURE: 2 };
  ImaSdkSettings.CompanionBackfillMode = { ALWAYS: 'always', ON_MASTER_AD: 'on_master_ad' };

  function AdsLoader(adDisplayContainer) {
    Target.call(this);
    this.adDisplayContainer = adDisplayContainer || null;
    this.settings = new ImaSdkSettings();
    this.managers = [];
  }
  AdsLoader.prototype = Object.create(Target.prototype);
  AdsLoader.prototype.constructor = AdsLoader;
  AdsLoader.prototype.getSettings = function() { return this.settings; };
  AdsLoader.prototype.getVersion = function() { return VERSION; };
  AdsLoader.prototype.requestAds = function(adsRequest, userRequestContext) {
    var loader = this;
    later(function() {
      var manager = new AdsManager(userRequestContext);
      loader.managers.push(manager);
      loader.dispatchEvent(new AdsManagerLoadedEvent(manager, userRequestContext));
    });
  };
  AdsLoader.prototype.contentComplete = function() {
    this.managers.forEach(function(manager) { later(function() { manager.finish(); }); });
  };
  AdsLoader.prototype.destroy = noop;
  AdsLoader.prototype.releaseVideoViews = noop;

  function AdsRequest() {
    this.adTagUrl = ''; this.adsResponse = null; this.forceNonLinearFullSlot = false;
    this.linearAdSlotWidth = 0; this.linearAdSlotHeight = 0; this.nonLinearAdSlotWidth = 0; this.nonLinearAdSlotHeight = 0;
    this.liveStreamPrefetchSeconds = 0; this.vastLoadTimeout = 5000; this.omidAccessModeRules = {};
  }
  AdsRequest.prototype.setAdWillAutoPlay = noop;
  AdsRequest.prototype.setAdWillPlayMuted = noop;
  AdsRequest.prototype.setContinuousPlayback = noop;

  function AdsRenderingSettings() {
    this.autoAlign = true; this.bitrate = -1; this.enablePreloading = false; this.loadVideoTimeout = 8000;
    this.mimeTypes = null; this.playAdsAfterTime = -1; this.restoreCustomPlaybackStateOnAdBreakComplete = false;
    this.uiElements = null; this.useStyledLinearAds = false; this.useStyledNonLinearAds = false;
  }

  function CompanionAdSelectionSettings() {
    this.creativeType = 'All'; this.resourceType = 'All'; this.sizeCriteria = 'SelectExactMatch';
  }
  CompanionAdSelectionSettings.CreativeType = { ALL: 'All', FLASH: 'Flash', IMAGE: 'Image' };
  CompanionAdSelectionSettings.ResourceType = { ALL: 'All', HTML: 'Html', IFRAME: 'IFrame', STATIC: 'Static' };
  CompanionAdSelectionSettings.SizeCriteria = { IGNORE: 'IgnoreSize', SELECT_EXACT_MATCH: 'SelectExactMatch',
                                                SELECT_NEAR_MATCH: 'SelectFluid' };

  var ima = {
    AdDisplayContainer: AdDisplayContainer, AdError: AdError, AdErrorEvent: AdErrorEvent, AdEvent: AdEvent,
    AdsLoader: AdsLoader, AdsManager: AdsManager, AdsManagerLoadedEvent: AdsManagerLoadedEvent,
    AdsRenderingSettings: AdsRenderingSettings, AdsRequest: AdsRequest,
    CompanionAdSelectionSettings: CompanionAdSelectionSettings, ImaSdkSettings: ImaSdkSettings,
    OmidAccessMode: { DOMAIN: 'domain', FULL: 'full', LIMITED: 'limited' },
    OmidVerificationVendor: { GOOGLE: 9, IAS: 2, MOAT: 3, OTHER: 1 },
    UiElements: { AD_ATTRIBUTION: 'adAttribution', COUNTDOWN: 'countdown' },
    ViewMode: { FULLSCREEN: 'fullscreen', NORMAL: 'normal' },
    settings: new ImaSdkSettings(),
    VERSION: VERSION
  };
  window.google = window.google || {};
  window.google.ima = ima;
})();
"""


def _text(value: str) -> bytes:
    return value.encode("utf-8")


# (name, content type, body, aliases)
_DEFINITIONS: tuple[tuple[str, str, bytes, tuple[str, ...]], ...] = (
    ("1x1.gif", "image/gif", _gif_1x1(), ("1x1-transparent.gif", "abp-resource:1x1-transparent-gif")),
    ("2x2.png", "image/png", _png_transparent(2, 2), ("2x2-transparent.png", "abp-resource:2x2-transparent-png")),
    ("3x2.png", "image/png", _png_transparent(3, 2), ("3x2-transparent.png", "abp-resource:3x2-transparent-png")),
    ("32x32.png", "image/png", _png_transparent(32, 32), ("32x32-transparent.png", "abp-resource:32x32-transparent-png")),
    ("noop.js", "application/javascript", _NOOP_JS, ("noopjs", "abp-resource:blank-js")),
    ("noop.css", "text/css", b"", ("noopcss", "abp-resource:blank-css")),
    ("noop.html", "text/html", _text("<!DOCTYPE html>\n<html><head><title></title></head><body></body></html>\n"),
     ("noopframe", "abp-resource:blank-html")),
    ("noop.txt", "text/plain", b"", ("nooptext", "abp-resource:blank-text")),
    ("noop.json", "application/json", b"{}", ("noopjson",)),
    ("empty", "text/plain", b"", ()),
    ("noop-0.1s.mp3", "audio/mpeg", _mp3_silence(4), ("noopmp3-0.1s", "abp-resource:blank-mp3")),
    ("noop-0.5s.mp3", "audio/mpeg", _mp3_silence(19), ("noopmp3-0.5s",)),
    ("noop-1s.mp4", "video/mp4", _mp4_empty(1000), ("noopmp4-1s", "abp-resource:blank-mp4")),
    ("noop-vast2.xml", "application/xml", _text('<?xml version="1.0" encoding="UTF-8"?>\n<VAST version="2.0"></VAST>\n'),
     ("noopvast-2.0",)),
    ("noop-vast3.xml", "application/xml", _text('<?xml version="1.0" encoding="UTF-8"?>\n<VAST version="3.0"></VAST>\n'),
     ("noopvast-3.0",)),
    ("noop-vast4.xml", "application/xml", _text('<?xml version="1.0" encoding="UTF-8"?>\n<VAST version="4.0"></VAST>\n'),
     ("noopvast-4.0",)),
    ("noop-vmap1.xml", "application/xml",
     _text('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0"></vmap:VMAP>\n'),
     ("noopvmap-1.0", "noop-vmap1.0.xml")),
    ("google-analytics_analytics.js", "application/javascript", _GOOGLE_ANALYTICS_JS,
     ("google-analytics.com/analytics.js", "googletagmanager_gtag.js")),
    ("googletagmanager_gtm.js", "application/javascript", _GOOGLE_TAG_MANAGER_JS, ("googletagmanager.com/gtm.js",)),
    ("googlesyndication_adsbygoogle.js", "application/javascript", _ADSBYGOOGLE_JS,
     ("googlesyndication.com/adsbygoogle.js",)),
    ("chartbeat.js", "application/javascript", _CHARTBEAT_JS, ("static.chartbeat.com/chartbeat.js",)),
    ("fingerprint2.js", "application/javascript", _FINGERPRINT2_JS, ()),
    ("amazon_apstag.js", "application/javascript", _APSTAG_JS, ("amazon-adsystem.com/aax2/apstag.js",)),
    ("amazon_ads.js", "application/javascript", _AMAZON_ADS_JS, ("amazon-adsystem.com/aax2/amzn_ads.js",)),
    ("nofab.js", "application/javascript", _NOFAB_JS, ("fuckadblock.js-3.2.0",)),
    ("popads.js", "application/javascript", _POPADS_JS, ("popads.net.js",)),
    ("hd-main.js", "application/javascript", _HD_MAIN_JS, ()),
    ("google-ima.js", "application/javascript", _GOOGLE_IMA_JS, ()),
)  # fmt: skip

RESOURCES: dict[str, Resource] = {name: Resource(name, ctype, body) for name, ctype, body, _ in _DEFINITIONS}
_ALIASES: dict[str, str] = {}
for _name, _ctype, _body, _aliases in _DEFINITIONS:
    _ALIASES[_name] = _name
    for _alias in _aliases:
        _ALIASES[_alias] = _name


def canonical_name(name: str) -> str | None:
    """The resource a name or alias refers to (`noopjs` -> `noop.js`), or None if we have none."""
    return _ALIASES.get(name.strip())


def get_resource(name: str) -> Resource | None:
    """The resource for a uBO name or alias, or None if we do not have it."""
    canonical = canonical_name(name)
    return RESOURCES[canonical] if canonical is not None else None


def names() -> list[str]:
    """Every name and alias a rule can give."""
    return sorted(_ALIASES)

// Network helpers for the fetch, XMLHttpRequest and window.open scriptlets, as `dj.net`. Every
// native used after the page's scripts start is one saved here or in lib.js, before they ran.
dj.net = (function () {
  var win = window;
  var native = dj.native;
  var XHR = win.XMLHttpRequest;
  var xhrProto = XHR && XHR.prototype;
  var saved = {
    fetch: win.fetch,
    Response: win.Response,
    Request: win.Request,
    Promise: win.Promise,
    WeakMap: win.WeakMap,
    Event: win.Event,
    Blob: win.Blob,
    ArrayBuffer: win.ArrayBuffer,
    DOMParser: win.DOMParser,
    dispatchEvent: win.EventTarget.prototype.dispatchEvent,
    objectToString: Object.prototype.toString,
    hasOwn: Object.prototype.hasOwnProperty,
    keys: Object.keys,
    split: String.prototype.split,
    xhrOpen: xhrProto && xhrProto.open,
    xhrSend: xhrProto && xhrProto.send,
    responseClone: win.Response && win.Response.prototype.clone,
    responseText: win.Response && win.Response.prototype.text,
  };

  // dj.matcher for a pattern given with the `g` or `y` flag would keep a lastIndex between calls
  // and answer differently for the same text: those flags mean nothing for a test, so drop them.
  function matcher(pattern, negatable) {
    var text = pattern === undefined ? '' : native.String(pattern);
    var found = /^(!?\/.+\/)([dimsuvgy]*)$/.exec(text);  // only flags: `/api/graphql` is text
    if (found) { text = found[1] + found[2].replace(/[gy]/g, ''); }
    return dj.matcher(text, negatable);
  }

  // uBO's "properties to match": space-separated `name:pattern` pairs; a bare pattern is the URL's.
  // Returns a test of a details object ({url, method, ...}): true when every named property that
  // the object has matches; null when there is nothing to match (the caller decides what that means).
  function propsMatcher(propsToMatch) {
    if (propsToMatch === undefined || propsToMatch === '') { return null; }
    var needles = [];
    var parts = native.apply(saved.split, native.String(propsToMatch), [/\s+/]);
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (part === '') { continue; }
      var colon = part.indexOf(':');
      var name = colon === -1 ? '' : part.slice(0, colon);
      var pattern = colon === -1 ? '' : part.slice(colon + 1);
      // `https://x` is a URL pattern, not a property named "https": names are plain words.
      if (colon === -1 || /[^$\w -]/.test(name)) { name = 'url'; pattern = part; }
      needles.push({ name: name, test: matcher(pattern, true) });
    }
    if (needles.length === 0) { return null; }
    return function (details) {
      var tested = 0;
      for (var j = 0; j < needles.length; j++) {
        var value = details[needles[j].name];
        if (value === undefined) { continue; }
        if (typeof value !== 'string') {
          try { value = native.JSON_stringify(value); } catch (e) { continue; }
          if (typeof value !== 'string') { continue; }
        }
        if (!needles[j].test(value)) { return false; }
        tested += 1;
      }
      return tested !== 0;
    };
  }

  var FETCH_PROPS = ['body', 'cache', 'credentials', 'duplex', 'headers', 'integrity', 'keepalive',
    'method', 'mode', 'priority', 'redirect', 'referrer', 'referrerPolicy', 'signal'];

  // What a fetch() call asks for, as the properties propsMatcher reads.
  function fetchDetails(resource, options) {
    var details = {};
    var isRequest = false;
    try { isRequest = native.apply(saved.objectToString, resource, []) === '[object Request]'; } catch (e) { }
    var copy = function (from) {
      for (var i = 0; i < FETCH_PROPS.length; i++) {
        var value;
        try { value = from[FETCH_PROPS[i]]; } catch (e) { continue; }
        if (value !== undefined) { details[FETCH_PROPS[i]] = value; }
      }
    };
    if (isRequest) {
      copy(resource);
      try { details.url = native.String(resource.url); } catch (e) { }
    } else {
      details.url = native.String(resource);
    }
    if (typeof options === 'object' && options !== null) { copy(options); }
    if (details.method === undefined) { details.method = 'GET'; }
    return details;
  }

  // Small bodies from uBO's resource library that `war:` names in a response directive.
  var RESOURCES = {
    'noop.txt': '',
    'noop.json': '{}',
    'noop.js': '',
    'noop.html': '<!DOCTYPE html>\n',
    'noop-vast2.xml': '<VAST version="2.0"></VAST>',
    'noop-vast3.xml': '<VAST version="3.0"></VAST>',
    'noop-vast4.xml': '<VAST version="4.0"></VAST>',
    'noop-vmap1.xml': '<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0"></vmap:VMAP>',
  };
  RESOURCES['noop-vmap1.0.xml'] = RESOURCES['noop-vmap1.xml'];

  function randomText(length) {
    var chunks = [];
    var size = 0;
    while (size < length) {
      var chunk = native.String(native.random()).slice(2) + ' ';
      chunks.push(chunk);
      size += chunk.length;
    }
    return chunks.join('').slice(0, length);
  }

  // The body a prevented request answers with (uBO's response directives). Only a trusted scriptlet
  // may answer with text of its own; anything else unknown answers ''.
  function content(directive, trusted) {
    directive = directive === undefined ? '' : native.String(directive);
    switch (directive) {
      case '': case 'emptyStr': return '';
      case 'true': return randomText(10);
      case 'emptyObj': return '{}';
      case 'emptyArr': return '[]';
    }
    var length = /^length:(\d+)(?:-(\d+))?$/.exec(directive);
    if (length) {
      var low = native.Number(length[1]);
      var high = length[2] ? native.Number(length[2]) : low;
      if (high < low) { high = low; }
      return randomText(Math.min(500000, Math.floor(low + (high - low) * native.random())));
    }
    if (directive.indexOf('war:') === 0) {
      var name = directive.slice(4);
      return native.apply(saved.hasOwn, RESOURCES, [name]) ? RESOURCES[name] : '';
    }
    return trusted ? directive : '';
  }

  // Replace `owner[name]` (a function) by a proxy whose calls go to `handler(target, thisArg, args)`.
  // A proxy keeps the function's name, length and toString, so pages that check them see a native.
  function trapCall(owner, name, handler) {
    var target = owner && owner[name];
    if (typeof target !== 'function') { return false; }
    var proxy = new native.Proxy(target, {
      apply: function (fn, thisArg, args) { return handler(fn, thisArg, args); },
    });
    try {
      owner[name] = proxy;
    } catch (e) {
      return false;
    }
    return owner[name] === proxy;
  }

  // Calls `wrap(original, xhr)` in place of a getter of XMLHttpRequest.prototype (response,
  // responseText, ...): each scriptlet wraps the getter in place when it starts, so several compose.
  function trapGetter(proto, name, wrap) {
    var descriptor = native.getOwnPropertyDescriptor(proto, name);
    if (!descriptor || typeof descriptor.get !== 'function') { return false; }
    var getter = descriptor.get;
    var replacement = new native.Proxy(getter, {
      apply: function (fn, thisArg, args) {
        var original = native.apply(fn, thisArg, args);
        try { return wrap(original, thisArg); } catch (e) { return original; }
      },
    });
    native.defineProperty(proto, name, {
      configurable: true, enumerable: descriptor.enumerable, get: replacement, set: descriptor.set,
    });
    return true;
  }

  // Remembers, per XMLHttpRequest, what open() was asked (method, url) for those that `accept` says
  // this scriptlet cares about. Returns the map (xhr -> details).
  function watchXhrOpen(accept) {
    var opened = new saved.WeakMap();
    if (!xhrProto) { return opened; }
    trapCall(xhrProto, 'open', function (fn, thisArg, args) {
      var details = { method: native.String(args[0]), url: native.String(args[1]) };
      opened['delete'](thisArg);
      var wanted = false;
      try { wanted = accept(details, args); } catch (e) { }
      if (wanted) { opened.set(thisArg, details); }
      return native.apply(fn, thisArg, args);
    });
    return opened;
  }

  // Rewrites the text body of matching XMLHttpRequest responses once they are complete:
  // `transform(text)` returns the new text or undefined to keep it. `match(details)` picks requests.
  function filterXhrText(match, transform) {
    if (!xhrProto) { return; }
    var opened = watchXhrOpen(match);
    var results = new saved.WeakMap();
    var filtered = function (original, xhr) {
      var details = opened.get(xhr);
      if (details === undefined || typeof original !== 'string' || xhr.readyState !== 4) { return original; }
      var done = results.get(xhr);
      if (done && done.before === original) { return done.after; }
      var after = transform(original, details);
      if (typeof after !== 'string') { after = original; }
      results.set(xhr, { before: original, after: after });
      return after;
    };
    trapGetter(xhrProto, 'responseText', filtered);
    trapGetter(xhrProto, 'response', function (original, xhr) {
      var type = xhr.responseType;
      if (type === '' || type === 'text') { return filtered(original, xhr); }
      if (type === 'json' && opened.get(xhr) !== undefined && xhr.readyState === 4 && original !== null) {
        var done = results.get(xhr);
        if (done && done.before === original) { return done.after; }
        var text = native.JSON_stringify(original);
        var changed = transform(text, opened.get(xhr));
        var after = original;
        if (typeof changed === 'string' && changed !== text) {
          try { after = native.JSON_parse(changed); } catch (e) { after = null; }
        }
        results.set(xhr, { before: original, after: after });
        return after;
      }
      return original;
    });
  }

  // Rewrites the text body of matching fetch() responses: `transform(text, details)` returns the
  // new text or undefined to keep the response as it came.
  // The text filter of one kind of response: 'xhr' (XMLHttpRequest) or 'fetch'.
  function filterText(kind, match, transform) {
    return (kind === 'fetch' ? filterFetchText : filterXhrText)(match, transform);
  }

  // trusted-replace-{xhr,fetch}-response: the text of `kind` responses whose request matches `propsToMatch`
  // (all when empty) has every match of `pattern` (text, or /regex/flags; `*` is the whole text) replaced;
  // `args` are the scriptlet's arguments (pattern, replacement, propsToMatch, then named extras).
  function replaceResponses(kind, args) {
    var pattern = args[0], replacement = args[1], propsToMatch = args[2];
    if (!pattern) { return; }
    var re = replacePattern(pattern);
    var match = propsMatcher(propsToMatch);
    var extra = dj.extraArgs(args, 3);
    var includes = extra.includes ? matcher(extra.includes, false) : null;
    replacement = replacement === undefined ? '' : native.String(replacement);
    filterText(kind, function (details) { return match === null || match(details); }, function (text) {
      if (includes !== null && !includes(text)) { return undefined; }
      re.lastIndex = 0;
      return text.replace(re, replacement);
    });
  }

  function filterFetchText(match, transform) {
    trapCall(win, 'fetch', function (fn, thisArg, args) {
      var promise = native.apply(fn, thisArg, args);
      var details;
      try { details = fetchDetails(args[0], args[1]); } catch (e) { return promise; }
      var wanted = false;
      try { wanted = match(details); } catch (e) { }
      if (!wanted) { return promise; }
      return promise.then(function (before) {
        var copy = native.apply(saved.responseClone, before, []);
        return native.apply(saved.responseText, copy, []).then(function (text) {
          var after;
          try { after = transform(text, details); } catch (e) { after = undefined; }
          if (typeof after !== 'string' || after === text) { return before; }
          return respondLike(before, after);
        }, function () { return before; });
      });
    });
  }

  // A Response with `text` as body and the status, headers, url and type of `before`.
  function respondLike(before, text) {
    var headers;
    try { headers = before.headers; } catch (e) { }
    var after = new saved.Response(text, { status: before.status, statusText: before.statusText, headers: headers });
    try {
      Object.defineProperties(after, {
        ok: { value: before.ok }, redirected: { value: before.redirected },
        type: { value: before.type }, url: { value: before.url },
      });
    } catch (e) { }
    return after;
  }

  function dispatch(target, type) {
    try { native.apply(saved.dispatchEvent, target, [new saved.Event(type)]); } catch (e) { }
  }

  var RESPONSE_TYPES = { basic: 1, cors: 1, 'default': 1, error: 1, opaque: 1 };

  // prevent-fetch and trusted-prevent-fetch: matching fetch() calls never reach the network and
  // resolve to a made-up 200 response with the directive's body (see `content`).
  function preventFetch(trusted, args) {
    var propsToMatch = args[0] || '';
    var responseBody = args[1] || '';
    var responseType = args[2] || '';
    var extra = dj.extraArgs(args, 3);
    var match = propsMatcher(propsToMatch);
    if (match === null) { return; }
    var props = { statusText: 'OK' };
    var headers = {};
    if (/^\{.*\}$/.test(responseType)) {
      var wanted = {};
      try { wanted = native.JSON_parse(responseType); } catch (e) { }
      var allowed = { ok: [false, true], statusText: ['', 'Not Found'], type: saved.keys(RESPONSE_TYPES) };
      for (var name in wanted) {
        if (!native.apply(saved.hasOwn, wanted, [name])) { continue; }
        if (name === 'headers' && trusted && typeof wanted.headers === 'object') { headers = wanted.headers; continue; }
        if (allowed[name] && allowed[name].indexOf(wanted[name]) !== -1) { props[name] = wanted[name]; }
      }
    } else if (native.apply(saved.hasOwn, RESPONSE_TYPES, [responseType])) {
      props.type = responseType;
    }
    var delay = parseInt(extra.throttle, 10);
    trapCall(win, 'fetch', function (fn, thisArg, callArgs) {
      var details;
      try { details = fetchDetails(callArgs[0], callArgs[1]); } catch (e) { return native.apply(fn, thisArg, callArgs); }
      if (!match(details)) { return native.apply(fn, thisArg, callArgs); }
      var text = content(responseBody, trusted);
      var sent = {};
      for (var h in headers) { if (native.apply(saved.hasOwn, headers, [h])) { sent[h] = native.String(headers[h]); } }
      if (sent['content-length'] === undefined) { sent['content-length'] = native.String(text.length); }
      var response = new saved.Response(text, { status: 200, statusText: props.statusText, headers: sent });
      var defined = { url: { value: details.url } };
      if (props.type !== undefined) { defined.type = { value: props.type }; }
      if (props.ok !== undefined) { defined.ok = { value: props.ok }; }
      try { Object.defineProperties(response, defined); } catch (e) { }
      if (delay > 0) {
        return new saved.Promise(function (resolve) { native.setTimeout(function () { resolve(response); }, delay); });
      }
      return saved.Promise.resolve(response);
    });
  }

  // prevent-xhr: a matching XMLHttpRequest is never sent; it goes through its states and events
  // as if the server answered 200 with the directive's body (an empty one of the response type).
  function preventXhr(trusted, args) {
    var propsToMatch = args[0] || '';
    var directive = args[1] || '';
    var match = propsMatcher(propsToMatch);
    if (!xhrProto || (match === null && directive === '')) { return; }
    // Nothing to match but a body to answer with: uBO prevents every request.
    if (match === null) { match = function () { return true; }; }
    var opened = watchXhrOpen(function (details, openArgs) {
      details.async = openArgs.length < 3 || !!openArgs[2];
      return match(details);
    });
    var answered = new saved.WeakMap();
    trapCall(xhrProto, 'send', function (fn, xhr, sendArgs) {
      var details = opened.get(xhr);
      if (details === undefined) { return native.apply(fn, xhr, sendArgs); }
      var body = { response: '', responseText: '', responseXML: null };
      var headers = { 'date': new win.Date().toUTCString(), 'content-type': '', 'content-length': '' };
      switch (xhr.responseType) {
        case 'arraybuffer': body.response = new saved.ArrayBuffer(0); headers['content-type'] = 'application/octet-stream'; break;
        case 'blob': body.response = new saved.Blob([]); headers['content-type'] = 'application/octet-stream'; break;
        case 'document':
          body.response = body.responseXML = new saved.DOMParser().parseFromString('', 'text/html');
          headers['content-type'] = 'text/html';
          break;
        case 'json': body.response = {}; body.responseText = '{}'; headers['content-type'] = 'application/json'; break;
        default:
          if (directive !== '') {
            body.response = body.responseText = content(directive, trusted);
            headers['content-type'] = 'text/plain';
          }
      }
      headers['content-length'] = native.String(typeof body.response === 'string' ? body.response.length : 0);
      answered.set(xhr, headers);
      var state = function (readyState, more) {
        var props = { readyState: { value: readyState, configurable: true } };
        for (var k in more) { if (native.apply(saved.hasOwn, more, [k])) { props[k] = { value: more[k], configurable: true }; } }
        Object.defineProperties(xhr, props);
      };
      if (!details.async) {
        state(4, { responseURL: details.url, status: 200, statusText: 'OK', response: body.response,
          responseText: body.responseText, responseXML: body.responseXML });
        return undefined;
      }
      var steps = [
        function () { state(2, { responseURL: details.url, status: 200, statusText: 'OK' }); dispatch(xhr, 'readystatechange'); },
        function () {
          state(3, { response: body.response, responseText: body.responseText, responseXML: body.responseXML });
          dispatch(xhr, 'readystatechange');
        },
        function () { state(4, {}); dispatch(xhr, 'readystatechange'); dispatch(xhr, 'load'); dispatch(xhr, 'loadend'); },
      ];
      dispatch(xhr, 'loadstart');
      var next = function (i) {
        if (i >= steps.length) { return; }
        steps[i]();
        native.setTimeout(function () { next(i + 1); }, 0);
      };
      native.setTimeout(function () { next(0); }, 1);
      return undefined;
    });
    trapCall(xhrProto, 'getResponseHeader', function (fn, xhr, callArgs) {
      var headers = answered.get(xhr);
      if (headers === undefined) { return native.apply(fn, xhr, callArgs); }
      if (xhr.readyState < 2) { return null; }
      var value = headers[native.String(callArgs[0]).toLowerCase()];
      return value ? value : null;
    });
    trapCall(xhrProto, 'getAllResponseHeaders', function (fn, xhr, callArgs) {
      var headers = answered.get(xhr);
      if (headers === undefined) { return native.apply(fn, xhr, callArgs); }
      if (xhr.readyState < 2) { return ''; }
      var lines = [];
      for (var name in headers) { if (headers[name]) { lines.push(name + ': ' + headers[name]); } }
      return lines.length ? lines.join('\r\n') + '\r\n' : '';
    });
  }

  // The regular expression a replace scriptlet's pattern stands for: `*` the whole text, `/re/flags`
  // as written (always global), anything else the text itself, every occurrence.
  function replacePattern(pattern) {
    if (pattern === '*') { return new native.RegExp('^[\\s\\S]*$'); }
    var re = dj.regexOf(pattern, 'gms');
    var flags = re.flags.indexOf('g') === -1 ? re.flags + 'g' : re.flags;
    return new native.RegExp(re.source, flags);
  }

  return {
    preventFetch: preventFetch, preventXhr: preventXhr, replacePattern: replacePattern, matcher: matcher,
    saved: saved, propsMatcher: propsMatcher, fetchDetails: fetchDetails, content: content,
    trapCall: trapCall, trapGetter: trapGetter, watchXhrOpen: watchXhrOpen,
    filterXhrText: filterXhrText, filterFetchText: filterFetchText, respondLike: respondLike,
    replaceResponses: replaceResponses, filterText: filterText,
    dispatch: dispatch, randomText: randomText,
  };
})();

// DOM helpers for the scriptlets that change elements and text, as `dj.dom`.
dj.dom = (function () {
  var win = window;
  var native = dj.native;
  var saved = {
    MutationObserver: win.MutationObserver,
    querySelectorAll: win.Document.prototype.querySelectorAll,
    elementQuerySelectorAll: win.Element.prototype.querySelectorAll,
    matches: win.Element.prototype.matches,
    getAttribute: win.Element.prototype.getAttribute,
    setAttribute: win.Element.prototype.setAttribute,
    removeAttribute: win.Element.prototype.removeAttribute,
    hasAttribute: win.Element.prototype.hasAttribute,
    observe: win.MutationObserver.prototype.observe,
    disconnect: win.MutationObserver.prototype.disconnect,
    takeRecords: win.MutationObserver.prototype.takeRecords,
    split: String.prototype.split,
  };

  // Elements matching `selector` (under `root`, default the document); [] for a bad selector.
  function query(selector, root) {
    try {
      var found = root && root !== document
        ? native.apply(saved.elementQuerySelectorAll, root, [selector])
        : native.apply(saved.querySelectorAll, document, [selector]);
      return Array.prototype.slice.call(found);
    } catch (e) {
      return [];
    }
  }

  function matches(element, selector) {
    try { return native.apply(saved.matches, element, [selector]); } catch (e) { return false; }
  }

  function validSelector(selector) {
    try { document.createDocumentFragment().querySelector(selector); return true; } catch (e) { return false; }
  }

  // uBO's behaviour tokens (`stay`, `asap`, `complete`, `loading`, `interactive`, `idle`, ...) ->
  // {when, stay}: when the work starts and whether it keeps watching the document afterwards.
  function behaviour(tokens, defaultWhen) {
    var words = native.apply(saved.split, native.String(tokens || ''), [/\s+/]);
    var out = { when: defaultWhen || 'interactive', stay: false, asap: false };
    for (var i = 0; i < words.length; i++) {
      switch (words[i]) {
        case 'stay': out.stay = true; break;
        case 'asap': case 'loading': out.when = 'loading'; out.asap = true; break;
        case 'interactive': case 'end': case '2': out.when = 'interactive'; break;
        case 'complete': case 'idle': case '3': out.when = 'complete'; break;
      }
    }
    return out;
  }

  // Calls `work(addedElements)` after elements were added to the document (or, with
  // `attributes`, those attributes changed), at most once per animation frame or 50 ms: pages
  // that add thousands of nodes do not run it thousands of times. Returns a function that stops it.
  function watch(work, attributes) {
    var pending = null;
    var timer = null;
    var stopped = false;
    var flush = function () {
      timer = null;
      if (stopped || pending === null) { return; }
      var added = pending;
      pending = null;
      try { work(added); } catch (e) { dj.failed('dom', e); }
    };
    var onMutations = function (records) {
      var relevant = false;
      for (var i = 0; i < records.length; i++) {
        var record = records[i];
        if (record.type === 'attributes') { relevant = true; (pending = pending || []).push(record.target); continue; }
        var nodes = record.addedNodes;
        for (var j = 0; j < nodes.length; j++) {
          if (nodes[j].nodeType === 1) { relevant = true; (pending = pending || []).push(nodes[j]); }
        }
      }
      if (!relevant || timer !== null) { return; }
      timer = native.setTimeout(flush, 50);
    };
    var observer = new saved.MutationObserver(onMutations);
    var options = { childList: true, subtree: true };
    if (attributes) { options.attributes = true; options.attributeFilter = attributes; }
    native.apply(saved.observe, observer, [document, options]);
    return function () {
      if (stopped) { return; }
      stopped = true;
      native.apply(saved.disconnect, observer, []);
      if (timer !== null) { native.clearTimeout(timer); timer = null; }
    };
  }

  // Calls `handle(node)` for every node of the document now and for each node the parser or a
  // script adds later, before the parser runs an inline script it added: mutation observers run
  // at the microtask checkpoint the parser performs before it runs a script. Returns a stop function.
  function eachNode(handle) {
    var seen = function (node) { try { handle(node); } catch (e) { dj.failed('dom', e); } };
    var onMutations = function (records) {
      for (var i = 0; i < records.length; i++) {
        var nodes = records[i].addedNodes;
        for (var j = 0; j < nodes.length; j++) { seen(nodes[j]); }
      }
    };
    var observer = new saved.MutationObserver(onMutations);
    native.apply(saved.observe, observer, [document, { childList: true, subtree: true }]);
    if (document.documentElement) {
      var walker = document.createTreeWalker(document.documentElement, 1 | 4);
      var node;
      while ((node = walker.nextNode()) !== null) { seen(node); }
    }
    return function (drain) {
      if (drain) { onMutations(native.apply(saved.takeRecords, observer, [])); }
      native.apply(saved.disconnect, observer, []);
    };
  }

  var ownScript = document.currentScript;

  // remove-node-text and replace-node-text: the text of nodes named `nodeName` (an exact name,
  // any case, or /regex/: `script`, `#text`) that match is replaced, for nodes present now and
  // those the parser adds until the document is parsed (with `stay`, for ever; `quitAfter` ms
  // more). Extra arguments: `includes`/`condition` and `excludes` (patterns the whole text must
  // or must not match), `sedCount` (stop after that many replacements).
  function replaceNodeText(nodeName, pattern, replacement, extra) {
    var nameRe;
    if (/^\/.+\/[a-z]*$/.test(nodeName || '')) {
      nameRe = dj.regexOf(nodeName);
    } else {
      nameRe = new native.RegExp('^' + dj.escapeRegex(nodeName || '') + '$', 'i');
    }
    var patternRe = pattern ? dj.regexOf(pattern, 'gms') : null;
    if (patternRe && !patternRe.global) { patternRe = new native.RegExp(patternRe.source, patternRe.flags + 'g'); }
    var condition = extra.includes || extra.condition;
    var includes = condition ? dj.regexOf(condition, 'ms') : null;
    var excludes = extra.excludes ? dj.regexOf(extra.excludes, 'ms') : null;
    var left = parseInt(extra.sedCount, 10) || 0;
    var done = false;
    var stop = null;
    var handle = function (node) {
      if (done || node === ownScript) { return; }
      if (!nameRe.test(node.nodeName)) {
        // A script's text the parser adds in pieces: look at the whole element again.
        var parent = node.parentNode;
        if (node.nodeType === 3 && parent && parent !== ownScript && nameRe.test(parent.nodeName)) { node = parent; } else { return; }
      }
      var before = node.textContent;
      // lastIndex: a /regex/g argument must not remember the previous node.
      if (includes) { includes.lastIndex = 0; if (!includes.test(before)) { return; } }
      if (excludes) { excludes.lastIndex = 0; if (excludes.test(before)) { return; } }
      var after;
      if (patternRe) {
        patternRe.lastIndex = 0;
        if (!patternRe.test(before)) { return; }
        patternRe.lastIndex = 0;
        after = before.replace(patternRe, replacement || '');
      } else {
        after = replacement || '';
      }
      if (after === before) { return; }
      node.textContent = after;
      if (left > 0 && --left === 0) { done = true; if (stop) { native.setTimeout(function () { stop(false); }, 0); } }
    };
    stop = eachNode(handle);
    if (done) { stop(false); return; }
    if (extra.stay) { return; }
    dj.runAt(function () {
      var quitAfter = parseInt(extra.quitAfter, 10) || 0;
      if (quitAfter > 0) { native.setTimeout(function () { stop(true); }, quitAfter); } else { stop(true); }
    }, 'interactive');
  }

  return {
    ownScript: ownScript, replaceNodeText: replaceNodeText,
    saved: saved, query: query, matches: matches, validSelector: validSelector,
    behaviour: behaviour, watch: watch, eachNode: eachNode,
  };
})();

// The library every scriptlet can use, as `dj`. Natives are kept as the page had them before any
// of its own scripts ran, so that a page replacing them cannot turn a scriptlet against itself.
var dj = (function () {
  var win = window;
  var native = {
    defineProperty: Object.defineProperty,
    getOwnPropertyDescriptor: Object.getOwnPropertyDescriptor,
    getPrototypeOf: Object.getPrototypeOf,
    apply: Reflect.apply,
    construct: Reflect.construct,
    RegExp: win.RegExp,
    Proxy: win.Proxy,
    JSON_parse: JSON.parse,
    JSON_stringify: JSON.stringify,
    random: Math.random,
    setTimeout: win.setTimeout.bind(win),
    clearTimeout: win.clearTimeout.bind(win),
    setInterval: win.setInterval.bind(win),
    Error: win.Error,
    String: win.String,
    Number: win.Number,
    toString: Function.prototype.toString,
    addEventListener: win.EventTarget.prototype.addEventListener,
  };

  // uBO's pattern arguments: '' matches anything, `/re/flags` is a regular expression, anything
  // else is text to find. `!` before a pattern negates it where a scriptlet allows that.
  function escapeRegex(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }

  function regexOf(pattern, defaultFlags) {
    if (pattern === undefined || pattern === '') { return new native.RegExp(''); }
    var match = /^\/(.+)\/([dgimsuvy]*)$/.exec(pattern);
    if (match) {
      try { return new native.RegExp(match[1], match[2] || defaultFlags || ''); } catch (e) { }
    }
    return new native.RegExp(escapeRegex(pattern), defaultFlags || '');
  }

  // A test for text: `matcher(pattern)(text)`; with `negatable`, a leading `!` inverts it.
  function matcher(pattern, negatable) {
    var negate = false;
    pattern = pattern === undefined ? '' : native.String(pattern);
    if (negatable && pattern.charAt(0) === '!') { negate = true; pattern = pattern.slice(1); }
    var re = regexOf(pattern);
    return function (text) { return re.test(native.String(text)) !== negate; };
  }

  // The value a constant argument names (set-constant and friends); `undefined` marks one not allowed.
  var NOT_A_CONSTANT = {};
  function constant(text, trusted) {
    switch (text) {
      case 'undefined': return undefined;
      case 'false': return false;
      case 'true': return true;
      case 'null': return null;
      case "''": case '""': case 'emptyStr': return '';
      case 'emptyArr': case '[]': return [];
      case 'emptyObj': case '{}': return {};
      case 'noopFunc': case '(function(){})': return function () {};
      case 'trueFunc': return function () { return true; };
      case 'falseFunc': return function () { return false; };
      case 'throwFunc': return function () { throw new native.Error(); };
      case 'noopCallbackFunc': return function () { return function () {}; };
      case 'noopThisFunc': return function () { return this; };
      case 'noopPromiseResolve': return function () { return Promise.resolve(); };
      case 'noopPromiseReject': return function () { return Promise.reject(); };
      case 'yes': return 'yes';
      case 'no': return 'no';
      case '-1': return -1;
      case '-0': return -0;
    }
    if (/^\d+$/.test(text)) {
      var number = native.Number(text);
      if (number <= 0x7FFF) { return number; }
    }
    if (trusted) {
      if (/^-?\d+(\.\d+)?$/.test(text)) { return native.Number(text); }
      if (/^\{.*\}$|^\[.*\]$/.test(text) && text.indexOf('"value"') !== -1) {
        try { return native.JSON_parse(text).value; } catch (e) { }
      }
      return text;
    }
    return NOT_A_CONSTANT;
  }

  // Runs `fn` once the document reaches `when` ('loading', 'interactive', 'complete'; uBO's
  // `runAt` also spells them 1, 2, 3 and 'end', 'idle').
  function runAt(fn, when) {
    var order = { '': 1, loading: 1, '1': 1, interactive: 2, end: 2, '2': 2, complete: 3, idle: 3, '3': 3 };
    var wanted = order[when === undefined ? '' : when] || 1;
    var now = { loading: 1, interactive: 2, complete: 3 }[document.readyState] || 1;
    if (now >= wanted) { fn(); return; }
    var listener = function () {
      var state = { loading: 1, interactive: 2, complete: 3 }[document.readyState] || 1;
      if (state < wanted) { return; }
      document.removeEventListener('readystatechange', listener, true);
      fn();
    };
    native.apply(native.addEventListener, document, ['readystatechange', listener, true]);
  }

  // A name for errors thrown on purpose, unlike any the page could expect.
  function token() {
    return native.String(native.random()).slice(2, 10) + native.String(native.random()).slice(2, 10);
  }

  // Named extra arguments after the positional ones: `..., runAt, idle, log, 1` -> {runAt: 'idle', log: '1'}.
  function extraArgs(args, from) {
    var extra = {};
    for (var i = from; i + 1 < args.length; i += 2) { extra[args[i]] = args[i + 1]; }
    return extra;
  }

  function failed(name, error) {
    if (win.__dejunkDebug) { try { console.warn('dejunk scriptlet ' + name + ' failed:', error); } catch (e) { } }
  }

  return {
    native: native, escapeRegex: escapeRegex, regexOf: regexOf, matcher: matcher, constant: constant,
    NOT_A_CONSTANT: NOT_A_CONSTANT, runAt: runAt, token: token, extraArgs: extraArgs, failed: failed,
  };
})();

// Timer scriptlets (prevent-setTimeout and friends, adjust-setTimeout and friends): which calls a
// rule is about, by the callback's text and the delay.
dj.timers = (function () {
  // A delay argument: '' (any), `n` (exactly), `min-max`, `min-`, `-max`; `!` before it inverts.
  function range(text) {
    text = text === undefined ? '' : dj.native.String(text);
    var negate = text.charAt(0) === '!';
    if (negate) { text = text.slice(1); }
    if (text === '') { return { any: true, test: function () { return !negate; } }; }
    var min = 0;
    var max = Infinity;
    var dash = text.indexOf('-');
    if (dash === -1) {
      min = max = parseInt(text, 10) || 0;
    } else {
      if (dash > 0) { min = parseInt(text.slice(0, dash), 10) || 0; }
      if (dash < text.length - 1) { max = parseInt(text.slice(dash + 1), 10); }
      if (max !== max) { max = Infinity; }
    }
    return {
      any: false,
      test: function (delay) {
        var value = dj.native.Number(delay);
        if (value !== value || value < 0) { value = 0; }
        return (value >= min && value <= max) !== negate;
      },
    };
  }

  // A needle for a callback's text; `!` inverts it when `negatable`.
  function needle(text, negatable) {
    text = text === undefined ? '' : dj.native.String(text);
    var negate = negatable && text.charAt(0) === '!';
    if (negate) { text = text.slice(1); }
    var re = dj.regexOf(text);
    return function (callbackText) { return re.test(callbackText) !== negate; };
  }

  var noop = function () {};

  // The call's arguments as an array of our own (no page-replaceable Array methods involved).
  function copy(args) {
    var out = [];
    for (var i = 0; i < args.length; i++) { out[i] = args[i]; }
    return out;
  }

  // setTimeout/setInterval (`name`) calls whose callback text matches `needleText` (`!` inverts) and whose
  // delay is in `delay` get a callback that does nothing; the timer still exists, so the page's clear*
  // and bookkeeping work. With neither argument nothing is prevented (uBO only logs then).
  function prevent(name, needleText, delay) {
    needleText = needleText === undefined ? '' : needleText;
    var delays = range(delay);
    if (needleText === '' && delays.any) { return; }
    var matches = needle(needleText, true);
    dj.chain.wrap(window, name, function (target, thisArg, args) {
      try {
        if (matches(dj.natives.functionText(args[0])) && delays.test(args[1])) {
          args = copy(args);
          args[0] = noop;
        }
      } catch (e) { }
      return dj.native.apply(target, thisArg, args);
    });
  }

  // setTimeout/setInterval (`name`) calls whose callback text matches `needleText` ('' for any) and whose
  // delay is `delay` (default 1000, `*` for any) run with the delay multiplied by `boost` (default 0.05,
  // i.e. 20 times sooner; kept within 0.001 and 50).
  function adjust(name, needleText, delay, boost) {
    var matches = needle(needleText, false);
    var wanted = delay === '*' ? null : parseInt(delay, 10);
    if (wanted !== null && (wanted !== wanted || !isFinite(wanted))) { wanted = 1000; }
    var factor = parseFloat(boost);
    factor = factor === factor && isFinite(factor) ? Math.min(Math.max(factor, 0.001), 50) : 0.05;
    dj.chain.wrap(window, name, function (target, thisArg, args) {
      try {
        var given = dj.native.Number(args[1]);
        if ((wanted === null || given === wanted) && matches(dj.natives.functionText(args[0]))) {
          args = copy(args);
          args[1] = (given === given ? given : 0) * factor;
        }
      } catch (e) { }
      return dj.native.apply(target, thisArg, args);
    });
  }

  return { range: range, needle: needle, noop: noop, copy: copy, prevent: prevent, adjust: adjust };
})();

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

  return { range: range, needle: needle, noop: noop, copy: copy };
})();

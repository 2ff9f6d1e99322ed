/// name prevent-setTimeout
/// alias no-setTimeout-if nostif setTimeout-defuser
/// trusted no
function (needle, delay) {
  // setTimeout calls whose callback text matches `needle` (`!` inverts) and whose delay is in
  // `delay` (`n`, `min-max`, `min-`, `-max`; `!` inverts) get a callback that does nothing; the
  // timer still exists, so the page's clearTimeout and bookkeeping work. With neither argument
  // nothing is prevented (uBO only logs then).
  needle = needle === undefined ? '' : needle;
  var delays = dj.timers.range(delay);
  if (needle === '' && delays.any) { return; }
  var matches = dj.timers.needle(needle, true);
  dj.chain.wrap(window, 'setTimeout', function (target, thisArg, args) {
    try {
      if (matches(dj.natives.functionText(args[0])) && delays.test(args[1])) {
        args = dj.timers.copy(args);
        args[0] = dj.timers.noop;
      }
    } catch (e) { }
    return dj.native.apply(target, thisArg, args);
  });
}
